// Internal to the config library: the value rules the table of settings (config_fields.cpp)
// applies. Each check takes a value as the file, the environment or a flag gives it and
// returns it stored-ready, or throws bad_value saying what is expected. Pure.
#pragma once

#include "daemon/config/backend_kind.hpp"
#include "daemon/config/config_fields.hpp"
#include "daemon/store/series_expiry.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon::detail {

/// sun_path holds 108 bytes including the terminating NUL.
inline constexpr std::size_t max_socket_path = 107;

/// A JSON number (or environment digits) from lo to hi.
std::uint64_t integer(const setting_value& v, std::uint64_t lo, std::uint64_t hi);

/// Any string.
const std::string& text(const setting_value& v);

/// A string among `allowed`; the message lists them in order.
const std::string& one_of(const setting_value& v, const std::vector<std::string_view>& allowed);

/// The names of every backend, in documentation order.
std::vector<std::string_view> backend_choices();

/// A backend name (backend_kind.hpp).
backend_kind backend(const setting_value& v);

/// "0660" or "660": octal permission bits, and back.
unsigned socket_mode(const setting_value& v);
std::string format_mode(unsigned mode);

/// HOST:PORT or [IPv6]:PORT by the shared rules (host_port.hpp); port 0 = any free port.
const std::string& listen_address(const setting_value& v);

/// A Unix socket path of 1 to max_socket_path bytes.
const std::string& socket_path(const setting_value& v);

/// What the Redis backend can connect to (redis_url.hpp); messages never hold the password.
const std::string& redis_url(const setting_value& v);

/// A file path (not a directory), or "" for none.
const std::string& state_path(const setting_value& v);

/// A directory path, or "" for the default (the socket path + ".spool").
const std::string& spool_dir(const setting_value& v);

/// A file path (not a directory), or "" for none.
const std::string& web_config_path(const setting_value& v);

/// A user or group name or number, or "" (syntax only: names are resolved at start-up).
const std::string& principal_name(const setting_value& v);

/// "alice,1001": names or numbers, comma-separated, or "".
const std::string& principal_list(const setting_value& v);

/// "GLOB=OWNER+@GROUP,..." (access_policy.hpp), or "".
const std::string& family_owner_rules(const setting_value& v);

/// The text form NAME=SECONDS,...,*=SECONDS (series_expiry.hpp).
series_ttl_policy series_ttl(const setting_value& v);

/// series_ttl in the file: {"default_s": S, "families": {"name": S}} to its text form; throws
/// bad_member naming the member at fault.
setting_value series_ttl_from_json(const nlohmann::json& v);
/// series_ttl as the file writes it.
nlohmann::ordered_json series_ttl_to_json(const config& c);
/// series_ttl's JSON schema.
nlohmann::ordered_json series_ttl_schema();

} // namespace metricsd::daemon::detail

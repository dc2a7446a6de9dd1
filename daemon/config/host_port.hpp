// HOST:PORT, the one parser for every address a setting names: the HTTP listen address and the
// host part of a redis:// URL. One set of rules: an IPv6 address goes in brackets, the port is
// decimal and in range, and an error says which part is wrong. Pure; start-up only. The host
// is not resolved here: only its shape is checked.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace metricsd::daemon {

/// A parsed HOST:PORT.
struct host_port {
    std::string host; ///< without brackets: "127.0.0.1", "::1", "localhost"; "": any (any_host)
    std::uint16_t port = 0;
    bool bracketed = false; ///< written as [host] (an IPv6 address)
};

/// What a use of HOST:PORT accepts beyond the shared shape rules.
struct host_port_rules {
    /// The port when the text has none; absent: the port is required.
    std::optional<std::uint16_t> default_port;
    /// Lowest accepted port: 0 where it means "any free port" (listening), 1 to connect.
    std::uint16_t min_port = 0;
    /// An empty host or `*` stands for every interface (`:9477`, `*:9477`, as Prometheus
    /// exporters write listen addresses); host_port::host is "" then. Otherwise both are
    /// missing_host errors.
    bool any_host = false;
};

/// Where the HTTP endpoint listens: port required (0 picks a free one), any host allowed.
inline const host_port_rules listen_address_rules{
    .default_port = std::nullopt, .min_port = 0, .any_host = true};

/// Which part of a HOST:PORT text is wrong.
enum class host_port_errc : std::uint8_t {
    missing_port,      ///< no ':' and no default port
    missing_host,      ///< nothing before the ':' (or "[]")
    bad_port,          ///< not a decimal number in min_port..65535 (empty included)
    unbracketed_colon, ///< "::1:80": an IPv6 address without brackets
    unclosed_bracket,  ///< "[::1:80"
    after_bracket,     ///< "[::1]x:80": something other than ":PORT" after ']'
};

/// Thrown by parse_host_port. what() names the part and the rule, e.g.
/// `port '70000' is not a number from 0 to 65535`; code says which rule, part the text at
/// fault, so a caller can phrase the message its own way.
class host_port_error : public std::invalid_argument {
public:
    host_port_error(host_port_errc code, std::string part, const std::string& message)
        : std::invalid_argument(message), code(code), part(std::move(part)) {}
    host_port_errc code;
    std::string part;
};

/// Parse `HOST:PORT`, `[IPv6]:PORT`, and without ":PORT" when `rules` has a default port.
/// Throws host_port_error.
host_port parse_host_port(std::string_view text, const host_port_rules& rules);

} // namespace metricsd::daemon

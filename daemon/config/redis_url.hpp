// Where the Redis backend connects: a parsed `--redis-url`. Pure; parsed once at start-up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace metricsd::daemon {

/// A Redis server address with credentials and database, as a `--redis-url` names it.
struct redis_endpoint {
    enum class transport : std::uint8_t { tcp, unix_socket };
    transport kind = transport::tcp;
    std::string host;                    ///< tcp: name or address; IPv6 without brackets
    std::uint16_t port = 6379;           ///< tcp only
    std::string path;                    ///< unix_socket only: absolute path of the socket
    std::string username;                ///< empty: the default user (`AUTH password`)
    std::optional<std::string> password; ///< absent: no AUTH
    int db = 0;                          ///< SELECT target; 0 needs no SELECT
};

/// Parse one of
///   `redis://[[user]:password@]host[:port][/db][?db=N]`  (host may be `[v6addr]`)
///   `unix:///path/to.sock[?db=N&password=P]`, also `unix://[[user]:password@]/path`
///   `redis+unix://` (same as `unix://`)
/// Userinfo, path and query values are percent-decoded. Defaults: port 6379, db 0.
/// Throws std::invalid_argument naming the offending part (start-up only); the message never
/// contains the password.
redis_endpoint parse_redis_url(std::string_view url);

/// The endpoint as text for logs, with the password replaced by `***`.
std::string describe(const redis_endpoint& e);

} // namespace metricsd::daemon

// Who may read the HTTP endpoint: the exporter-style web config file in force (TLS context,
// basic auth users, extra headers), re-read on SIGHUP and, when it changed, on a new
// connection, as exporter-toolkit does. A file that no longer parses keeps the settings in
// force (logged, counted), so a typo cannot open the endpoint. io_context thread only.
#pragma once

#include "daemon/net/net.hpp"
#include "daemon/web/basic_auth.hpp"
#include "daemon/web/web_config.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace metricsd::daemon {

struct web_guard_stats {
    std::uint64_t unauthorized = 0; ///< 401: no, malformed or wrong credentials
    std::uint64_t throttled = 0;    ///< 401 without a bcrypt check (budget spent)
    std::uint64_t reloads = 0;      ///< the file re-read and applied
    std::uint64_t reload_failures = 0;
    std::uint64_t tls_handshake_failures = 0;
};

class web_guard {
public:
    /// Reads `path` (empty: plain HTTP, no authentication). `healthz_open`: /healthz needs no
    /// credentials. Throws std::runtime_error (start-up) when the file is unusable.
    web_guard(std::string path, bool healthz_open);
    ~web_guard();
    web_guard(const web_guard&) = delete;
    web_guard& operator=(const web_guard&) = delete;

    /// Re-read the file if its size, modification time or inode changed since the last read.
    void reload_if_changed();
    /// Re-read the file now (SIGHUP). Returns false, with the reason logged, when it is unusable.
    bool reload();

    /// The TLS context for a new connection, or null for plain HTTP. A connection keeps its
    /// context across reloads.
    std::shared_ptr<boost::asio::ssl::context> tls_context() const { return tls_; }
    /// Whether a request for `path` ("/metrics") with this Authorization header may be served.
    basic_auth::verdict authorize(std::string_view path, std::string_view authorization);
    /// Adds http_server_config.headers to a response.
    void decorate(http::fields& fields) const;
    void count_handshake_failure() noexcept { ++stats_.tls_handshake_failures; }
    const web_guard_stats& stats() const noexcept { return stats_; }
    const std::string& path() const noexcept { return path_; }

private:
    struct file_id {
        std::int64_t size = -1, mtime_ns = 0, inode = 0;
        bool operator==(const file_id&) const = default;
    };
    /// Read, parse and build everything; throws. Applies only when all of it worked.
    void load();

    std::string path_;
    bool healthz_open_;
    file_id seen_;
    web_settings settings_;
    basic_auth auth_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    web_guard_stats stats_;
};

} // namespace metricsd::daemon

// The HTTP listener: accepts TCP connections and runs one http_session per connection, with a
// connection cap, per-request deadlines, counters, and a close() for graceful shutdown.
#pragma once

#include "daemon/http/http_handler.hpp"
#include "daemon/http/http_session.hpp"
#include "daemon/net/net.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace metricsd::daemon {

class web_guard;

namespace detail {
struct http_server_state; // shared by the server and its coroutines (http_server.cpp)
} // namespace detail

/// Counters of the HTTP endpoint, for self-metrics. A snapshot: copy it, don't hold it.
struct http_stats {
    http_handler_stats handler;             ///< requests by route and code; scrape timing
    std::uint64_t connections_accepted = 0; ///< every accepted socket, rejected ones included
    std::uint64_t connections_rejected = 0; ///< over max_connections: closed at once, unserved
    /// Over max_connections_per_peer (that peer's other connections stay): closed, unserved.
    std::uint64_t connections_rejected_per_peer = 0;
    /// Idle kept-alive connections closed to make room for a new one at max_connections.
    std::uint64_t connections_evicted = 0;
    std::uint64_t connections_open = 0;     ///< sessions alive now
    std::uint64_t accept_errors = 0;        ///< failed accepts (EMFILE, ...): retried, 10 ms..1 s
};

/// Parses a listen address "HOST:PORT". HOST is an IPv4 literal, a bracketed IPv6 literal
/// ("[::1]", "[::]" listens dual-stack), "localhost" (127.0.0.1, without asking a resolver),
/// or empty / "*" (0.0.0.0). PORT is 0..65535; 0 picks an ephemeral port.
/// Throws std::runtime_error naming the text and what is wrong with it.
tcp::endpoint parse_listen_endpoint(std::string_view host_port);

/// "127.0.0.1:9100" or "[::1]:9100".
std::string to_string(const tcp::endpoint& endpoint);

/// The /metrics HTTP server. Listens from construction until close() or destruction.
///
/// Slots: at most max_connections sessions, max_connections_per_peer of them from one IP
/// address. When every slot is taken, a new connection closes the kept-alive connection idle
/// the longest (pollers of /healthz cannot lock a scraper out); only when none is idle is the
/// new one refused. An evicted session ends asynchronously, so the count can briefly exceed
/// the cap by the evictions in progress.
///
/// io_context thread only; not thread-safe. Construct it, call close() and stats(), and
/// destroy it on the thread that runs the io_context (before ioc.run() starts is fine). It
/// must be destroyed before the io_context; its coroutines share its state, so destroying
/// it while sessions are still unwinding is safe.
class http_server {
public:
    /// Binds and listens on `endpoint` (SO_REUSEADDR) and starts the accept loop on `ioc`.
    /// Throws std::system_error ("cannot listen on 127.0.0.1:9100: Address already in use").
    /// `guard`: the web config (TLS, basic auth, headers) each connection is served under;
    /// null: plain HTTP, no authentication.
    http_server(net::io_context& ioc, const tcp::endpoint& endpoint, http_handler handler,
                http_limits limits = {}, std::shared_ptr<web_guard> guard = nullptr);
    /// Same, with the address parsed by parse_listen_endpoint() (which may also throw).
    http_server(net::io_context& ioc, std::string_view host_port, http_handler handler,
                http_limits limits = {}, std::shared_ptr<web_guard> guard = nullptr);
    /// Calls close().
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    /// Stops accepting and closes every open connection; responses being written are cut.
    /// Afterwards the server holds no pending work, so ioc.run() can return. Idempotent.
    void close() noexcept;

    /// The bound address, with the real port when 0 was asked for. Valid after close().
    tcp::endpoint local_endpoint() const noexcept;

    /// A snapshot of the counters.
    http_stats stats() const noexcept;

private:
    std::shared_ptr<detail::http_server_state> state_;
};

} // namespace metricsd::daemon

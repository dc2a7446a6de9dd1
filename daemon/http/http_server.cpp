#include "daemon/http/http_server.hpp"

#include "daemon/config/host_port.hpp"
#include "daemon/http/web_guard.hpp"
#include "daemon/net/tls.hpp"

#include "daemon/net/log_limiter.hpp"
#include "daemon/net/retry_backoff.hpp"
#include "daemon/net/spawn.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <unordered_map>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace metricsd::daemon {

namespace {
using namespace std::chrono_literals;
/// Pauses after failed accepts: out of descriptors, retrying at once only spins.
constexpr auto accept_retry_first = 10ms;
constexpr auto accept_retry_max = 1s;
/// How often a repeating HTTP accept warning may be logged.
constexpr auto log_interval = 10s;
} // namespace

struct detail::http_server_state {
    http_server_state(net::io_context& ioc, http_handler h, http_limits l)
        : acceptor(ioc), retry_timer(ioc), handler(std::move(h)), limits(l) {}

    tcp::acceptor acceptor;
    net::steady_timer retry_timer; ///< pause after a failed accept (EMFILE would spin)
    retry_backoff backoff{accept_retry_first, accept_retry_max}; ///< reset by a success
    log_limiter accept_log{log_interval};
    log_limiter slots_log{log_interval}; ///< refusals and evictions
    http_handler handler;
    http_limits limits;
    session_registry<beast::tcp_stream> sessions;
    session_registry<tls_stream> tls_sessions; ///< during the handshake too
    std::shared_ptr<web_guard> guard;          ///< null: plain HTTP, no authentication
    log_limiter tls_log{log_interval};         ///< failed TLS handshakes
    tcp::endpoint endpoint;
    /// Open sessions per peer address (entries at zero are erased).
    std::unordered_map<std::string, std::size_t> per_peer;
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;
    std::uint64_t rejected_per_peer = 0;
    std::uint64_t evicted = 0;
    std::uint64_t open = 0;
    std::uint64_t accept_errors = 0;
    bool closed = false;
};

namespace {

using state = detail::http_server_state;
using state_ptr = std::shared_ptr<state>;

/// Counts a connection as open for as long as its session coroutine exists. A coroutine
/// parameter, so the count drops even if the frame is destroyed before it ever ran (when the
/// io_context is destroyed with the coroutine still queued).
class connection_slot {
public:
    connection_slot(state_ptr st, std::string peer) : st_(std::move(st)), peer_(std::move(peer)) {
        ++st_->open;
        ++st_->per_peer[peer_];
    }
    connection_slot(connection_slot&& other) noexcept
        : st_(std::move(other.st_)), peer_(std::move(other.peer_)) {}
    connection_slot& operator=(connection_slot&&) = delete;
    ~connection_slot() {
        if (st_) {
            --st_->open;
            const auto it = st_->per_peer.find(peer_);
            if (it != st_->per_peer.end() && --it->second == 0) {
                st_->per_peer.erase(it);
            }
        }
    }
    state& get() const noexcept { return *st_; }

private:
    state_ptr st_;
    std::string peer_;
};

/// Logs a refusal or eviction at most once per interval, with how many were not logged.
void log_slots(state& st, std::string_view what, const std::string& peer) {
    if (const auto suppressed = st.slots_log.admit()) {
        spdlog::warn("http: {} (peer {}; {} rejected at max_connections {}, {} at "
                     "max_connections_per_peer {}, {} idle evicted so far; {} similar events "
                     "not logged)",
                     what, peer, st.rejected, st.limits.max_connections, st.rejected_per_peer,
                     st.limits.max_connections_per_peer, st.evicted, *suppressed);
    }
}

net::awaitable<void> run_session(connection_slot slot, beast::tcp_stream stream) {
    state& st = slot.get();
    co_await http_session(std::move(stream), st.handler, st.limits, &st.sessions);
}

net::awaitable<void> run_tls_session(connection_slot slot, std::shared_ptr<ssl::context> ctx,
                                     tcp::socket socket) {
    state& st = slot.get();
    tls_stream stream(beast::tcp_stream(std::move(socket)), *ctx);
    beast::error_code ec;
    {
        // Registered while it handshakes, so close() and evictions reach it; the session
        // registers the moved stream again.
        const session_registry<tls_stream>::guard handshaking{&st.tls_sessions, stream};
        beast::get_lowest_layer(stream).expires_after(st.limits.request_timeout);
        co_await stream.async_handshake(ssl::stream_base::server,
                                        net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) {
        st.guard->count_handshake_failure();
        if (const auto suppressed = st.tls_log.admit())
            spdlog::warn("http: TLS handshake failed: {}; {} more since the last report",
                         ec.message(), *suppressed);
        co_return;
    }
    co_await http_session(std::move(stream), st.handler, st.limits, &st.tls_sessions);
}

void admit(const state_ptr& st, tcp::socket socket) {
    ++st->accepted;
    beast::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    std::string peer = ec ? std::string("?") : remote.address().to_string();
    const auto cap = st->limits.max_connections_per_peer;
    const auto same_peer = st->per_peer.find(peer);
    if (cap != 0 && same_peer != st->per_peer.end() && same_peer->second >= cap) {
        ++st->rejected_per_peer;
        socket.close(ec);
        log_slots(*st, "connection refused: max_connections_per_peer reached", peer);
        return;
    }
    if (st->open >= st->limits.max_connections) {
        if (st->sessions.close_idlest() || st->tls_sessions.close_idlest()) {
            ++st->evicted;
            log_slots(*st, "every slot taken: closed the idlest kept-alive connection", peer);
        } else {
            ++st->rejected;
            socket.close(ec);
            log_slots(*st, "connection refused: max_connections reached, none idle", peer);
            return;
        }
    }
    const auto executor = socket.get_executor();
    if (st->guard) {
        // As exporter-toolkit: a changed web config applies from the next connection on.
        st->guard->reload_if_changed();
        if (auto ctx = st->guard->tls_context()) {
            spawn_logged(executor,
                         run_tls_session(connection_slot{st, std::move(peer)}, std::move(ctx),
                                         std::move(socket)),
                         "https session");
            return;
        }
    }
    spawn_logged(executor,
                 run_session(connection_slot{st, std::move(peer)},
                             beast::tcp_stream(std::move(socket))),
                 "http session");
}

net::awaitable<void> back_off(state& st, const beast::error_code& ec) {
    ++st.accept_errors;
    if (ec == net::error::connection_aborted) {
        co_return; // the client gave up while queued: nothing wrong on our side
    }
    const auto pause = st.backoff.next();
    if (const auto suppressed = st.accept_log.admit()) {
        spdlog::warn("http: accept failed: {}; retrying in {} ms ({} more failures since the "
                     "last report)",
                     ec.message(), pause.count(), *suppressed);
    }
    st.retry_timer.expires_after(pause);
    beast::error_code ignored; // operation_aborted from close(): the loop sees st.closed
    co_await st.retry_timer.async_wait(net::redirect_error(net::use_awaitable, ignored));
}

net::awaitable<void> accept_loop(state_ptr st) {
    while (!st->closed) {
        beast::error_code ec;
        tcp::socket socket =
            co_await st->acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
        if (st->closed) {
            break; // a socket accepted in the same tick as close() is dropped with it
        }
        if (ec) {
            co_await back_off(*st, ec);
            continue;
        }
        st->backoff.reset();
        admit(st, std::move(socket));
    }
}

void listen_on(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
    beast::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) { // restart while old connections sit in TIME_WAIT
        acceptor.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
        acceptor.set_option(net::ip::v6_only(false), ec); // "[::]" means every address
    }
    if (!ec) {
        acceptor.bind(endpoint, ec);
    }
    if (!ec) {
        acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        throw std::system_error(static_cast<std::error_code>(ec),
                                "cannot listen on " + to_string(endpoint));
    }
}

[[noreturn]] void bad_address(std::string_view text, std::string_view why) {
    throw std::runtime_error("invalid listen address '" + std::string(text) +
                             "': " + std::string(why));
}

/// The shape was checked by parse_host_port (the configuration's rules); this makes it an
/// address. Host names other than localhost are refused: the daemon does not resolve names.
net::ip::address to_address(std::string_view text, const host_port& hp) {
    if (hp.host.empty())
        return net::ip::address_v4::any();
    if (!hp.bracketed && hp.host == "localhost")
        return net::ip::address_v4::loopback();
    beast::error_code ec;
    net::ip::address address = hp.bracketed ? net::ip::address(net::ip::make_address_v6(hp.host, ec))
                                            : net::ip::address(net::ip::make_address_v4(hp.host, ec));
    if (ec) {
        bad_address(text, "host must be an IPv4 address, a bracketed IPv6 address, localhost, "
                          "* or empty");
    }
    return address;
}

} // namespace

tcp::endpoint parse_listen_endpoint(std::string_view text) {
    host_port hp;
    try {
        hp = parse_host_port(text, listen_address_rules);
    } catch (const host_port_error& e) {
        bad_address(text, e.what());
    }
    return {to_address(text, hp), hp.port};
}

std::string to_string(const tcp::endpoint& endpoint) {
    const std::string host = endpoint.address().to_string();
    const std::string port = std::to_string(endpoint.port());
    return endpoint.address().is_v6() ? "[" + host + "]:" + port : host + ":" + port;
}

http_server::http_server(net::io_context& ioc, const tcp::endpoint& endpoint, http_handler handler,
                         http_limits limits, std::shared_ptr<web_guard> guard)
    : state_(std::make_shared<detail::http_server_state>(ioc, std::move(handler), limits)) {
    state_->guard = std::move(guard);
    state_->handler.set_guard(state_->guard.get());
    listen_on(state_->acceptor, endpoint);
    state_->endpoint = state_->acceptor.local_endpoint();
    spawn_logged(ioc, accept_loop(state_), "http accept loop");
    spdlog::info("http: listening on {}", to_string(state_->endpoint));
}

http_server::http_server(net::io_context& ioc, std::string_view host_port, http_handler handler,
                         http_limits limits, std::shared_ptr<web_guard> guard)
    : http_server(ioc, parse_listen_endpoint(host_port), std::move(handler), limits,
                  std::move(guard)) {}

http_server::~http_server() {
    close();
}

void http_server::close() noexcept {
    state& st = *state_;
    if (st.closed) {
        return;
    }
    st.closed = true;
    try {
        beast::error_code ignored;
        st.acceptor.close(ignored);
        st.retry_timer.cancel();
        spdlog::info("http: closing; {} open connections", st.open);
        st.sessions.close_all();
        st.tls_sessions.close_all();
    } catch (const std::exception& e) {
        spdlog::error("http: close failed: {}", e.what()); // bad_alloc at worst
    }
}

tcp::endpoint http_server::local_endpoint() const noexcept {
    return state_->endpoint;
}

http_stats http_server::stats() const noexcept {
    const state& st = *state_;
    http_stats s;
    s.handler = st.handler.stats();
    s.connections_accepted = st.accepted;
    s.connections_rejected = st.rejected;
    s.connections_rejected_per_peer = st.rejected_per_peer;
    s.connections_evicted = st.evicted;
    s.connections_open = st.open;
    s.accept_errors = st.accept_errors;
    return s;
}

} // namespace metricsd::daemon

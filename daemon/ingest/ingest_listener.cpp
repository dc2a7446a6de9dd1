#include "daemon/ingest/ingest_listener.hpp"

#include "daemon/net/retry_backoff.hpp"
#include "daemon/net/spawn.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/protocol/encoder.hpp>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace metricsd::daemon {

namespace {

using namespace std::chrono_literals;

/// How often a repeating ingest warning (failed accepts, refused connections) may be logged.
constexpr auto log_interval = 10s;
/// Pauses after failed accepts: out of descriptors, retrying at once only spins.
constexpr auto accept_retry_first = 10ms;
constexpr auto accept_retry_max = 1s;

/// Refuse to start over a live daemon; clear a socket file left by one that died.
void claim_socket_path(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
        return; // nothing there
    if (!S_ISSOCK(st.st_mode))
        throw std::runtime_error(path + " exists and is not a socket; refusing to replace it");
    net::io_context probe_ctx;
    uds::socket probe(probe_ctx);
    boost::system::error_code ec;
    probe.connect(uds::endpoint(path), ec);
    if (!ec)
        throw std::runtime_error("another daemon is already listening on " + path);
    if (ec != net::error::connection_refused && ec != net::error::not_found)
        throw std::runtime_error("cannot probe " + path + ": " + ec.message());
    ::unlink(path.c_str());
    spdlog::info("removed stale socket file {}", path);
}

void add(ingest_stats& into, const ingest_stats& s) {
    into.bytes += s.bytes;
    into.frames += s.frames;
    into.ops_applied += s.ops_applied;
    into.ops_rejected += s.ops_rejected;
    into.ops_dropped += s.ops_dropped;
    into.syncs += s.syncs;
    for (std::size_t i = 0; i < into.errors.size(); ++i)
        into.errors[i] += s.errors[i];
}

} // namespace

/// A live connection, reachable from close() through sessions_. Lives in the session coroutine.
struct ingest_listener::session {
    uds::socket& sock;
    ingest_handler& handler;
};

/// Keeps a session in sessions_ exactly as long as it lives: however the session coroutine
/// ends (return, exception, destruction of its frame), the session leaves the set and its
/// counts join the closed totals, so stats() and close() never reach a dead session.
class ingest_listener::registration {
public:
    registration(ingest_listener& listener, session& s)
        : listener_(listener), session_(s), alive_(listener.alive_) {
        listener_.sessions_.insert(&session_);
    }
    ~registration() {
        if (alive_.expired())
            return;
        listener_.sessions_.erase(&session_);
        add(listener_.totals_.closed, session_.handler.stats());
    }
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;

private:
    ingest_listener& listener_;
    session& session_;
    std::weak_ptr<const bool> alive_;
};

ingest_listener::ingest_listener(net::io_context& ioc, store& s, ingest_options options)
    : ioc_(ioc), store_(s), options_(std::move(options)), acceptor_(ioc), retry_timer_(ioc),
      accept_log_(log_interval), reject_log_(log_interval), failure_log_(log_interval) {
    if (options_.activated_fd >= 0) {
        boost::system::error_code ec;
        acceptor_.assign(uds(), options_.activated_fd, ec);
        if (ec)
            throw std::runtime_error("cannot adopt the activated ingest socket: " + ec.message());
        options_.socket_path = acceptor_.local_endpoint(ec).path();
        spdlog::info("using the ingest socket {} passed by systemd", options_.socket_path);
        return;
    }
    claim_socket_path(options_.socket_path);
    const uds::endpoint ep(options_.socket_path);
    acceptor_.open(ep.protocol());
    boost::system::error_code ec;
    acceptor_.bind(ep, ec);
    if (ec)
        throw std::runtime_error("cannot bind " + options_.socket_path + ": " + ec.message());
    socket_file_owned_ = true;
    if (::chmod(options_.socket_path.c_str(), options_.socket_mode) != 0)
        throw std::runtime_error("cannot chmod " + options_.socket_path + ": " +
                                 std::strerror(errno));
    acceptor_.listen(net::socket_base::max_listen_connections);
}

ingest_listener::~ingest_listener() {
    if (socket_file_owned_)
        ::unlink(options_.socket_path.c_str());
}

void ingest_listener::start() {
    spawn_logged(ioc_, accept_loop(), "ingest accept loop");
}

ingest_stats ingest_listener::stats() const {
    ingest_stats total = totals_.closed;
    for (const auto* s : sessions_)
        add(total, s->handler.stats());
    return total;
}

net::awaitable<void> ingest_listener::accept_loop() {
    retry_backoff backoff(accept_retry_first, accept_retry_max);
    while (!closing_) {
        boost::system::error_code ec;
        uds::socket sock =
            co_await acceptor_.async_accept(net::redirect_error(net::use_awaitable, ec));
        if (closing_ || ec == net::error::operation_aborted)
            break;
        if (ec) {
            // Out of descriptors (EMFILE/ENFILE) accept fails at once, again and again, while
            // the connection stays queued: retrying without a pause spins a core and floods
            // the log. Keep serving the connections we have and retry after a growing pause.
            ++totals_.accept_errors;
            if (ec == net::error::connection_aborted)
                continue; // the client gave up while queued: nothing wrong on our side
            const auto pause = backoff.next();
            if (const auto suppressed = accept_log_.admit())
                spdlog::warn("ingest accept failed: {}; retrying in {} ms ({} more failures since "
                             "the last report)",
                             ec.message(), pause.count(), *suppressed);
            retry_timer_.expires_after(pause);
            boost::system::error_code ignored; // operation_aborted from close(): closing_ is set
            co_await retry_timer_.async_wait(net::redirect_error(net::use_awaitable, ignored));
            continue;
        }
        backoff.reset();
        ++totals_.connections_total;
        spawn_logged(ioc_, run_session(std::move(sock)), "ingest session");
    }
}

net::awaitable<void> ingest_listener::run_session(uds::socket sock) {
    ucred cred{};
    socklen_t len = sizeof cred;
    // The kernel's word for who is on the other end, not the client's (DESIGN principle 2).
    if (::getsockopt(sock.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        cred.pid = 0;
    if (sessions_.size() >= options_.max_connections) {
        ++totals_.connections_rejected;
        if (const auto suppressed = reject_log_.admit())
            spdlog::warn("ingest connection from pid {} refused: connection limit reached ({}); "
                         "{} more refused since the last report",
                         cred.pid, options_.max_connections, *suppressed);
        // Named locals for the co_await: g++ 12 miscompiles temporaries in one (STYLE.md).
        const auto code = protocol::error_code::too_many_connections;
        std::string message =
            "connection limit reached (" + std::to_string(options_.max_connections) + ")";
        co_await refuse(sock, code, std::move(message));
        co_return;
    }
    // An exception out of the session (std::bad_alloc from a buffer or the store, or any
    // other) ends this connection only. serve()'s locals are gone by the time it reaches
    // here, so the session is already unregistered; the client gets ERROR internal and EOF.
    // A co_await may not stand in a handler, hence the flag.
    bool failed = false;
    bool out_of_memory = false;
    try {
        co_await serve(sock, cred.pid);
    } catch (const std::bad_alloc&) {
        failed = true;
        out_of_memory = true;
    } catch (const std::exception& e) {
        failed = true;
        if (const auto suppressed = failure_log_.admit())
            spdlog::error("ingest connection from pid {} failed: {}; {} more failed sessions "
                          "since the last report",
                          cred.pid, e.what(), *suppressed);
    }
    if (!failed)
        co_return;
    ++totals_.sessions_failed;
    if (out_of_memory) {
        if (const auto suppressed = failure_log_.admit())
            spdlog::error("ingest connection from pid {} failed: out of memory; {} more failed "
                          "sessions since the last report",
                          cred.pid, *suppressed);
    }
    const auto code = protocol::error_code::internal;
    std::string message = out_of_memory ? "out of memory" : "internal error";
    co_await refuse(sock, code, std::move(message));
}

net::awaitable<void> ingest_listener::refuse(uds::socket& sock, protocol::error_code code,
                                             std::string message) {
    // Counted as an ERROR frame sent, like the ones a handler sends.
    ++totals_.closed.errors[static_cast<std::size_t>(code) & 127];
    std::string frame;
    try {
        protocol::encode(frame,
                         protocol::error{code, protocol::no_handle, protocol::no_frame, message});
    } catch (const std::bad_alloc&) {
        co_return; // nothing to say it with: EOF is all the client gets
    }
    boost::system::error_code ec;
    co_await net::async_write(sock, net::buffer(frame),
                              net::redirect_error(net::use_awaitable, ec));
    sock.close(ec);
}

net::awaitable<void> ingest_listener::serve(uds::socket& sock, std::int64_t pid) {
    ingest_handler handler(store_, pid, options_.limits);
    session self{sock, handler};
    const registration registered(*this, self);
    spdlog::debug("ingest connection from pid {}", pid);
    boost::system::error_code ec;
    for (bool open = true; open && !closing_;) {
        auto buf = handler.prepare(options_.read_size);
        const std::size_t n = co_await sock.async_read_some(
            net::buffer(buf.data(), buf.size()), net::redirect_error(net::use_awaitable, ec));
        if (ec)
            break;
        handler.commit(n);
        if (options_.before_process)
            options_.before_process();
        open = handler.process();
        if (!handler.output().empty()) {
            // Waiting here applies backpressure to this client only: one that never reads its
            // ACKs stalls itself, not the daemon.
            co_await net::async_write(sock, net::buffer(handler.output()),
                                      net::redirect_error(net::use_awaitable, ec));
            handler.output().clear();
            if (ec)
                break;
        }
    }
    if (closing_)
        drain(self);
    spdlog::debug("ingest connection from pid {} closed", pid);
}

void ingest_listener::drain(session& s) {
    // Shutdown: apply what the client already wrote (it is in our receive buffer), answer its
    // SYNCs, then close. Non-blocking both ways so one stuck client cannot hold up exit.
    boost::system::error_code ec;
    s.sock.non_blocking(true, ec);
    for (;;) {
        auto buf = s.handler.prepare(options_.read_size);
        const std::size_t n = s.sock.read_some(net::buffer(buf.data(), buf.size()), ec);
        if (ec || n == 0)
            break;
        s.handler.commit(n);
        if (!s.handler.process())
            break;
    }
    s.handler.send_error(protocol::error_code::shutting_down, "metricsd is shutting down");
    auto& out = s.handler.output();
    std::size_t sent = 0;
    while (sent < out.size()) {
        const std::size_t n =
            s.sock.write_some(net::buffer(out.data() + sent, out.size() - sent), ec);
        if (ec)
            break;
        sent += n;
    }
    out.clear();
    s.sock.close(ec);
}

void ingest_listener::close() {
    if (closing_)
        return;
    closing_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    retry_timer_.cancel();
    if (socket_file_owned_) {
        ::unlink(options_.socket_path.c_str());
        socket_file_owned_ = false;
    }
    // Wake every session out of its pending read; each drains itself (see drain()).
    for (auto* s : sessions_)
        s->sock.cancel(ec);
}

} // namespace metricsd::daemon

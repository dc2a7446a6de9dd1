#include "daemon/ingest/ingest_listener.hpp"

#include "daemon/net/spawn.hpp"
#include "daemon/store/store.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace metricsd::daemon {

namespace {

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

ingest_listener::ingest_listener(net::io_context& ioc, store& s, ingest_options options)
    : ioc_(ioc), store_(s), options_(std::move(options)), acceptor_(ioc) {
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
    while (!closing_) {
        boost::system::error_code ec;
        uds::socket sock =
            co_await acceptor_.async_accept(net::redirect_error(net::use_awaitable, ec));
        if (ec) {
            if (closing_ || ec == net::error::operation_aborted)
                break;
            spdlog::warn("ingest accept failed: {}", ec.message());
            continue; // e.g. EMFILE: keep serving the connections we have
        }
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
    ingest_handler handler(store_, cred.pid, options_.limits);
    if (sessions_.size() >= options_.max_connections) {
        ++totals_.connections_rejected;
        handler.send_error(protocol::error_code::too_many_connections,
                           "connection limit reached (" + std::to_string(options_.max_connections) +
                               ")");
        boost::system::error_code ec;
        co_await net::async_write(sock, net::buffer(handler.output()),
                                  net::redirect_error(net::use_awaitable, ec));
        co_return;
    }
    session self{sock, handler};
    sessions_.insert(&self);
    spdlog::debug("ingest connection from pid {} uid {}", cred.pid, cred.uid);
    boost::system::error_code ec;
    for (bool open = true; open && !closing_;) {
        auto buf = handler.prepare(options_.read_size);
        const std::size_t n = co_await sock.async_read_some(
            net::buffer(buf.data(), buf.size()), net::redirect_error(net::use_awaitable, ec));
        if (ec)
            break;
        handler.commit(n);
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
    sessions_.erase(&self);
    add(totals_.closed, handler.stats());
    spdlog::debug("ingest connection from pid {} closed", cred.pid);
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
    if (socket_file_owned_) {
        ::unlink(options_.socket_path.c_str());
        socket_file_owned_ = false;
    }
    // Wake every session out of its pending read; each drains itself (see drain()).
    for (auto* s : sessions_)
        s->sock.cancel(ec);
}

} // namespace metricsd::daemon

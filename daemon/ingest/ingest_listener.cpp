#include "daemon/ingest/ingest_listener.hpp"

#include "daemon/net/retry_backoff.hpp"
#include "daemon/net/spawn.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/protocol/encoder.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
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
    into.client_dropped_ops += s.client_dropped_ops;
    for (std::size_t i = 0; i < into.errors.size(); ++i)
        into.errors[i] += s.errors[i];
}

/// Best effort, never waits: a client that does not read must not hold up its own closing.
void write_final(uds::socket& sock, std::string& out) {
    boost::system::error_code ec;
    sock.non_blocking(true, ec);
    std::size_t sent = 0;
    while (sent < out.size()) {
        const std::size_t n = sock.write_some(net::buffer(out.data() + sent, out.size() - sent), ec);
        if (ec)
            break;
        sent += n;
    }
    out.clear();
    sock.close(ec);
}

/// The kernel's word for who is on the other end (DESIGN principle 2), never the client's:
/// uid, gid and pid at connect (SO_PEERCRED), and the supplementary groups (SO_PEERGROUPS).
peer_identity read_peer(int fd) {
    peer_identity peer;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        // Unknown: nobody's uid, so an allow-list refuses it rather than take it for root.
        peer.uid = peer.gid = static_cast<std::uint32_t>(-1);
        return peer;
    }
    peer.pid = cred.pid;
    peer.uid = cred.uid;
    peer.gid = cred.gid;
    std::vector<gid_t> groups(32);
    for (int attempt = 0; attempt < 2; ++attempt) {
        socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) == 0) {
            groups.resize(bytes / sizeof(gid_t));
            peer.groups.assign(groups.begin(), groups.end());
            break;
        }
        if (errno != ERANGE)
            break; // no supplementary groups known: uid and primary gid still decide
        groups.resize(bytes / sizeof(gid_t) + 1);
    }
    return peer;
}

constexpr std::size_t memory_limit_index =
    static_cast<std::size_t>(protocol::error_code::connection_memory_limit);

/// Pending output above this is freed once sent: one burst of ERRORs or ACKs must not pin
/// its peak for the connection's life.
constexpr std::size_t kept_output_capacity = 64 * 1024;

} // namespace

/// A live connection, reachable from close() through sessions_. Lives in the session coroutine.
struct ingest_listener::session {
    using clock = std::chrono::steady_clock;
    session(uds::socket& so, ingest_handler& h, std::int64_t p) : sock(so), handler(h), pid(p) {}
    uds::socket& sock;
    ingest_handler& handler;
    std::int64_t pid;
    clock::time_point last_active = clock::now(); ///< accepted, then each read
    bool handshaken = false;
    bool ending = false; ///< asked to end by the listener (timeout, eviction, memory)
    bool waiting = false; ///< in async_wait for input: its buffer may be freed meanwhile
    protocol::error_code end_code = protocol::error_code::internal;
    std::string end_message;
    std::size_t accounted = 0; ///< bytes counted in connection_bytes_
};

/// Keeps a session in sessions_ exactly as long as it lives: however the session coroutine
/// ends (return, exception, destruction of its frame), the session leaves the set, its counts
/// join the closed totals and its bytes leave the memory accounting, so stats() and close()
/// never reach a dead session.
class ingest_listener::registration {
public:
    registration(ingest_listener& listener, session& s)
        : listener_(listener), session_(s), alive_(listener.alive_) {
        listener_.sessions_.insert(&session_);
        ++listener_.pending_;
    }
    ~registration() {
        if (alive_.expired())
            return;
        listener_.sessions_.erase(&session_);
        if (session_.ending)
            --listener_.ending_;
        else if (!session_.handshaken)
            --listener_.pending_;
        listener_.connection_bytes_ -= session_.accounted;
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
      sweep_timer_(ioc), accept_log_(log_interval), reject_log_(log_interval),
      failure_log_(log_interval), timeout_log_(log_interval), memory_log_(log_interval),
      budget_log_(log_interval),
      peer_log_(log_interval) {
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
    secure_socket_file();
    acceptor_.listen(net::socket_base::max_listen_connections);
}

void ingest_listener::secure_socket_file() const {
    const auto& path = options_.socket_path;
    const uid_t owner = options_.socket_owner ? *options_.socket_owner : static_cast<uid_t>(-1);
    const gid_t group = options_.socket_group ? *options_.socket_group : static_cast<gid_t>(-1);
    if ((options_.socket_owner || options_.socket_group) && ::lchown(path.c_str(), owner, group) != 0)
        throw std::runtime_error("cannot give " + path + " owner " +
                                 (options_.socket_owner ? std::to_string(owner) : "(unchanged)") +
                                 " and group " +
                                 (options_.socket_group ? std::to_string(group) : "(unchanged)") +
                                 ": " + std::strerror(errno));
    // Read back what the file really is: the mode is who may write, so a umask, a filesystem
    // that ignores modes or a chown that did not stick must stop the start, not widen access.
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
        throw std::runtime_error("cannot stat " + path + ": " + std::strerror(errno));
    const unsigned mode = st.st_mode & 07777;
    const uid_t want_owner = options_.socket_owner ? owner : ::geteuid();
    const gid_t want_group = options_.socket_group ? group : st.st_gid; // default: as created
    if (mode != options_.socket_mode || st.st_uid != want_owner || st.st_gid != want_group)
        throw std::runtime_error(fmt::format(
            "{} is mode {:04o}, owner {}, group {}; expected mode {:04o}, owner {}, group {}",
            path, mode, st.st_uid, st.st_gid, options_.socket_mode, want_owner, want_group));
    spdlog::info("ingest socket {}: mode {:04o}, owner {}, group {}", path, mode, st.st_uid,
                 st.st_gid);
}

ingest_listener::~ingest_listener() {
    store_.remove_erase_hook(this);
    if (socket_file_owned_)
        ::unlink(options_.socket_path.c_str());
}

void ingest_listener::start() {
    // Here, not in the constructor: a constructor that throws would leave the hook behind.
    if (options_.access.max_series_per_uid != 0)
        store_.add_erase_hook(this, [this](const series& s) noexcept { usage_.forget_series(&s); });
    spawn_logged(ioc_, accept_loop(), "ingest accept loop");
    spawn_logged(ioc_, sweep_loop(), "ingest handshake deadlines");
}

ingest_stats ingest_listener::stats() const {
    ingest_stats total = totals_.closed;
    for (const auto* s : sessions_)
        add(total, s->handler.stats());
    return total;
}

std::vector<std::pair<std::int64_t, std::uint64_t>> ingest_listener::client_dropped_ops() const {
    std::vector<std::pair<std::int64_t, std::uint64_t>> by_pid;
    for (const auto* s : sessions_)
        if (const std::uint64_t n = s->handler.stats().client_dropped_ops; n != 0)
            by_pid.emplace_back(s->pid, n);
    // One process should use one connection, but nothing stops it from opening two: their
    // counts add up under its pid, so no label set is exported twice.
    std::sort(by_pid.begin(), by_pid.end());
    std::vector<std::pair<std::int64_t, std::uint64_t>> merged;
    for (const auto& [pid, n] : by_pid) {
        if (!merged.empty() && merged.back().first == pid)
            merged.back().second += n;
        else
            merged.emplace_back(pid, n);
    }
    return merged;
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
    const peer_identity peer = read_peer(sock.native_handle());
    if (!options_.access.admits(peer)) {
        // Before make_room: a refused peer must not evict anyone from a slot.
        ++totals_.connections_refused_peer;
        if (const auto suppressed = peer_log_.admit())
            spdlog::warn("ingest connection from pid {} (uid {}, gid {}) refused: not on the "
                         "allow-list; {} more refused since the last report",
                         peer.pid, peer.uid, peer.gid, *suppressed);
        const auto code = protocol::error_code::peer_not_allowed;
        std::string message = "uid " + std::to_string(peer.uid) + " (gid " +
                              std::to_string(peer.gid) +
                              ") may not write to this daemon: not on its allow-list";
        co_await refuse(sock, code, std::move(message));
        co_return;
    }
    if (!make_room(peer.pid)) {
        ++totals_.connections_rejected;
        if (const auto suppressed = reject_log_.admit())
            spdlog::warn("ingest connection from pid {} refused: connection limit reached ({}); "
                         "{} more refused since the last report",
                         peer.pid, options_.max_connections, *suppressed);
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
        co_await serve(sock, peer);
    } catch (const std::bad_alloc&) {
        failed = true;
        out_of_memory = true;
    } catch (const std::exception& e) {
        failed = true;
        if (const auto suppressed = failure_log_.admit())
            spdlog::error("ingest connection from pid {} failed: {}; {} more failed sessions "
                          "since the last report",
                          peer.pid, e.what(), *suppressed);
    }
    if (!failed)
        co_return;
    ++totals_.sessions_failed;
    if (out_of_memory) {
        if (const auto suppressed = failure_log_.admit())
            spdlog::error("ingest connection from pid {} failed: out of memory; {} more failed "
                          "sessions since the last report",
                          peer.pid, *suppressed);
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

bool ingest_listener::make_room(std::int64_t pid) {
    const auto now = session::clock::now();
    // Half-open connections first: past their own cap the oldest goes, whatever the total, so
    // a flood of them only ever churns among themselves while real clients get in.
    if (pending_ >= options_.max_pending_connections) {
        session* oldest = nullptr;
        for (auto* s : sessions_)
            if (!s->handshaken && !s->ending && (!oldest || s->last_active < oldest->last_active))
                oldest = s;
        if (oldest) {
            if (const auto suppressed = reject_log_.admit())
                spdlog::warn("ingest connection from pid {} closed before its handshake: {} "
                             "connections await the handshake (the limit); {} more refused "
                             "since the last report",
                             oldest->pid, pending_, *suppressed);
            end(*oldest, protocol::error_code::too_many_connections,
                "too many connections awaiting the handshake (" +
                    std::to_string(options_.max_pending_connections) + ")");
        }
    }
    if (sessions_.size() - ending_ < options_.max_connections)
        return true;
    if (options_.idle_timeout.count() == 0)
        return false;
    session* idlest = nullptr;
    for (auto* s : sessions_)
        if (s->handshaken && !s->ending && (!idlest || s->last_active < idlest->last_active))
            idlest = s;
    if (!idlest || now - idlest->last_active < options_.idle_timeout)
        return false;
    const auto idle_s =
        std::chrono::duration_cast<std::chrono::seconds>(now - idlest->last_active).count();
    if (const auto suppressed = timeout_log_.admit())
        spdlog::warn("ingest connection from pid {} closed after {} s idle: pid {} needs its "
                     "slot at the connection limit ({}); {} more timeouts since the last report",
                     idlest->pid, idle_s, pid, options_.max_connections, *suppressed);
    end(*idlest, protocol::error_code::idle_timeout,
        "idle for " + std::to_string(idle_s) + " s while the daemon is at its connection limit");
    return true;
}

void ingest_listener::end(session& s, protocol::error_code code, std::string message) {
    if (s.ending)
        return;
    if (!s.handshaken)
        --pending_;
    s.ending = true;
    ++ending_;
    s.end_code = code;
    s.end_message = std::move(message);
    boost::system::error_code ec;
    s.sock.cancel(ec); // wakes the session out of its read or write; it sends the ERROR
}

void ingest_listener::mark_handshaken(session& s) {
    s.handshaken = true;
    if (!s.ending)
        --pending_;
}

bool ingest_listener::account(session& s, std::size_t input_bytes) {
    const std::size_t bytes = s.handler.memory_bytes() - s.handler.input_capacity() + input_bytes;
    connection_bytes_ = connection_bytes_ - s.accounted + bytes;
    s.accounted = bytes;
    const std::size_t own_limit = options_.limits.max_connection_bytes;
    if (bytes <= own_limit && connection_bytes_ <= options_.max_ingest_bytes)
        return true;
    const bool own = bytes > own_limit;
    log_memory_refusal(s, own ? bytes : connection_bytes_,
                       own ? own_limit : options_.max_ingest_bytes, own);
    end(s, protocol::error_code::connection_memory_limit,
        own ? "this connection would hold " + std::to_string(bytes) +
                  " bytes (input, output, handles); the limit is " + std::to_string(own_limit)
            : "ingest connections would hold " + std::to_string(connection_bytes_) +
                  " bytes; the limit is " + std::to_string(options_.max_ingest_bytes));
    return false;
}

void ingest_listener::log_memory_refusal(const session& s, std::size_t bytes, std::size_t limit,
                                         bool own) {
    if (const auto suppressed = memory_log_.admit())
        spdlog::warn("ingest connection from pid {} refused: it would hold {} bytes, over the {} "
                     "limit of {} bytes; {} more refused since the last report",
                     s.pid, bytes, own ? "per-connection" : "all-connections", limit,
                     *suppressed);
}

void ingest_listener::log_budget_refusals(const session& s, std::uint64_t refused) {
    // A client retrying in a loop costs one line per interval; every refusal counts, so the
    // next line says how many were not logged.
    if (const auto suppressed = budget_log_.admit())
        spdlog::warn("ingest connection from pid {}: new series refused, the store's byte budget "
                     "is spent ({} of {} bytes, max_store_bytes); existing series keep working; "
                     "{} more refused since the last report",
                     s.pid, store_.bytes(), store_.limits().max_store_bytes, *suppressed);
    for (std::uint64_t i = 1; i < refused; ++i)
        budget_log_.admit();
}

net::awaitable<void> ingest_listener::sweep_loop() {
    using namespace std::chrono;
    // A quarter of the handshake timeout between checks (a half-open connection lives at most
    // 1.25 x), at most a second (an idle connection's buffer is freed within two).
    const auto tick = std::clamp<milliseconds>(options_.handshake_timeout / 4, 10ms, 1s);
    while (!closing_) {
        sweep_timer_.expires_after(tick);
        boost::system::error_code ec;
        co_await sweep_timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (closing_)
            break;
        const auto now = session::clock::now();
        const auto deadline = now - options_.handshake_timeout;
        for (auto* s : sessions_) {
            if (s->waiting && s->handler.input_capacity() != 0 && now - s->last_active >= tick) {
                // Idle for a tick: an idle connection holds no input buffer.
                s->handler.release_input();
                account(*s, 0);
            }
            if (s->handshaken || s->ending || s->last_active > deadline)
                continue;
            if (const auto suppressed = timeout_log_.admit())
                spdlog::warn("ingest connection from pid {} closed: no handshake within {} ms "
                             "({} bytes received); {} more timeouts since the last report",
                             s->pid, options_.handshake_timeout.count(), s->handler.stats().bytes,
                             *suppressed);
            end(*s, protocol::error_code::handshake_timeout,
                "no handshake within " + std::to_string(options_.handshake_timeout.count()) +
                    " ms");
        }
    }
}


net::awaitable<void> ingest_listener::serve(uds::socket& sock, const peer_identity& peer) {
    const std::int64_t pid = peer.pid;
    ingest_handler handler(store_, pid, options_.limits);
    handler.set_access(options_.access, peer, usage_);
    session self{sock, handler, pid};
    const registration registered(*this, self);
    spdlog::debug("ingest connection from pid {} (uid {}, gid {})", pid, peer.uid, peer.gid);
    boost::system::error_code ec;
    std::size_t read_size = options_.min_read_size;
    // Reads grow for throughput, but only to a quarter of the connection's budget: a small
    // budget must refuse large frames and many handles, not the read size it picked itself.
    const std::size_t max_read = std::max(
        options_.min_read_size, std::min(options_.read_size, options_.limits.max_connection_bytes / 4));
    bool drained = true; // nothing read yet: wait for the first bytes without a buffer
    for (bool open = true; open && !closing_ && !self.ending;) {
        if (drained && handler.buffered_input() == 0) {
            // The last read emptied the socket and every frame was applied: wait for input
            // without a read in flight, so no buffer is bound to the wait and sweep_loop can
            // free it once the connection has been idle for a tick (freeing it at every wait
            // would cost a busy connection an allocation, often fresh pages, per read).
            self.waiting = true;
            co_await sock.async_wait(uds::socket::wait_read,
                                     net::redirect_error(net::use_awaitable, ec));
            self.waiting = false;
            if (ec || closing_ || self.ending)
                break;
        }
        // A frame still arriving needs exactly its remaining bytes (the buffer then holds it
        // once, ~1x its size); otherwise read as much as the adaptive size says.
        const std::size_t remaining = handler.frame_remaining();
        const std::size_t want = remaining != 0 ? remaining : read_size;
        const std::size_t input =
            std::max(handler.input_capacity(), handler.buffered_input() + want);
        if (!account(self, input))
            break;
        auto buf = handler.prepare(want);
        const std::size_t n = co_await sock.async_read_some(
            net::buffer(buf.data(), buf.size()), net::redirect_error(net::use_awaitable, ec));
        if (ec)
            break;
        self.last_active = session::clock::now();
        // A short read emptied the socket; a full one means more is waiting: read more at once.
        drained = n < buf.size();
        if (!drained)
            read_size = std::min(read_size * 2, max_read);
        handler.commit(n);
        if (options_.before_process)
            options_.before_process();
        const auto memory_refusals = handler.stats().errors[memory_limit_index];
        const auto budget_refusals = store_.budget_refusals();
        open = handler.process();
        if (store_.budget_refusals() != budget_refusals)
            log_budget_refusals(self, store_.budget_refusals() - budget_refusals);
        if (!self.handshaken && handler.handshake_done())
            mark_handshaken(self);
        if (handler.stats().errors[memory_limit_index] != memory_refusals)
            log_memory_refusal(self, handler.memory_bytes(), options_.limits.max_connection_bytes,
                               true);
        auto& out = handler.output();
        if (!out.empty()) {
            // Waiting here applies backpressure to this client only: one that never reads its
            // ACKs stalls itself, not the daemon.
            co_await net::async_write(sock, net::buffer(out),
                                      net::redirect_error(net::use_awaitable, ec));
            out.clear();
            if (out.capacity() > kept_output_capacity)
                std::string().swap(out);
            if (ec)
                break;
        }
        if (open && !account(self, handler.input_capacity()))
            break;
    }
    if (closing_) {
        drain(self);
    } else if (self.ending) {
        handler.send_error(self.end_code, self.end_message);
        write_final(sock, handler.output());
    }
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
    write_final(s.sock, s.handler.output());
}

void ingest_listener::close() {
    if (closing_)
        return;
    closing_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    retry_timer_.cancel();
    sweep_timer_.cancel();
    if (socket_file_owned_) {
        ::unlink(options_.socket_path.c_str());
        socket_file_owned_ = false;
    }
    // Wake every session out of its pending read; each drains itself (see drain()).
    for (auto* s : sessions_)
        s->sock.cancel(ec);
}

} // namespace metricsd::daemon

// The Unix-domain ingest socket: accept loop, per-connection sessions, graceful drain.
#pragma once

#include "daemon/access/access_policy.hpp"
#include "daemon/ingest/ingest_handler.hpp"
#include "daemon/net/log_limiter.hpp"
#include "daemon/net/net.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace metricsd::daemon {

class store;

struct ingest_options {
    std::string socket_path = "/run/metricsd/ingest.sock";
    unsigned socket_mode = 0660;        ///< permissions of the socket file
    /// Owner and group the socket file is given (chown) and checked for at start; unset: the
    /// daemon's own.
    std::optional<std::uint32_t> socket_owner;
    std::optional<std::uint32_t> socket_group;
    std::size_t max_connections = 1024; ///< beyond it: ERROR too_many_connections, close
    /// Connections that have not completed the handshake. Beyond it the oldest of them is
    /// closed (too_many_connections), so half-open connections cannot fill the slots while a
    /// real client, which sends its handshake with connect, still gets in at once.
    std::size_t max_pending_connections = 64;
    /// A connection that has not completed the handshake by then is closed (handshake_timeout).
    std::chrono::milliseconds handshake_timeout{10'000};
    /// A handshaken connection silent this long may be closed (idle_timeout), but only when a
    /// new connection needs its slot at max_connections: real workers are often quiet for
    /// minutes, and closing one makes its live* gauge contributions vanish. 0: never.
    std::chrono::seconds idle_timeout{300};
    /// Heap bytes all connections together may hold (each as limits.max_connection_bytes
    /// counts it, as of its last read); the connection whose growth passes it is refused with
    /// connection_memory_limit.
    std::size_t max_ingest_bytes = 128u << 20;
    /// Socket reads start at min_read_size and double while reads fill the buffer, up to
    /// read_size (amortises syscalls under load). An idle connection holds no input buffer.
    std::size_t min_read_size = 4 * 1024;
    std::size_t read_size = 256 * 1024;
    /// A listening Unix socket passed by systemd socket activation (LISTEN_FDS), or -1. When
    /// set, the daemon adopts it instead of binding socket_path, and never unlinks the path:
    /// the socket belongs to systemd and outlives daemon restarts.
    int activated_fd = -1;
    ingest_limits limits;
    /// Who may connect, declare which families, and how much one uid may create. Default:
    /// everyone who can open the socket, everything.
    access_policy access;
    /// Test seam: called before each handler.process(). Whatever it throws is handled as an
    /// exception from the handler (the client is refused with ERROR internal). Empty in the
    /// daemon.
    std::function<void()> before_process;
};

/// Totals over every connection, open and closed.
struct ingest_totals {
    ingest_stats closed; ///< sums of connections that have ended
    std::uint64_t connections_total = 0;
    std::uint64_t connections_rejected = 0; ///< over max_connections (ERROR too_many_connections)
    std::uint64_t accept_errors = 0;        ///< failed accepts (EMFILE, ENFILE, ...), retried
    std::uint64_t sessions_failed = 0;      ///< sessions ended by an exception (ERROR internal)
    std::uint64_t connections_refused_peer = 0; ///< uid/gid not allowed (ERROR peer_not_allowed)
};

/// Owns the listening socket and the sessions. io_context thread only; not thread-safe.
class ingest_listener {
public:
    /// Binds the socket. A stale socket file (nobody listening) is replaced; a live daemon on
    /// the same path, or a non-socket file there, makes this throw std::runtime_error.
    ingest_listener(net::io_context& ioc, store& s, ingest_options options);
    ~ingest_listener();

    /// Start accepting (spawns the accept loop on the io_context).
    void start();
    /// Stop accepting, remove the socket file, then let every session apply what its client
    /// already sent, answer its SYNCs and close. Idempotent.
    void close();

    std::size_t open_connections() const noexcept { return sessions_.size(); }
    /// Open connections that have not completed the handshake.
    std::size_t pending_connections() const noexcept { return pending_; }
    /// Heap bytes held by open connections, as of each one's last read.
    std::size_t connection_bytes() const noexcept { return connection_bytes_; }
    const ingest_totals& totals() const noexcept { return totals_; }
    /// Sum of the stats of open connections and of the closed ones.
    ingest_stats stats() const;
    /// (pid, ops dropped) the clients of open connections reported, for those that reported
    /// any, by pid (connections of one pid summed). At most one entry per open connection;
    /// closed ones are in totals().closed.client_dropped_ops.
    std::vector<std::pair<std::int64_t, std::uint64_t>> client_dropped_ops() const;
    const std::string& path() const noexcept { return options_.socket_path; }

private:
    struct session;
    class registration;
    /// Give the socket file its owner and group, then check mode, owner and group; throws.
    void secure_socket_file() const;
    net::awaitable<void> accept_loop();
    net::awaitable<void> sweep_loop();
    net::awaitable<void> run_session(uds::socket sock);
    net::awaitable<void> serve(uds::socket& sock, const peer_identity& peer);
    net::awaitable<void> refuse(uds::socket& sock, protocol::error_code code, std::string message);
    /// Make room for a new connection: evict the oldest pre-handshake one over
    /// max_pending_connections, or the longest-idle one at max_connections. False: no room.
    bool make_room(std::int64_t pid);
    /// Ask a session to end with an ERROR frame `code` (it wakes, sends it, closes).
    void end(session& s, protocol::error_code code, std::string message);
    /// Update the memory accounting of `s` for an input buffer of `input_bytes`; false (and
    /// the session ends) when that would pass limits.max_connection_bytes or
    /// max_ingest_bytes.
    bool account(session& s, std::size_t input_bytes);
    void log_memory_refusal(const session& s, std::size_t bytes, std::size_t limit, bool own);
    void log_budget_refusals(const session& s, std::uint64_t refused);
    void mark_handshaken(session& s);
    void drain(session& s);

    net::io_context& ioc_;
    store& store_;
    ingest_options options_;
    uds::acceptor acceptor_;
    net::steady_timer retry_timer_; ///< the pause after a failed accept; close() cancels it
    net::steady_timer sweep_timer_; ///< handshake deadlines, idle buffers; close() cancels it
    log_limiter accept_log_;        ///< failed accepts: one line per interval
    log_limiter reject_log_;        ///< connections over max_connections
    log_limiter failure_log_;       ///< sessions ended by an exception
    log_limiter timeout_log_;       ///< handshake timeouts and idle evictions
    log_limiter memory_log_;        ///< connections over their memory budget
    log_limiter budget_log_;        ///< series refused over the store's byte budget
    log_limiter peer_log_;          ///< connections refused for their uid/gid
    bool closing_ = false;
    bool socket_file_owned_ = false;
    std::unordered_set<session*> sessions_;
    std::size_t pending_ = 0;          ///< sessions before the handshake, not ending
    std::size_t ending_ = 0;           ///< sessions asked to end, still registered
    std::size_t connection_bytes_ = 0; ///< sum of every session's accounted bytes
    ingest_totals totals_;
    uid_usage usage_; ///< families and series each uid created (per-uid quotas)
    /// Expires with the listener. A session frame can outlive it (the io_context is stopped at
    /// the shutdown deadline and destroys suspended frames later); its registration then
    /// leaves the listener alone.
    std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);
};

} // namespace metricsd::daemon

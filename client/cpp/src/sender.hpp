// The background sender of a client: one thread that connects (with backoff), re-declares
// everything and re-sends tracked gauge values on every new connection, writes what it takes
// from the outbox every flush_interval (or when woken), and reads the daemon's frames.
#pragma once

#include "delivery_status.hpp"
#include "outbox.hpp"
#include "receiver.hpp"

#include <metricsd/client.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

namespace metricsd::detail {

/// Thread-safe. mutex_ guards what fork() must see whole: whether a sender thread exists
/// (thread_, state_), and the socket descriptor while it is opened or closed (never held during
/// IO). The sender thread reads sock_ freely; nothing else touches the socket.
class sender {
public:
    using clock = std::chrono::steady_clock;

    /// Takes from source and reports to status; both must outlive the sender. Throws
    /// std::system_error if the wake-up eventfd cannot be made. Does not start the thread.
    sender(const client_options& options, outbox& source, delivery_status& status);
    /// Closes the socket and the eventfd; call stop() first.
    ~sender();
    sender(const sender&) = delete;
    sender& operator=(const sender&) = delete;

    /// Start the thread unless it runs. Returns false once stop() was called. Throws
    /// std::system_error (or std::bad_alloc) if the thread cannot be started.
    bool start();
    /// Stop and join the thread for good. The descriptors stay open until destruction, so a
    /// concurrent fork() never closes a reused descriptor number in the child.
    void stop() noexcept;
    /// Make the thread send now instead of at the next flush_interval. Any thread.
    void wake() noexcept;
    /// Like wake(), and if disconnected, connect now (skipping the backoff); if that fails,
    /// every SYNC queued so far is failed. Any thread.
    void connect_now() noexcept;

    /// Fork hooks (see client_core): hold mutex_ across fork(), then release it (parent), or
    /// in the child close the inherited socket, abandon the parent's thread and its state, and
    /// make a fresh eventfd. start() makes a new thread.
    void before_fork() noexcept;
    void after_fork_parent() noexcept;
    void after_fork_child() noexcept;

private:
    /// What only the sender thread touches. Heap-allocated so a forked child can abandon it
    /// wholesale: the parent's sender may have been halfway through changing any of it.
    struct state {
        std::optional<receiver> input; ///< one per connection
        std::string preamble;          ///< handshake + declarations, then cleared
        batch out;                     ///< what was taken from the outbox, being written
        bool resend_gauges = false;    ///< first take after a connect
        std::size_t resent_from = 0;   ///< where the re-sent gauge values start in out.frames
        bool woken = false;
        /// CLIENT_STATS (PROTOCOL.md 4.8): the daemon announced it takes them; the dropped ops
        /// reported on earlier connections (the count sent on each is cumulative over that
        /// connection, so a reconnect never reports a drop twice); the count sent on this one.
        bool stats_accepted = false;
        std::uint64_t stats_base = 0;
        std::uint64_t stats_sent = 0;
        std::string stats_frame;
        std::chrono::milliseconds backoff{0};
        clock::time_point next_attempt;
        clock::time_point next_send;
        std::minstd_rand rng;
    };
    class input_handler;

    void run(state& st) noexcept;
    void step(state& st);
    void maybe_connect(state& st);
    bool open_connection(state& st);
    void disconnect(state& st);
    void schedule_reconnect(state& st);
    void wait_for_work(state& st);
    void send_pending(state& st);
    bool send_client_stats(state& st);
    void take_batch(state& st);
    std::size_t write_all(state& st, std::string_view bytes);
    bool read_input(state& st);

    const std::string socket_path_;
    const std::chrono::milliseconds flush_interval_;
    const std::chrono::milliseconds reconnect_min_;
    const std::chrono::milliseconds reconnect_max_;
    outbox& source_;
    delivery_status& status_;

    std::atomic<bool> stop_{false};
    std::atomic<bool> connect_now_{false}; ///< a flush() wants a connection without backoff
    std::atomic<int> wake_fd_{-1};         ///< eventfd the thread polls

    std::mutex mutex_;
    std::unique_ptr<std::thread> thread_;
    std::unique_ptr<state> state_;
    int sock_ = -1; ///< opened and closed under mutex_
};

} // namespace metricsd::detail

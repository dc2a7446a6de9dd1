// What a client reports to the application: the counters, the connection flag, the last error,
// and the ACK/failure watermarks that flush() waits on. Written by the producer (dropped ops)
// and by the sender (everything else); read by any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace metricsd::detail {

/// Thread-safe. One mutex, mutex_, guards the flush watermarks, the stopping flag and
/// last_error_ (and backs the condition variable flush() waits on); the counters and the
/// connection flag are atomics.
class delivery_status {
public:
    using clock = std::chrono::steady_clock;

    /// on_error is called (on the sender thread) for every counted error; see
    /// client_options::on_error.
    explicit delivery_status(std::function<void(const std::string&)> on_error);
    delivery_status(const delivery_status&) = delete;
    delivery_status& operator=(const delivery_status&) = delete;

    /// Ops that will never reach the daemon (buffer full, or lost in a failed write).
    void count_dropped(std::uint64_t ops) noexcept {
        dropped_.fetch_add(ops, std::memory_order_relaxed);
    }
    void set_connected(bool connected) noexcept {
        connected_.store(connected, std::memory_order_relaxed);
    }
    /// The daemon acknowledged every SYNC up to token.
    void acked(std::uint64_t token);
    /// SYNCs up to token will never be acknowledged (connection lost or not there).
    void fail_upto(std::uint64_t token);
    /// Keep text as last_error; count = an ERROR frame: count it and call on_error.
    void note_error(const std::string& text, bool count);
    /// Wake every waiter for good: the client is being destroyed.
    void stop();

    /// Block until token is acknowledged (true), or failed, stopped or deadline passed (false).
    bool wait(std::uint64_t token, clock::time_point deadline);

    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
    std::uint64_t rejected() const noexcept { return rejected_.load(std::memory_order_relaxed); }
    bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }
    std::string last_error() const;

    /// Fork hooks (see client_core): hold mutex_ across fork(), then release it (parent) or
    /// start afresh (child), where no SYNC up to abandoned_token will be sent.
    void before_fork() noexcept;
    void after_fork_parent() noexcept;
    void after_fork_child(std::uint64_t abandoned_token) noexcept;

private:
    const std::function<void(const std::string&)> on_error_;

    alignas(64) std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> rejected_{0};
    std::atomic<bool> connected_{false};

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::uint64_t acked_ = 0;       ///< newest ACK token
    std::uint64_t failed_upto_ = 0; ///< tokens up to this one will never be acknowledged
    bool stopping_ = false;
    std::string last_error_;
};

} // namespace metricsd::detail

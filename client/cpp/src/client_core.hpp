// The state behind metricsd::client: the op buffer that application threads append to, the
// declaration registry, and the background sender that owns the connection.
#pragma once

#include "op_buffer.hpp"
#include "registry.hpp"
#include "spin_lock.hpp"

#include <metricsd/client.hpp>
#include <metricsd/protocol/decoder.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace metricsd::detail {

using clock = std::chrono::steady_clock;

/// OPS frames are capped well below the daemon's 1 MiB frame limit, so the daemon never
/// buffers much of a frame before applying it.
inline constexpr std::size_t max_ops_frame_payload = 64 * 1024;

/// The client's copy of a tracked gauge's value (see registry.cpp, needs_tracking).
struct gauge_value {
    double value = 0;
    std::uint32_t series = 0;
    bool written = false; ///< never-written gauges are not re-sent (0 is not "no value")
};

/// What only the sender thread touches. Heap-allocated so a forked child can abandon it
/// wholesale: the parent's sender may have been halfway through changing any of it.
struct sender_state {
    std::unique_ptr<protocol::decoder> decoder; ///< one per connection
    std::string preamble;                       ///< handshake + all declarations, then cleared
    op_buffer back;                             ///< frames taken from the front buffer
    bool resend_gauges = false;                 ///< first take after a connect
    std::size_t resent_from = 0;                ///< where the re-sent gauge values start in back
    bool woken = false;
    std::uint64_t taken_token = 0; ///< newest SYNC token taken from the front buffer
    std::chrono::milliseconds backoff{0};
    clock::time_point next_attempt;
    clock::time_point next_send;
    std::minstd_rand rng;
    std::vector<gauge_value> gauge_snapshot;
};

/// Shared by a client and all its handles. Thread-safe except where noted. Lock order (the
/// fork handler takes them all in this order): lifecycle_mutex_, decl_mutex_, fd_mutex_,
/// lock_, mu_.
class client_core {
public:
    explicit client_core(client_options options);
    ~client_core();
    client_core(const client_core&) = delete;
    client_core& operator=(const client_core&) = delete;

    /// Hot path: one spinlock round trip and a 16-byte store.
    void push(const protocol::op_record& r) noexcept {
        lock_.lock();
        if (front_.try_append(r)) [[likely]] {
            lock_.unlock();
            return;
        }
        push_slow(r);
    }
    void push_gauge(const protocol::op_record& r, std::uint32_t slot) noexcept;

    struct declared_family {
        std::uint32_t handle = 0;
        std::size_t label_count = 0;
        series_id unlabelled; ///< declared with the family when it has no labels
    };
    declared_family declare_family(family_def def);
    series_id declare_series(std::uint32_t family, std::span<const std::string_view> values);

    bool flush(std::chrono::milliseconds timeout);
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
    std::uint64_t rejected() const noexcept { return rejected_.load(std::memory_order_relaxed); }
    std::string last_error() const;
    bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }

    /// pthread_atfork hooks (fork_guard.cpp): hold every lock across fork(), then release them
    /// (parent) or reset to a fresh, unconnected client without a sender thread (child).
    void before_fork() noexcept;
    void after_fork_parent() noexcept;
    void after_fork_child() noexcept;

private:
    // Producer side (client_core.cpp).
    void push_slow(const protocol::op_record& r) noexcept; ///< entered with lock_ held
    void append_declaration(std::size_t registry_offset, const series_id* gauge);
    void wake() noexcept;
    void ensure_sender();
    bool should_flush_on_close();
    void fail_flushes_upto(std::uint64_t token);

    // Sender thread (sender.cpp).
    void run(sender_state& st) noexcept;
    void step(sender_state& st);
    void maybe_connect(sender_state& st);
    bool open_connection(sender_state& st);
    void disconnect(sender_state& st);
    void schedule_reconnect(sender_state& st);
    void wait_for_work(sender_state& st);
    void send_pending(sender_state& st);
    void take_front(sender_state& st);
    std::size_t write_all(sender_state& st, std::string_view bytes);
    bool read_input(sender_state& st);
    bool handle_input(sender_state& st);
    void on_welcome(sender_state& st, const protocol::welcome& w);
    void on_ack(std::uint64_t token);
    void on_error_frame(const protocol::error& e);
    void note_error(const std::string& text, bool count);

    const client_options opts_;

    // The hot path's data, on its own cache lines. Guarded by lock_.
    alignas(64) spin_lock lock_;
    op_buffer front_;
    bool sender_missing_ = false;     ///< set in a forked child until its sender starts
    std::uint64_t last_token_ = 0;    ///< newest SYNC token put into front_
    std::vector<gauge_value> gauges_; ///< by slot
    /// Registry offset of the first DECLARE frame in front_, if front_ holds any: a new
    /// connection's preamble sends the registry up to there, so each declaration goes out
    /// exactly once per connection.
    std::size_t front_decls_from_ = 0;
    bool front_has_decls_ = false;

    alignas(64) std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> rejected_{0};
    std::atomic<bool> connected_{false};
    std::atomic<bool> stop_{false};
    std::atomic<bool> connect_now_{false}; ///< a flush() wants a connection without backoff
    std::atomic<int> wake_fd_{-1};         ///< eventfd the sender polls

    std::mutex lifecycle_mutex_; ///< guards thread_ and state_
    std::unique_ptr<std::thread> thread_;
    std::unique_ptr<sender_state> state_;

    std::mutex decl_mutex_; ///< guards registry_
    registry registry_;

    std::mutex fd_mutex_; ///< held while sock_ is opened or closed (never during IO)
    int sock_ = -1;       ///< written by the sender under fd_mutex_; read freely by it

    mutable std::mutex mu_; ///< guards the flush and error state below
    std::condition_variable cv_;
    std::uint64_t acked_ = 0;       ///< newest ACK token
    std::uint64_t failed_upto_ = 0; ///< tokens up to this one will never be acknowledged
    bool stopping_ = false;
    std::string last_error_;
};

} // namespace metricsd::detail

// The application side of a client: the op buffer that handles append to, the client's copy of
// tracked gauge values, SYNC tokens, and the declaration registry. It never touches the
// connection: the sender takes from it through the outbox interface.
#pragma once

#include "delivery_status.hpp"
#include "fold_table.hpp"
#include "outbox.hpp"
#include "registry.hpp"
#include "spin_lock.hpp"

#include <metricsd/client.hpp>

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::detail {

/// Thread-safe. Two locks, taken in this order when both are needed:
/// - registry_mutex_ guards registry_ (declarations are start-up-time work: they validate,
///   encode and allocate, so they must not hold up the hot path's lock);
/// - lock_, a spinlock, guards the front buffer and what must change atomically with it
///   (gauge values, the newest SYNC token, where the buffered declarations start, whether
///   this process has a sender).
class producer final : public outbox {
public:
    /// What the caller of push() must do next.
    enum class push_outcome : std::uint8_t {
        done,
        wake_sender,  ///< the buffer reached flush_bytes: wake the sender now
        start_sender, ///< this process (a forked child) has no sender yet: start one
    };

    producer(const client_options& options, delivery_status& status);

    /// Hot path: one spinlock round trip and a 16-byte store. When the buffer is full the op
    /// is folded into its series' accumulator (push_slow).
    push_outcome push(const protocol::op_record& r) noexcept {
        lock_.lock();
        if (front_.try_append(r)) [[likely]] {
            lock_.unlock();
            return push_outcome::done;
        }
        return push_slow(r);
    }
    /// A tracked gauge's op: also updates the client's copy of its value.
    push_outcome push_gauge(const protocol::op_record& r, std::uint32_t slot) noexcept;
    /// Queue a SYNC frame; returns its token (tokens increase in stream order).
    std::uint64_t push_sync();

    struct declared_family {
        std::uint32_t handle = 0;
        std::size_t label_count = 0;
        series_id unlabelled; ///< declared with the family when it has no labels
    };
    /// See client::counter() and registry::add_family() for what is checked and thrown.
    declared_family declare_family(family_def def);
    series_id declare_series(std::uint32_t family, std::span<const std::string_view> values);

    /// Nothing buffered (ops, declarations or SYNCs).
    bool empty();
    /// The sender (re)started in this process: the slow path stops asking for one.
    void sender_started() noexcept;

    // outbox: the sender's side.
    void take(batch& out, bool with_gauges) override;
    void append_declarations(std::string& out) override;
    std::uint64_t newest_token() override;
    void set_max_ops_payload(std::size_t bytes) override;

    /// Fork hooks (see client_core): hold both locks across fork(), then release them
    /// (parent), or in the child drop the parent's buffered ops and gauge values, ask for a
    /// sender, release, and return the newest SYNC token (which the child will never send).
    void before_fork() noexcept;
    void after_fork_parent() noexcept;
    std::uint64_t after_fork_child() noexcept;

private:
    push_outcome push_slow(const protocol::op_record& r) noexcept; ///< entered with lock_ held
    /// Under registry_mutex_, right after the registry appended the frame at registry_offset:
    /// a family's (series == nullptr) or a series' of `family`.
    void buffer_declaration(std::size_t registry_offset, std::uint32_t family,
                            const series_id* series);
    /// Under lock_: fold what was folded into front_, so a SYNC or the sender's take comes
    /// after it. Throws std::bad_alloc.
    void drain_folds(op_buffer& out);

    delivery_status& status_;

    // The hot path's data, on its own cache lines. Guarded by lock_.
    alignas(64) spin_lock lock_;
    op_buffer front_;
    bool sender_missing_ = false;     ///< set in a forked child until its sender starts
    std::uint64_t last_token_ = 0;    ///< newest SYNC token put into front_
    std::vector<gauge_value> gauges_; ///< by slot
    /// Ops that found front_ full, folded per series; they come after everything in front_.
    fold_table folds_;
    /// Registry offset of the first DECLARE frame in front_, if front_ holds any: a new
    /// connection's declarations are the registry up to there, so each declaration goes out
    /// exactly once per connection.
    std::size_t front_decls_from_ = 0;
    bool front_has_decls_ = false;

    alignas(64) std::mutex registry_mutex_; ///< guards registry_
    registry registry_;
};

} // namespace metricsd::detail

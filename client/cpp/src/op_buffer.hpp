// The client's outgoing byte buffer: whole frames (declarations, SYNC) and OPS frames that are
// filled one 16-byte record at a time. Not thread-safe: the client guards it with a spinlock.
#pragma once

#include <metricsd/protocol/messages.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace metricsd::detail {

/// Frames ready to write, plus at most one open OPS frame at the end whose length field is
/// patched by seal(). The fast path is one comparison against a precomputed limit; everything
/// unusual (no open frame, frame full, buffer full, growth, crossing the wake threshold) takes
/// the slow path.
class op_buffer {
public:
    /// Outcome of the slow path.
    enum class result : std::uint8_t {
        appended,
        appended_crossed, ///< appended, and the buffer just reached the wake threshold
        full,             ///< over max_bytes: the op was not appended
        no_memory,        ///< allocation failed: the op was not appended
    };

    op_buffer() = default;
    op_buffer(const op_buffer&) = delete;
    op_buffer& operator=(const op_buffer&) = delete;

    /// max_bytes bounds op records (not whole frames); wake_bytes is the wake threshold;
    /// max_ops_payload caps one OPS frame (a multiple of 16).
    void set_limits(std::size_t max_bytes, std::size_t wake_bytes,
                    std::size_t max_ops_payload) noexcept;
    void set_max_ops_payload(std::size_t max_ops_payload) noexcept;

    /// Hot path: append r to the open OPS frame if that needs no decision at all.
    bool try_append(const protocol::op_record& r) noexcept {
        if (size_ + protocol::op_record_size > fast_end_) [[unlikely]]
            return false;
        protocol::store_op_record(data_.get() + size_, r);
        size_ += protocol::op_record_size;
        return true;
    }
    /// Slow path: open a frame or grow as needed. bounded = respect max_bytes.
    result append(const protocol::op_record& r, bool bounded) noexcept;
    /// Append one complete encoded frame (closing the open OPS frame first). Ignores max_bytes:
    /// declarations and SYNC are never dropped. Throws std::bad_alloc.
    void append_frame(std::string_view frame);
    /// Close the open OPS frame (patch its length) so the bytes are ready to write.
    void seal() noexcept;
    /// Forget the contents; keeps the capacity.
    void clear() noexcept;
    /// Exchange contents and capacity with other; limits stay with each buffer.
    void swap_contents(op_buffer& other) noexcept;
    void reserve(std::size_t bytes);

    std::string_view bytes() const noexcept { return {data_.get(), size_}; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    /// Op records in the (sealed) OPS frames that start before `limit` and end after byte
    /// `sent`: what a write that stopped at `sent` lost, since the daemon applies only complete
    /// frames.
    std::uint64_t ops_lost(std::size_t sent, std::size_t limit) const noexcept;

private:
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    bool ensure(std::size_t extra) noexcept;
    void open_frame() noexcept;
    void update_fast_end() noexcept;

    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
    std::size_t fast_end_ = 0; ///< try_append succeeds while size_ + 16 <= fast_end_
    std::size_t open_ = npos;  ///< offset of the open OPS frame's header
    bool woke_ = false;        ///< the wake threshold was reported since the last clear
    std::size_t max_bytes_ = 8u << 20;
    std::size_t wake_bytes_ = 64u << 10;
    std::size_t max_ops_payload_ = 64u << 10;
};

} // namespace metricsd::detail

#include "op_buffer.hpp"

#include <metricsd/protocol/wire.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

namespace metricsd::detail {

static_assert(std::endian::native == std::endian::little,
              "the client writes little-endian wire integers with memcpy");

using protocol::frame_header_size;
using protocol::op_record_size;

void op_buffer::set_limits(std::size_t max_bytes, std::size_t wake_bytes,
                           std::size_t max_ops_payload) noexcept {
    max_bytes_ = max_bytes;
    wake_bytes_ = wake_bytes;
    set_max_ops_payload(max_ops_payload);
}

void op_buffer::set_max_ops_payload(std::size_t max_ops_payload) noexcept {
    max_ops_payload_ = std::max(op_record_size, max_ops_payload / op_record_size * op_record_size);
    update_fast_end();
}

void op_buffer::update_fast_end() noexcept {
    if (open_ == npos) {
        fast_end_ = 0; // the next op must open a frame first
        return;
    }
    std::size_t end =
        std::min({capacity_, open_ + frame_header_size + max_ops_payload_, max_bytes_});
    if (!woke_)
        end = std::min(end, wake_bytes_);
    fast_end_ = end;
}

bool op_buffer::ensure(std::size_t extra) noexcept {
    if (size_ + extra <= capacity_)
        return true;
    const std::size_t want = std::max({capacity_ * 2, size_ + extra, std::size_t{4096}});
    // nothrow: the hot path must not throw; a failed growth drops the op instead.
    std::unique_ptr<char[]> bigger(new (std::nothrow) char[want]);
    if (!bigger)
        return false;
    if (size_ != 0)
        std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = want;
    return true;
}

void op_buffer::reserve(std::size_t bytes) {
    if (bytes > capacity_ && !ensure(bytes - size_))
        throw std::bad_alloc();
    update_fast_end();
}

void op_buffer::open_frame() noexcept {
    // Header: u32 payload length (patched by seal), u16 frame type, u16 reserved.
    const auto type = static_cast<std::uint16_t>(protocol::frame_type::ops);
    char* h = data_.get() + size_;
    std::memset(h, 0, frame_header_size);
    std::memcpy(h + 4, &type, sizeof type);
    open_ = size_;
    size_ += frame_header_size;
}

op_buffer::result op_buffer::append(const protocol::op_record& r, bool bounded) noexcept {
    if (bounded && size_ + op_record_size > max_bytes_)
        return result::full;
    const bool need_frame = open_ == npos || size_ - open_ - frame_header_size >= max_ops_payload_;
    if (need_frame)
        seal();
    if (!ensure((need_frame ? frame_header_size : 0) + op_record_size)) {
        update_fast_end();
        return result::no_memory;
    }
    if (need_frame)
        open_frame();
    protocol::store_op_record(data_.get() + size_, r);
    size_ += op_record_size;
    const bool crossed = !woke_ && size_ >= wake_bytes_;
    woke_ = woke_ || crossed;
    update_fast_end();
    return crossed ? result::appended_crossed : result::appended;
}

void op_buffer::append_frame(std::string_view frame) {
    seal();
    if (!ensure(frame.size()))
        throw std::bad_alloc();
    std::memcpy(data_.get() + size_, frame.data(), frame.size());
    size_ += frame.size();
}

void op_buffer::seal() noexcept {
    if (open_ != npos) {
        const auto length = static_cast<std::uint32_t>(size_ - open_ - frame_header_size);
        if (length == 0)
            size_ = open_; // an OPS frame without records is malformed: drop the header
        else
            std::memcpy(data_.get() + open_, &length, sizeof length);
        open_ = npos;
    }
    fast_end_ = 0;
}

void op_buffer::clear() noexcept {
    size_ = 0;
    open_ = npos;
    woke_ = false;
    fast_end_ = 0;
}

void op_buffer::swap_contents(op_buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
    std::swap(open_, other.open_);
    std::swap(woke_, other.woke_);
    update_fast_end();
    other.update_fast_end();
}

std::uint64_t op_buffer::ops_lost(std::size_t sent, std::size_t limit) const noexcept {
    std::uint64_t ops = 0;
    for (std::size_t pos = 0; pos + frame_header_size <= size_ && pos < limit;) {
        std::uint32_t length = 0;
        std::uint16_t type = 0;
        std::memcpy(&length, data_.get() + pos, sizeof length);
        std::memcpy(&type, data_.get() + pos + 4, sizeof type);
        const std::size_t end = pos + frame_header_size + length;
        if (type == static_cast<std::uint16_t>(protocol::frame_type::ops) && end > sent)
            ops += length / op_record_size;
        pos = end;
    }
    return ops;
}

} // namespace metricsd::detail

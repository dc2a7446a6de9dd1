// Incremental decoder for wire protocol v1. Pure: no IO, no logging, never throws on input.
#pragma once

#include <metricsd/protocol/messages.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::protocol {

/// Which side of the connection the decoder sits on.
enum class role {
    daemon, ///< expects the handshake, then client frames (0x01..0x05)
    client, ///< expects daemon frames (0x81..0x83), no handshake
};

/// A problem with the input. Fatal problems leave the decoder failed: the stream cannot be
/// resynchronised and the connection must be closed after reporting it.
struct decode_error {
    error_code code = error_code::internal;
    std::uint32_t handle = no_handle;
    std::uint64_t frame = no_frame;
    std::string message; ///< human-readable, names the offending value
    bool fatal = false;
};

struct decode_result {
    enum class status { need_more, message, error };
    status state = status::need_more;
    protocol::message msg;   ///< valid when state == message
    decode_error error;      ///< valid when state == error
};

/// Feed it bytes in any split; take complete messages out with next().
///
/// Views inside a returned message (strings, op_batch) point into the decoder's buffer and stay
/// valid until the next call to prepare(), feed() or next(). No allocation happens per op record;
/// declarations reuse two internal vectors. Not thread-safe.
class decoder {
public:
    explicit decoder(role r, std::uint32_t max_frame_payload = limits::max_frame_payload);

    /// Writable space of at least n bytes (for a socket read; the span may be larger),
    /// followed by commit(k), k <= the span's size. May move buffered bytes (compaction).
    std::span<char> prepare(std::size_t n);
    /// Make the first n bytes written into the last prepare() span part of the input. After
    /// a fatal error committed bytes are discarded, so a misbehaving peer cannot grow the buffer.
    void commit(std::size_t n) noexcept;
    /// Copy bytes in (prepare + memcpy + commit).
    void feed(std::string_view bytes);

    /// The next complete message, need_more, or an error. After a non-fatal error the offending
    /// frame has been skipped and decoding continues with the next one.
    decode_result next();

    bool failed() const noexcept { return failed_; }
    bool handshake_done() const noexcept { return handshake_done_; }
    /// Frames fully consumed so far (the handshake is not a frame).
    std::uint64_t frames() const noexcept { return frames_; }
    /// Bytes received but not yet consumed.
    std::size_t buffered() const noexcept { return end_ - begin_; }
    std::uint32_t max_frame_payload() const noexcept { return max_frame_payload_; }
    /// Bytes currently allocated for the input buffer (for self-metrics and tests).
    std::size_t capacity() const noexcept { return capacity_; }
    /// Bytes still missing to complete the frame whose header is buffered; 0 when no such
    /// frame is pending (nothing buffered, part of a header only, or before the handshake).
    std::size_t frame_remaining() const noexcept;
    /// Free the input buffer if nothing is buffered, so an idle connection holds none; the
    /// next prepare() allocates again.
    void release() noexcept;

private:
    decode_result decode_handshake();
    decode_result decode_frame(std::uint16_t type, std::string_view payload);
    /// Enter the failed state: remember the error, drop buffered input, return the error.
    decode_result fail(error_code code, std::string message, std::uint32_t handle = no_handle);
    /// Move the unconsumed bytes to the front of buf_.
    void compact() noexcept;
    /// Header + payload bytes of the frame whose header is buffered, or 0.
    std::size_t pending_frame_size() const noexcept;

    role role_;
    std::uint32_t max_frame_payload_;
    // Not a vector: growing it must not zero-fill bytes a socket read overwrites anyway.
    std::unique_ptr<char[]> buf_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    bool handshake_done_ = false;
    bool failed_ = false;
    decode_error fatal_error_;
    std::uint64_t frames_ = 0;
    std::vector<std::string_view> strings_a_; ///< label names or label values of the last decl
    std::vector<std::string_view> strings_b_; ///< bucket bounds of the last family decl
};

} // namespace metricsd::protocol

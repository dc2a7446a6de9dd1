#include "metricsd/protocol/decoder.hpp"

#include "payload.hpp"
#include "reader.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <utility>

namespace metricsd::protocol {

static_assert(std::endian::native == std::endian::little,
              "wire protocol v1 code copies little-endian integers and doubles with memcpy");

namespace {

using namespace detail;

bool accepts(role r, std::uint16_t type) {
    return r == role::daemon ? (type >= 0x01 && type <= 0x06) : (type >= 0x81 && type <= 0x83);
}

decode_result error_result(decode_error e) {
    decode_result r;
    r.state = decode_result::status::error;
    r.error = std::move(e);
    return r;
}

template <class M>
decode_result to_result(check p, const M& m, std::uint32_t handle, std::uint64_t frame) {
    if (p) {
        return error_result(decode_error{p->code, handle, frame, std::move(p->text), false});
    }
    decode_result r;
    r.state = decode_result::status::message;
    r.msg = m;
    return r;
}

} // namespace

decoder::decoder(role r, std::uint32_t max_frame_payload)
    : role_(r), max_frame_payload_(max_frame_payload), handshake_done_(r == role::client) {
    // Sized to the protocol limits once, so decoding a declaration never allocates.
    strings_a_.reserve(limits::max_labels);
    strings_b_.reserve(limits::max_buckets);
}

std::span<char> decoder::prepare(std::size_t n) {
    if (begin_ == end_) {
        begin_ = end_ = 0; // all consumed: start over at the front, nothing to move
    }
    // Compacting once the consumed prefix passes half the buffer moves at most as many bytes
    // as were consumed since the previous compaction: amortised O(1) per byte.
    if (capacity_ - end_ < n || begin_ > capacity_ / 2) {
        compact();
    }
    if (capacity_ - end_ < n) {
        // Doubling keeps growth amortised, but never past the frame still arriving (compact()
        // just moved it to the front): an incomplete 1 MiB frame holds ~1 MiB, not 2.
        std::size_t size = std::max(capacity_ * 2, end_ + n);
        if (const std::size_t frame = pending_frame_size(); frame != 0) {
            size = std::max(end_ + n, std::min(size, frame));
        }
        auto grown = std::make_unique_for_overwrite<char[]>(size);
        if (end_ != 0) {
            std::memcpy(grown.get(), buf_.get(), end_);
        }
        buf_ = std::move(grown);
        capacity_ = size;
    }
    return {buf_.get() + end_, capacity_ - end_};
}

void decoder::commit(std::size_t n) noexcept {
    assert(n <= capacity_ - end_);
    end_ += std::min(n, capacity_ - end_);
    if (failed_) {
        begin_ = end_ = 0;
    }
}

void decoder::feed(std::string_view bytes) {
    if (bytes.empty() || failed_) {
        return;
    }
    std::memcpy(prepare(bytes.size()).data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

void decoder::compact() noexcept {
    if (begin_ == 0) {
        return;
    }
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
}

void decoder::release() noexcept {
    if (begin_ != end_) {
        return;
    }
    buf_.reset();
    capacity_ = 0;
    begin_ = end_ = 0;
}

std::size_t decoder::pending_frame_size() const noexcept {
    if (!handshake_done_ || failed_ || buffered() < frame_header_size) {
        return 0;
    }
    const auto length = load<std::uint32_t>(buf_.get() + begin_);
    // A length over the limit is refused by next(), never buffered.
    return length > max_frame_payload_ ? 0 : frame_header_size + length;
}

std::size_t decoder::frame_remaining() const noexcept {
    const std::size_t frame = pending_frame_size();
    return frame > buffered() ? frame - buffered() : 0;
}

decode_result decoder::next() {
    if (failed_) {
        return error_result(fatal_error_);
    }
    if (!handshake_done_) {
        return decode_handshake();
    }
    if (buffered() < frame_header_size) {
        return {};
    }
    const char* header = buf_.get() + begin_;
    const auto length = load<std::uint32_t>(header);
    const auto type = load<std::uint16_t>(header + 4);
    const auto reserved = load<std::uint16_t>(header + 6);
    if (reserved != 0) {
        return fail(error_code::bad_frame_header,
                    "frame header reserved field is " + hex(reserved) +
                        "; must be 0 (the stream is not at a frame boundary)");
    }
    // Judged from the header alone: a hostile length never makes us buffer its payload.
    if (length > max_frame_payload_) {
        return fail(error_code::frame_too_large, "frame of type " + hex(type) + " has a " +
                                                     num(length) + "-byte payload; the limit is " +
                                                     num(max_frame_payload_));
    }
    if (buffered() - frame_header_size < length) {
        return {};
    }
    const std::string_view payload{header + frame_header_size, length};
    begin_ += frame_header_size + length;
    decode_result result = decode_frame(type, payload);
    ++frames_; // after decoding, so errors above carry this frame's 0-based index
    return result;
}

decode_result decoder::decode_handshake() {
    if (buffered() < magic.size()) {
        return {};
    }
    const char* p = buf_.get() + begin_;
    // Judged as soon as 4 bytes are in, so e.g. an HTTP request is refused at once.
    if (std::string_view{p, magic.size()} != magic) {
        return fail(error_code::bad_magic, "bad magic " + describe_bytes({p, magic.size()}) +
                                               "; a metricsd client starts with \"MTRD\"");
    }
    if (buffered() < handshake_size) {
        return {};
    }
    const auto v = load<std::uint16_t>(p + 4);
    const auto flags = load<std::uint16_t>(p + 6);
    if (v != version) {
        return fail(error_code::unsupported_version, "unsupported protocol version " + num(v) +
                                                         "; this daemon speaks " + num(version));
    }
    if (flags != 0) {
        return fail(error_code::bad_handshake, "handshake flags are " + hex(flags) +
                                                   "; version 1 defines none, they must be 0");
    }
    begin_ += handshake_size;
    handshake_done_ = true;
    return to_result(std::nullopt, handshake{v}, no_handle, no_frame);
}

decode_result decoder::decode_frame(std::uint16_t type, std::string_view payload) {
    const std::uint64_t frame = frames_;
    if (!accepts(role_, type)) {
        const char* direction = role_ == role::daemon ? "client-to-daemon" : "daemon-to-client";
        return error_result({error_code::unknown_frame_type, no_handle, frame,
                             "frame type " + hex(type) + " is not a " + direction +
                                 " frame type; its " + num(payload.size()) +
                                 "-byte payload was skipped",
                             false});
    }
    switch (static_cast<frame_type>(type)) {
    case frame_type::declare_family: {
        family_decl m;
        m.handle = no_handle;
        check p = parse_family(payload, m, strings_a_, strings_b_);
        return to_result(std::move(p), m, m.handle, frame);
    }
    case frame_type::declare_series: {
        series_decl m;
        check p = parse_series(payload, m, strings_a_);
        return to_result(std::move(p), m, m.handle, frame);
    }
    case frame_type::ops:
        return to_result(check_ops(payload), op_batch{payload}, no_handle, frame);
    case frame_type::sync: {
        sync m;
        return to_result(parse_token(payload, m.token, "SYNC"), m, no_handle, frame);
    }
    case frame_type::fold: {
        fold m;
        check p = parse_fold(payload, m);
        return to_result(std::move(p), m, m.handle, frame);
    }
    case frame_type::client_stats: {
        client_stats m;
        return to_result(parse_token(payload, m.dropped_ops, "CLIENT_STATS"), m, no_handle, frame);
    }
    case frame_type::welcome: {
        welcome m;
        return to_result(parse_welcome(payload, m), m, no_handle, frame);
    }
    case frame_type::ack: {
        ack m;
        return to_result(parse_token(payload, m.token, "ACK"), m, no_handle, frame);
    }
    case frame_type::error: {
        error m;
        return to_result(parse_error(payload, m), m, no_handle, frame);
    }
    }
    return {}; // unreachable: accepts() admits only the types above
}

decode_result decoder::fail(error_code code, std::string message, std::uint32_t handle) {
    failed_ = true;
    fatal_error_ =
        decode_error{code, handle, handshake_done_ ? frames_ : no_frame, std::move(message), true};
    begin_ = end_ = 0; // nothing after a fatal error is ever decoded
    return error_result(fatal_error_);
}

} // namespace metricsd::protocol

// Encoder for wire protocol v1: pure functions that append one message to a byte buffer.
#pragma once

#include <metricsd/protocol/messages.hpp>

#include <span>
#include <string>

namespace metricsd::protocol {

/// Append the 8-byte handshake.
void encode(std::string& out, const handshake& m);
/// Append one frame. Strings longer than the protocol limits are the caller's bug: the encoder
/// writes them anyway only if they fit the u16 length field, otherwise it throws
/// std::length_error (clients validate before encoding) and leaves out unchanged.
void encode(std::string& out, const family_decl& m);
void encode(std::string& out, const series_decl& m);
void encode(std::string& out, const sync& m);
void encode(std::string& out, const ack& m);
void encode(std::string& out, const welcome& m);
void encode(std::string& out, const error& m);
void encode(std::string& out, const client_stats& m);
/// One FOLD frame: `count` observations of series `handle` adding up to `sum`, per bucket in
/// `buckets` (not cumulative, +Inf last; empty for a summary). The counts must add up to
/// `count` (the decoder refuses the frame otherwise).
void encode_fold(std::string& out, std::uint32_t handle, std::uint64_t count, double sum,
                 std::span<const std::uint64_t> buckets);
/// One OPS frame holding all records; nothing at all for an empty span (an OPS frame without
/// records is malformed). Keeping the frame within the peer's max_frame_payload (WELCOME) is
/// the caller's job: at most max_frame_payload / op_record_size records per frame.
void encode_ops(std::string& out, std::span<const op_record> records);

/// Build an OPS frame in place: begin, append records, finish (patches the length; removes the
/// header again if no record was appended). begin_ops returns the offset of the frame header,
/// to pass to finish_ops.
std::size_t begin_ops(std::string& out);
void append_op(std::string& out, const op_record& r);
void finish_ops(std::string& out, std::size_t header_offset);

} // namespace metricsd::protocol

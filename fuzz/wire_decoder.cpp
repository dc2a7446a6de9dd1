// Fuzzes the wire protocol decoder (protocol/decoder.hpp) on either side of a connection.
// Input: one control byte, then the stream. Bit 0 of the control byte picks the role (daemon:
// the handshake first; client: daemon frames); the rest picks the size of the pieces the
// stream is fed in. Checked: the decoder never crashes and stays within its buffer bound,
// feeding the stream whole or in pieces yields the same messages and errors (the decoder is
// incremental), and every decoded message re-encodes to bytes that decode to the same
// message (nothing the decoder accepts is something the encoder cannot say).
#include "fuzz_check.hpp"

#include <metricsd/protocol/decoder.hpp>
#include <metricsd/protocol/encoder.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace {

using namespace metricsd::protocol;

/// The encoding of one decoded message: what the encoder makes of it.
std::string encoding(const message& m) {
    std::string out;
    std::visit(
        [&out](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, op_batch>) {
                const std::size_t at = begin_ops(out);
                for (std::size_t i = 0; i < v.size(); ++i)
                    append_op(out, v[i]);
                finish_ops(out, at);
            } else if constexpr (std::is_same_v<T, fold>) {
                std::vector<std::uint64_t> buckets(v.buckets());
                for (std::size_t i = 0; i < buckets.size(); ++i)
                    buckets[i] = v.bucket(i);
                encode_fold(out, v.handle, v.count, v.sum, buckets);
            } else {
                encode(out, v);
            }
        },
        m);
    return out;
}

/// Everything the decoder yields for `input` fed in pieces of `piece` bytes (0: at once), as
/// one transcript: a line per message (its encoding, hex) or error.
std::string transcript(role r, std::string_view input, std::size_t piece) {
    decoder d(r);
    std::string out;
    std::size_t fed = 0;
    for (;;) {
        const decode_result res = d.next();
        if (res.state == decode_result::status::message) {
            out += "message " + metricsd::fuzz::hex(encoding(res.msg)) + "\n";
            continue;
        }
        if (res.state == decode_result::status::error) {
            out += "error " + std::to_string(static_cast<int>(res.error.code)) + " frame " +
                   std::to_string(res.error.frame) + " handle " +
                   std::to_string(res.error.handle) + (res.error.fatal ? " fatal\n" : "\n");
            if (res.error.fatal)
                return out;
            continue;
        }
        if (fed == input.size())
            return out;
        const std::size_t n = piece == 0 ? input.size() - fed : std::min(piece, input.size() - fed);
        d.feed(input.substr(fed, n));
        fed += n;
        // Before this piece everything complete was taken out: at most one partial frame.
        FUZZ_CHECK(d.buffered() <= frame_header_size + d.max_frame_payload() + n);
    }
}

/// Re-encode each message of the whole-input transcript and decode it alone: same message.
void check_reencoding(role r, std::string_view input) {
    decoder d(r);
    d.feed(input);
    for (;;) {
        const decode_result res = d.next();
        if (res.state == decode_result::status::need_more)
            return;
        if (res.state == decode_result::status::error) {
            if (res.error.fatal)
                return;
            continue;
        }
        const std::string bytes = encoding(res.msg);
        if (bytes.empty())
            continue; // an OPS frame without records: the encoder sends nothing for it
        decoder again(r);
        if (r == role::daemon && !std::holds_alternative<handshake>(res.msg)) {
            std::string hs;
            encode(hs, handshake{});
            again.feed(hs);
            FUZZ_CHECK(again.next().state == decode_result::status::message);
        }
        again.feed(bytes);
        const decode_result back = again.next();
        FUZZ_CHECK(back.state == decode_result::status::message);
        FUZZ_CHECK(encoding(back.msg) == bytes);
        FUZZ_CHECK(again.next().state == decode_result::status::need_more);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const role r = (data[0] & 1) != 0 ? role::client : role::daemon;
    const std::size_t piece = (data[0] >> 1) + 1u;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::string whole = transcript(r, input, 0);
    FUZZ_CHECK(transcript(r, input, piece) == whole);
    check_reencoding(r, input);
    return 0;
}

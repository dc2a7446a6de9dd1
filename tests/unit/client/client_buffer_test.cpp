// The client's op buffer (a private part of the client library): frame layout as the daemon's
// decoder sees it, frame splitting, the byte bound, the wake threshold, and loss accounting.
#include "op_buffer.hpp"

#include <metricsd/protocol/decoder.hpp>
#include <metricsd/protocol/encoder.hpp>

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

namespace metricsd::test {
namespace {

using detail::op_buffer;
using protocol::op_code;
using protocol::op_record;

/// Decode the buffer as the daemon would; returns the size of each OPS frame in records, and
/// -1 for each SYNC, in stream order. Fails the test on any decode error.
std::vector<long> frames_of(const op_buffer& b, std::vector<op_record>* ops = nullptr) {
    protocol::decoder d(protocol::role::daemon);
    std::string bytes;
    protocol::encode(bytes, protocol::handshake{});
    bytes.append(b.bytes());
    d.feed(bytes);
    std::vector<long> out;
    for (;;) {
        auto r = d.next();
        if (r.state == protocol::decode_result::status::need_more)
            return out;
        EXPECT_NE(r.state, protocol::decode_result::status::error) << r.error.message;
        if (r.state == protocol::decode_result::status::error)
            return out;
        if (auto* batch = std::get_if<protocol::op_batch>(&r.msg)) {
            out.push_back(static_cast<long>(batch->size()));
            for (std::size_t i = 0; ops && i < batch->size(); ++i)
                ops->push_back((*batch)[i]);
        } else if (std::holds_alternative<protocol::sync>(r.msg)) {
            out.push_back(-1);
        }
    }
}

void append(op_buffer& b, const op_record& r) {
    if (!b.try_append(r)) {
        ASSERT_NE(b.append(r, true), op_buffer::result::full);
    }
}

TEST(client_op_buffer, frames_are_split_at_the_payload_cap_and_around_other_frames) {
    op_buffer b;
    b.set_limits(1u << 20, 1u << 20, 64 * 1024);
    for (std::uint32_t i = 0; i < 5000; ++i)
        append(b, {op_code::inc, i, 1.0 + i});
    std::string sync;
    protocol::encode(sync, protocol::sync{7});
    b.append_frame(sync);
    append(b, {op_code::observe, 9, 0.5});
    b.seal();
    std::vector<op_record> ops;
    EXPECT_EQ(frames_of(b, &ops), (std::vector<long>{4096, 904, -1, 1}));
    ASSERT_EQ(ops.size(), 5001u);
    EXPECT_EQ(ops[4999].handle, 4999u);
    EXPECT_EQ(ops[4999].value, 5000.0);
    EXPECT_EQ(ops[5000].op, op_code::observe);
}

TEST(client_op_buffer, bound_applies_to_ops_not_to_control_frames) {
    op_buffer b;
    b.set_limits(8 + 10 * 16, 1u << 20, 64 * 1024);
    int appended = 0;
    for (int i = 0; i < 20; ++i) {
        if (b.try_append({op_code::inc, 0, 1}) ||
            b.append({op_code::inc, 0, 1}, true) != op_buffer::result::full)
            ++appended;
    }
    EXPECT_EQ(appended, 10);
    std::string sync;
    protocol::encode(sync, protocol::sync{1});
    b.append_frame(sync);                                                      // never dropped
    EXPECT_NE(b.append({op_code::inc, 0, 1}, false), op_buffer::result::full); // unbounded
    b.seal();
    EXPECT_EQ(frames_of(b), (std::vector<long>{10, -1, 1}));
}

TEST(client_op_buffer, wake_threshold_is_reported_once_per_fill) {
    op_buffer b;
    b.set_limits(1u << 20, 100, 64 * 1024);
    int crossings = 0;
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 50; ++i)
            if (!b.try_append({op_code::inc, 0, 1}) &&
                b.append({op_code::inc, 0, 1}, true) == op_buffer::result::appended_crossed)
                ++crossings;
        EXPECT_EQ(crossings, round + 1);
        op_buffer other;
        b.seal();
        b.swap_contents(other); // what the sender does; the emptied buffer may cross again
    }
}

TEST(client_op_buffer, lost_ops_are_those_of_incomplete_frames) {
    op_buffer b;
    b.set_limits(1u << 20, 1u << 20, 10 * 16); // 10 records per frame
    for (int i = 0; i < 25; ++i)
        append(b, {op_code::inc, 0, 1});
    b.seal();
    const std::size_t frame = 8 + 10 * 16;
    const std::size_t all = b.size();
    EXPECT_EQ(b.ops_lost(0, all), 25u);
    EXPECT_EQ(b.ops_lost(frame - 1, all), 25u); // the first frame is incomplete too
    EXPECT_EQ(b.ops_lost(frame, all), 15u);
    EXPECT_EQ(b.ops_lost(2 * frame + 3, all), 5u);
    EXPECT_EQ(b.ops_lost(all, all), 0u);
    EXPECT_EQ(b.ops_lost(0, 2 * frame), 20u); // frames from `limit` on are not counted
}

} // namespace
} // namespace metricsd::test

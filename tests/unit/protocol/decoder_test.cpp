// Decoder: buffering and splitting, limits judged from the header, fatal stickiness, long
// streams through the prepare/commit path, no allocation per OPS frame, error messages.
#include <metricsd/protocol/decoder.hpp>
#include <metricsd/protocol/encoder.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace mp = metricsd::protocol;
using status = mp::decode_result::status;

// Counts heap allocations while enabled, to prove the OPS path never allocates.
namespace {
bool counting_allocations = false;
std::size_t allocations = 0;
} // namespace

void* operator new(std::size_t n) {
    if (counting_allocations) {
        ++allocations;
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc{};
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

std::string handshake_bytes() {
    std::string out;
    mp::encode(out, mp::handshake{});
    return out;
}

/// An OPS frame of n inc records on series 1..n whose values are 1..n (sum exact in a double).
std::string ops_frame(std::size_t n) {
    std::string out;
    const std::size_t at = mp::begin_ops(out);
    for (std::size_t i = 1; i <= n; ++i) {
        mp::append_op(out,
                      {mp::op_code::inc, static_cast<std::uint32_t>(i), static_cast<double>(i)});
    }
    mp::finish_ops(out, at);
    return out;
}

std::string frame_header(std::uint32_t length, std::uint16_t type, std::uint16_t reserved = 0) {
    std::string out(mp::frame_header_size, '\0');
    std::memcpy(out.data(), &length, 4);
    std::memcpy(out.data() + 4, &type, 2);
    std::memcpy(out.data() + 6, &reserved, 2);
    return out;
}

/// A stream with one frame of every client type plus a bad one, after the handshake.
std::string mixed_stream() {
    std::string s = handshake_bytes();
    const std::string_view labels[] = {"method"};
    mp::encode(s, mp::family_decl{0,
                                  mp::metric_type::counter,
                                  mp::gauge_mode::livesum,
                                  "requests_total",
                                  "Requests.",
                                  labels,
                                  {}});
    const std::string_view values[] = {"GET"};
    mp::encode(s, mp::series_decl{0, 0, values});
    s += ops_frame(3);
    s += frame_header(2, 0x42) + "xy"; // unknown type: skipped
    mp::encode(s, mp::sync{77});
    s += ops_frame(1);
    return s;
}

/// A one-line summary of a result that owns nothing, so results can be compared later.
std::string summary(const mp::decode_result& r) {
    if (r.state == status::error) {
        return "error " + std::string(mp::to_string(r.error.code)) + " frame " +
               std::to_string(r.error.frame) + (r.error.fatal ? " fatal" : "");
    }
    if (const auto* f = std::get_if<mp::family_decl>(&r.msg)) {
        return "family " + std::string(f->name) + " " + std::string(f->label_names[0]);
    }
    if (const auto* s = std::get_if<mp::series_decl>(&r.msg)) {
        return "series " + std::string(s->label_values[0]);
    }
    if (const auto* b = std::get_if<mp::op_batch>(&r.msg)) {
        return "ops " + std::to_string(b->size()) + " last " +
               std::to_string((*b)[b->size() - 1].value);
    }
    if (const auto* s = std::get_if<mp::sync>(&r.msg)) {
        return "sync " + std::to_string(s->token);
    }
    return "message " + std::to_string(r.msg.index());
}

std::vector<std::string> drain(mp::decoder& d) {
    std::vector<std::string> out;
    for (auto r = d.next(); r.state != status::need_more; r = d.next()) {
        out.push_back(summary(r));
        if (r.state == status::error && r.error.fatal) {
            break;
        }
    }
    return out;
}

} // namespace

TEST(decoder, many_frames_in_one_feed) {
    std::string stream = handshake_bytes();
    std::size_t expected_records = 0;
    for (std::size_t i = 0; i < 1000; ++i) {
        stream += ops_frame(1 + i % 8);
        expected_records += 1 + i % 8;
    }
    mp::decoder d{mp::role::daemon};
    d.feed(stream);
    ASSERT_EQ(d.next().state, status::message);
    std::size_t records = 0;
    for (auto r = d.next(); r.state == status::message; r = d.next()) {
        records += std::get<mp::op_batch>(r.msg).size();
    }
    EXPECT_EQ(records, expected_records);
    EXPECT_EQ(d.frames(), 1000u);
    EXPECT_EQ(d.buffered(), 0u);
}

TEST(decoder, same_results_for_every_split) {
    const std::string stream = mixed_stream();
    mp::decoder whole{mp::role::daemon};
    whole.feed(stream);
    const auto expected = drain(whole);
    ASSERT_EQ(expected.size(), 7u);
    EXPECT_EQ(expected[4], "error unknown_frame_type frame 3");

    for (std::size_t a = 0; a <= stream.size(); ++a) {
        for (std::size_t b = a; b <= stream.size(); b += 7) { // three parts: a, b-a, rest
            mp::decoder d{mp::role::daemon};
            std::vector<std::string> got;
            for (auto part : {stream.substr(0, a), stream.substr(a, b - a), stream.substr(b)}) {
                d.feed(part);
                const auto more = drain(d);
                got.insert(got.end(), more.begin(), more.end());
            }
            ASSERT_EQ(got, expected) << "split at " << a << " and " << b;
        }
    }
}

TEST(decoder, prepare_commit_in_odd_sizes) {
    const std::string stream = mixed_stream();
    mp::decoder d{mp::role::daemon};
    std::vector<std::string> got;
    std::size_t at = 0;
    for (std::size_t step = 1; at < stream.size(); step = step % 13 + 1) {
        const auto span = d.prepare(step);
        ASSERT_GE(span.size(), step);
        const std::size_t n = std::min(step, stream.size() - at);
        std::memcpy(span.data(), stream.data() + at, n);
        d.commit(n);
        at += n;
        const auto more = drain(d);
        got.insert(got.end(), more.begin(), more.end());
    }
    mp::decoder whole{mp::role::daemon};
    whole.feed(stream);
    EXPECT_EQ(got, drain(whole));
    EXPECT_EQ(d.frames(), 6u);
}

TEST(decoder, frame_too_large_is_judged_from_the_header_alone) {
    mp::decoder d{mp::role::daemon, 1000};
    d.feed(handshake_bytes() + ops_frame(62)); // 992-byte payload: within the limit
    ASSERT_EQ(d.next().state, status::message);
    ASSERT_EQ(d.next().state, status::message);
    d.feed(frame_header(1008, 0x03)); // no payload sent at all
    const auto r = d.next();
    ASSERT_EQ(r.state, status::error);
    EXPECT_EQ(r.error.code, mp::error_code::frame_too_large);
    EXPECT_TRUE(r.error.fatal);
    EXPECT_EQ(r.error.frame, 1u);
    EXPECT_EQ(r.error.message, "frame of type 0x3 has a 1008-byte payload; the limit is 1000");
    EXPECT_TRUE(d.failed());
}

TEST(decoder, incomplete_payload_needs_more_until_the_last_byte) {
    const std::string stream = handshake_bytes() + ops_frame(4);
    mp::decoder d{mp::role::daemon};
    d.feed(stream.substr(0, stream.size() - 1));
    EXPECT_EQ(d.next().state, status::message);
    EXPECT_EQ(d.next().state, status::need_more);
    EXPECT_EQ(d.next().state, status::need_more);
    d.feed(stream.substr(stream.size() - 1));
    EXPECT_EQ(d.next().state, status::message);
}

TEST(decoder, fatal_error_sticks_and_input_after_it_is_dropped) {
    mp::decoder d{mp::role::daemon};
    d.feed(handshake_bytes() + ops_frame(1) + frame_header(8, 0x04, 0x0100));
    EXPECT_EQ(d.next().state, status::message);
    EXPECT_EQ(d.next().state, status::message);
    const auto first = d.next();
    ASSERT_EQ(first.state, status::error);
    EXPECT_EQ(first.error.code, mp::error_code::bad_frame_header);
    EXPECT_EQ(first.error.frame, 1u);
    for (int i = 0; i < 3; ++i) {
        d.feed(ops_frame(5));
        const auto again = d.next();
        ASSERT_EQ(again.state, status::error);
        EXPECT_EQ(again.error.code, first.error.code);
        EXPECT_EQ(again.error.message, first.error.message);
        EXPECT_TRUE(again.error.fatal);
    }
    EXPECT_EQ(d.buffered(), 0u);
    EXPECT_EQ(d.frames(), 1u);
}

TEST(decoder, handshake_errors) {
    struct probe {
        std::string bytes;
        mp::error_code code;
        std::string message;
    };
    const probe probes[] = {
        {"GET ", mp::error_code::bad_magic,
         "bad magic \"GET \" (47 45 54 20); a metricsd client starts with \"MTRD\""},
        {std::string("MTRD\x07\x00\x00\x00", 8), mp::error_code::unsupported_version,
         "unsupported protocol version 7; this daemon speaks 1"},
        {std::string("MTRD\x01\x00\x02\x00", 8), mp::error_code::bad_handshake,
         "handshake flags are 0x2; version 1 defines none, they must be 0"},
    };
    for (const auto& p : probes) {
        mp::decoder d{mp::role::daemon};
        d.feed(p.bytes); // bad magic is judged after 4 bytes, before version and flags arrive
        const auto r = d.next();
        ASSERT_EQ(r.state, status::error) << p.message;
        EXPECT_EQ(r.error.code, p.code);
        EXPECT_EQ(r.error.message, p.message);
        EXPECT_EQ(r.error.frame, mp::no_frame);
        EXPECT_FALSE(d.handshake_done());
    }
}

TEST(decoder, handshake_arrives_in_pieces) {
    const std::string hs = handshake_bytes();
    mp::decoder d{mp::role::daemon};
    for (std::size_t i = 0; i + 1 < hs.size(); ++i) {
        d.feed(hs.substr(i, 1));
        EXPECT_EQ(d.next().state, status::need_more) << i;
    }
    d.feed(hs.substr(hs.size() - 1));
    EXPECT_EQ(d.next().state, status::message);
    EXPECT_TRUE(d.handshake_done());
    EXPECT_EQ(d.frames(), 0u);
}

TEST(decoder, error_messages_name_the_offending_value) {
    const std::string name(300, 'n');
    std::string s = handshake_bytes();
    mp::encode(
        s, mp::family_decl{5, mp::metric_type::counter, mp::gauge_mode::livesum, name, "", {}, {}});
    std::string ops = ops_frame(3);
    ops[mp::frame_header_size + 16] = 9; // record 1: op code 9
    s += ops;
    mp::decoder d{mp::role::daemon};
    d.feed(s);
    ASSERT_EQ(d.next().state, status::message);
    auto r = d.next();
    EXPECT_EQ(r.error.code, mp::error_code::string_too_long);
    EXPECT_EQ(r.error.handle, 5u);
    EXPECT_EQ(r.error.frame, 0u);
    EXPECT_EQ(r.error.message, "metric name is 300 bytes; the limit is 255");
    r = d.next();
    EXPECT_EQ(r.error.code, mp::error_code::malformed_frame);
    EXPECT_EQ(r.error.frame, 1u);
    EXPECT_EQ(r.error.message,
              "OPS record 1 of 3: op code 9 is not 1 (inc), 2 (dec), 3 (set) or 4 (observe)");
    EXPECT_FALSE(r.error.fatal);
    EXPECT_EQ(d.frames(), 2u) << "skipped frames count";
}

TEST(decoder, client_role_has_no_handshake) {
    std::string s;
    mp::encode(s, mp::welcome{});
    mp::encode(s, mp::ack{3});
    mp::decoder d{mp::role::client};
    EXPECT_TRUE(d.handshake_done());
    d.feed(s);
    auto r = d.next();
    ASSERT_EQ(r.state, status::message) << r.error.message;
    EXPECT_EQ(std::get<mp::welcome>(r.msg).max_frame_payload, mp::limits::max_frame_payload);
    r = d.next();
    ASSERT_EQ(r.state, status::message);
    EXPECT_EQ(std::get<mp::ack>(r.msg).token, 3u);
}

// 100 MB through prepare/commit in 64 KiB reads, as a socket would deliver it: frames of
// many sizes straddle every read boundary, the buffer compacts instead of growing, and not
// one record is lost or doubled.
TEST(decoder, long_stream_in_64k_reads) {
    std::string period;
    std::size_t period_records = 0;
    double period_sum = 0;
    for (std::size_t n = 1; n <= 300; n += 7) {
        period += ops_frame(n);
        period_records += n;
        period_sum += static_cast<double>(n * (n + 1) / 2);
    }
    const std::size_t periods = 100'000'000 / period.size() + 1;
    const std::string stream_head = handshake_bytes();
    const std::size_t total = stream_head.size() + periods * period.size();
    constexpr std::size_t read_size = 64 * 1024;

    mp::decoder d{mp::role::daemon};
    std::size_t records = 0, max_capacity = 0;
    double sum = 0;
    for (std::size_t at = 0; at < total;) {
        const auto span = d.prepare(read_size);
        const std::size_t n = std::min(read_size, total - at);
        for (std::size_t i = 0; i < n; ++i, ++at) { // byte at 'at' of head + period repeated
            span[i] = at < stream_head.size() ? stream_head[at]
                                              : period[(at - stream_head.size()) % period.size()];
        }
        d.commit(n);
        for (auto r = d.next(); r.state == status::message; r = d.next()) {
            if (const auto* b = std::get_if<mp::op_batch>(&r.msg)) {
                records += b->size();
                for (std::size_t i = 0; i < b->size(); ++i) {
                    sum += (*b)[i].value;
                }
            }
        }
        max_capacity = std::max(max_capacity, d.capacity());
    }
    EXPECT_EQ(records, periods * period_records);
    EXPECT_EQ(sum, static_cast<double>(periods) * period_sum);
    EXPECT_EQ(d.buffered(), 0u);
    EXPECT_FALSE(d.failed());
    EXPECT_LE(max_capacity, 4 * read_size) << "the buffer must compact, not grow";
}

TEST(decoder, no_allocation_per_ops_frame_or_declaration) {
    std::string stream = handshake_bytes();
    for (std::size_t i = 0; i < 200; ++i) {
        stream += ops_frame(1 + i % 50);
    }
    std::vector<std::string> labels(mp::limits::max_labels, "label");
    std::vector<std::string> bounds(mp::limits::max_buckets, "1.5");
    const std::vector<std::string_view> label_views(labels.begin(), labels.end());
    const std::vector<std::string_view> bound_views(bounds.begin(), bounds.end());
    mp::encode(stream, mp::family_decl{1, mp::metric_type::histogram, mp::gauge_mode::livesum, "h",
                                       "", label_views, bound_views});
    mp::encode(stream, mp::series_decl{1, 1, label_views});

    mp::decoder d{mp::role::daemon};
    d.prepare(stream.size()); // the buffer's one allocation happens here
    counting_allocations = true;
    allocations = 0;
    d.feed(stream);
    std::size_t messages = 0;
    for (auto r = d.next(); r.state == status::message; r = d.next()) {
        ++messages;
    }
    counting_allocations = false;
    EXPECT_EQ(messages, 203u);
    EXPECT_EQ(allocations, 0u);
}

TEST(decoder, views_stay_valid_until_the_next_call) {
    std::string s = handshake_bytes();
    const std::string_view labels[] = {"method", "code"};
    mp::encode(
        s,
        mp::family_decl{
            3, mp::metric_type::counter, mp::gauge_mode::livesum, "x_total", "Help.", labels, {}});
    s += ops_frame(2);
    mp::decoder d{mp::role::daemon};
    d.feed(s);
    ASSERT_EQ(d.next().state, status::message);
    const auto family = d.next();
    const auto& f = std::get<mp::family_decl>(family.msg);
    // Read-only calls do not disturb the views.
    EXPECT_EQ(d.frames(), 1u);
    EXPECT_GT(d.buffered(), 0u);
    EXPECT_EQ(f.name, "x_total");
    EXPECT_EQ(f.help, "Help.");
    ASSERT_EQ(f.label_names.size(), 2u);
    EXPECT_EQ(f.label_names[1], "code");
    const auto ops = d.next(); // the last frame: the buffer is fully consumed, views still good
    EXPECT_EQ(d.buffered(), 0u);
    const auto& b = std::get<mp::op_batch>(ops.msg);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[1].handle, 2u);
    EXPECT_EQ(b[1].value, 2.0);
}

TEST(decoder, unknown_frame_waits_for_its_payload_then_is_skipped) {
    mp::decoder d{mp::role::daemon};
    d.feed(handshake_bytes() + frame_header(100, 0x7f) + std::string(99, 'z'));
    ASSERT_EQ(d.next().state, status::message);
    EXPECT_EQ(d.next().state, status::need_more);
    d.feed("z" + ops_frame(1));
    const auto r = d.next();
    ASSERT_EQ(r.state, status::error);
    EXPECT_EQ(r.error.code, mp::error_code::unknown_frame_type);
    EXPECT_FALSE(r.error.fatal);
    EXPECT_EQ(d.next().state, status::message);
    EXPECT_EQ(d.frames(), 2u);
}

// Issue 11 item 8 / issue 12: a frame still arriving holds about its own size (the buffer
// used to double past it: ~2 MiB for an incomplete 1 MiB frame), and a decoder with nothing
// buffered can give its buffer back.
TEST(decoder, incomplete_large_frame_holds_its_size_and_release_frees_the_buffer) {
    const std::size_t records = mp::limits::max_frame_payload / mp::op_record_size;
    const std::string stream = handshake_bytes() + ops_frame(records);
    mp::decoder d{mp::role::daemon};
    std::size_t at = 0;
    const auto read = [&](std::size_t n) {
        const auto span = d.prepare(n);
        const std::size_t k = std::min({n, span.size(), stream.size() - at});
        std::copy_n(stream.data() + at, k, span.data());
        d.commit(k);
        at += k;
    };
    read(4096);
    EXPECT_EQ(d.capacity(), 4096u) << "the first read allocates what it asks for";
    ASSERT_EQ(d.next().state, status::message); // the handshake
    ASSERT_EQ(d.next().state, status::need_more);
    const std::size_t frame = mp::frame_header_size + mp::limits::max_frame_payload;
    EXPECT_EQ(d.frame_remaining(), frame - (4096 - mp::handshake_size));
    while (d.frame_remaining() > 1) {
        read(std::min<std::size_t>(d.frame_remaining() - 1, 256 * 1024));
        EXPECT_LE(d.capacity(), frame);
    }
    EXPECT_EQ(d.capacity(), frame);
    d.release(); // refused: a frame is buffered
    EXPECT_EQ(d.capacity(), frame);
    read(1);
    EXPECT_EQ(d.frame_remaining(), 0u);
    const auto r = d.next();
    ASSERT_EQ(r.state, status::message);
    EXPECT_EQ(std::get<mp::op_batch>(r.msg).size(), records);
    EXPECT_EQ(d.next().state, status::need_more);
    d.release();
    EXPECT_EQ(d.capacity(), 0u);
    EXPECT_EQ(d.buffered(), 0u);
}

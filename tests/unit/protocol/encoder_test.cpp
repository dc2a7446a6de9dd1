// Encoder: byte layout basics, the in-place OPS builder, length errors, and round trips of
// every message type through the decoder. Exact bytes are pinned by vectors_test.cpp.
#include <metricsd/protocol/decoder.hpp>
#include <metricsd/protocol/encoder.hpp>

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace mp = metricsd::protocol;
using status = mp::decode_result::status;

namespace {

std::vector<mp::op_record> sample_records(std::size_t n) {
    std::vector<mp::op_record> out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back({static_cast<mp::op_code>(1 + i % 4), static_cast<std::uint32_t>(i * 7),
                       static_cast<double>(i) / 3});
    }
    return out;
}

/// Decodes bytes as the given side and returns the single message, checked by check().
template <class M, class Check>
void round_trip(mp::role role, const std::string& bytes, Check check) {
    mp::decoder d{role};
    if (role == mp::role::daemon) {
        std::string hs;
        mp::encode(hs, mp::handshake{});
        d.feed(hs);
        ASSERT_EQ(d.next().state, status::message);
    }
    d.feed(bytes);
    const auto r = d.next();
    ASSERT_EQ(r.state, status::message) << r.error.message;
    ASSERT_TRUE(std::holds_alternative<M>(r.msg));
    check(std::get<M>(r.msg));
    EXPECT_EQ(d.next().state, status::need_more);
    EXPECT_EQ(d.buffered(), 0u);
}

std::vector<std::string> strings(std::span<const std::string_view> views) {
    return {views.begin(), views.end()};
}

} // namespace

TEST(encoder, handshake_is_magic_version_and_zero_flags) {
    std::string out = "x";
    mp::encode(out, mp::handshake{});
    EXPECT_EQ(out, std::string("xMTRD\x01\x00\x00\x00", 9)) << "appends, never overwrites";
}

TEST(encoder, builder_equals_encode_ops) {
    const auto records = sample_records(1000);
    std::string expected = "prefix";
    mp::encode_ops(expected, records);

    std::string built = "prefix";
    const std::size_t at = mp::begin_ops(built);
    EXPECT_EQ(at, 6u);
    for (const auto& r : records) {
        mp::append_op(built, r);
    }
    mp::finish_ops(built, at);
    EXPECT_EQ(built, expected);
    EXPECT_EQ(built.size(), 6 + mp::frame_header_size + 1000 * mp::op_record_size);
}

TEST(encoder, empty_batch_sends_nothing) {
    std::string out = "abc";
    mp::encode_ops(out, {});
    EXPECT_EQ(out, "abc");
    mp::finish_ops(out, mp::begin_ops(out));
    EXPECT_EQ(out, "abc");
}

TEST(encoder, string_that_overflows_u16_throws_and_leaves_output_unchanged) {
    const std::string fits(65535, 'a');
    const std::string too_long(65536, 'a');
    std::string out = "keep";
    mp::encode(out, mp::family_decl{
                        1, mp::metric_type::counter, mp::gauge_mode::livesum, "x", fits, {}, {}});
    EXPECT_EQ(out.size(), 4 + mp::frame_header_size + 12 + 3 + 2 + 65535);

    out = "keep";
    EXPECT_THROW(
        mp::encode(
            out,
            mp::family_decl{
                1, mp::metric_type::counter, mp::gauge_mode::livesum, "x", too_long, {}, {}}),
        std::length_error);
    EXPECT_EQ(out, "keep");
    const std::string_view values[] = {"ok", too_long};
    EXPECT_THROW(mp::encode(out, mp::series_decl{1, 0, values}), std::length_error);
    EXPECT_THROW(mp::encode(out, mp::error{mp::error_code::internal, 0, 0, too_long}),
                 std::length_error);
    EXPECT_EQ(out, "keep");
}

TEST(encoder, list_longer_than_u16_count_throws) {
    const std::vector<std::string_view> labels(65536, "l");
    std::string out;
    EXPECT_THROW(mp::encode(out, mp::series_decl{1, 0, labels}), std::length_error);
    EXPECT_TRUE(out.empty());
}

TEST(encoder, round_trip_family) {
    const std::string_view labels[] = {"method", "code"};
    const std::string_view buckets[] = {"0.005", "1", "2.5"};
    std::string bytes;
    mp::encode(bytes, mp::family_decl{42, mp::metric_type::histogram, mp::gauge_mode::livesum,
                                      "latency_seconds", "Latency.", labels, buckets});
    round_trip<mp::family_decl>(mp::role::daemon, bytes, [&](const mp::family_decl& m) {
        EXPECT_EQ(m.handle, 42u);
        EXPECT_EQ(m.type, mp::metric_type::histogram);
        EXPECT_EQ(m.mode, mp::gauge_mode::livesum);
        EXPECT_EQ(m.name, "latency_seconds");
        EXPECT_EQ(m.help, "Latency.");
        EXPECT_EQ(strings(m.label_names), (std::vector<std::string>{"method", "code"}));
        EXPECT_EQ(strings(m.buckets), (std::vector<std::string>{"0.005", "1", "2.5"}));
    });
}

TEST(encoder, round_trip_gauge_family_at_the_limits) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < mp::limits::max_labels; ++i) {
        names.push_back("label_" + std::to_string(i));
    }
    const std::vector<std::string_view> views(names.begin(), names.end());
    const std::string name(mp::limits::max_name_length, 'n');
    const std::string help(mp::limits::max_help_length, 'h');
    std::string bytes;
    mp::encode(bytes, mp::family_decl{mp::limits::max_family_handle,
                                      mp::metric_type::gauge,
                                      mp::gauge_mode::shared,
                                      name,
                                      help,
                                      views,
                                      {}});
    round_trip<mp::family_decl>(mp::role::daemon, bytes, [&](const mp::family_decl& m) {
        EXPECT_EQ(m.handle, mp::limits::max_family_handle);
        EXPECT_EQ(m.mode, mp::gauge_mode::shared);
        EXPECT_EQ(m.name, name);
        EXPECT_EQ(m.help, help);
        EXPECT_EQ(strings(m.label_names), names);
        EXPECT_TRUE(m.buckets.empty());
    });
}

TEST(encoder, round_trip_series) {
    const std::string_view values[] = {"GET", "", "日本"};
    std::string bytes;
    mp::encode(bytes, mp::series_decl{mp::limits::max_series_handle, 7, values});
    round_trip<mp::series_decl>(mp::role::daemon, bytes, [&](const mp::series_decl& m) {
        EXPECT_EQ(m.handle, mp::limits::max_series_handle);
        EXPECT_EQ(m.family, 7u);
        EXPECT_EQ(strings(m.label_values), (std::vector<std::string>{"GET", "", "日本"}));
    });
}

TEST(encoder, round_trip_ops) {
    auto records = sample_records(50);
    records[3].value = -0.0;
    records[4].value = std::numeric_limits<double>::quiet_NaN();
    records[5].value = -std::numeric_limits<double>::infinity();
    std::string bytes;
    mp::encode_ops(bytes, records);
    round_trip<mp::op_batch>(mp::role::daemon, bytes, [&](const mp::op_batch& b) {
        ASSERT_EQ(b.size(), records.size());
        for (std::size_t i = 0; i < records.size(); ++i) {
            EXPECT_EQ(b[i].op, records[i].op);
            EXPECT_EQ(b[i].handle, records[i].handle);
            EXPECT_EQ(std::bit_cast<std::uint64_t>(b[i].value),
                      std::bit_cast<std::uint64_t>(records[i].value));
        }
    });
}

TEST(encoder, round_trip_sync_and_ack) {
    std::string bytes;
    mp::encode(bytes, mp::sync{0xfedcba9876543210ull});
    round_trip<mp::sync>(mp::role::daemon, bytes,
                         [](const mp::sync& m) { EXPECT_EQ(m.token, 0xfedcba9876543210ull); });
    bytes.clear();
    mp::encode(bytes, mp::ack{~0ull});
    round_trip<mp::ack>(mp::role::client, bytes,
                        [](const mp::ack& m) { EXPECT_EQ(m.token, ~0ull); });
}

TEST(encoder, round_trip_client_stats) {
    std::string bytes;
    mp::encode(bytes, mp::client_stats{~0ull});
    EXPECT_EQ(bytes, std::string("\x08\0\0\0\x06\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff", 16));
    round_trip<mp::client_stats>(mp::role::daemon, bytes, [](const mp::client_stats& m) {
        EXPECT_EQ(m.dropped_ops, ~0ull);
    });
}

TEST(encoder, round_trip_welcome) {
    std::string bytes;
    mp::encode(bytes, mp::welcome{1, 4096, 10, 20});
    round_trip<mp::welcome>(mp::role::client, bytes, [](const mp::welcome& m) {
        EXPECT_EQ(m.version, 1);
        EXPECT_EQ(m.max_frame_payload, 4096u);
        EXPECT_EQ(m.max_family_handle, 10u);
        EXPECT_EQ(m.max_series_handle, 20u);
    });
}

TEST(encoder, round_trip_error) {
    const std::string text(mp::limits::max_error_message_length, 'e');
    std::string bytes;
    mp::encode(bytes, mp::error{mp::error_code::handle_conflict, 9, 123456789012ull, text});
    mp::encode(bytes, mp::error{static_cast<mp::error_code>(999), mp::no_handle, mp::no_frame, ""});
    mp::decoder d{mp::role::client};
    d.feed(bytes);
    auto r = d.next();
    ASSERT_EQ(r.state, status::message) << r.error.message;
    const auto& e = std::get<mp::error>(r.msg);
    EXPECT_EQ(e.code, mp::error_code::handle_conflict);
    EXPECT_EQ(e.handle, 9u);
    EXPECT_EQ(e.frame, 123456789012ull);
    EXPECT_EQ(e.message, text);
    r = d.next();
    ASSERT_EQ(r.state, status::message) << "codes a client does not know still decode";
    EXPECT_EQ(static_cast<int>(std::get<mp::error>(r.msg).code), 999);
    EXPECT_EQ(mp::to_string(std::get<mp::error>(r.msg).code), "unknown");
    EXPECT_EQ(std::get<mp::error>(r.msg).frame, mp::no_frame);
}

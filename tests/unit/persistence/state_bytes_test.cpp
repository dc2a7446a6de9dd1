// State file bytes: the exact encoding of format version 1, pinned. A file written by one
// metricsd must read back in the next, and the spelling of every string is part of the format:
// raw UTF-8, `"` and `\` escaped, every byte below 0x20 as `\u00xx` (never the short `\n`),
// `/` and DEL as they are. A string with invalid UTF-8 (only the hostname and instance can
// hold one: help and label values are checked on declare) is written as nlohmann writes it:
// U+FFFD per maximal invalid subpart, raw, and `\n` `\t` `\r` `\b` `\f` in their short form.
#include "daemon/persistence/state_codec.hpp"
#include "daemon/store/store.hpp"
#include "store_fixture.hpp"

#include <gtest/gtest.h>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;
using protocol::op_code;
using test::bind;
using test::declare;

void build_strings(store& s) {
    const auto w = s.add_worker(1);
    const auto c = declare(s, {"esc_total",
                               metric_type::counter,
                               "Tab\there \"q\" back\\slash /slash del\x7f \xc3\xa9 "
                               "\xf0\x9f\x98\x80 \x01",
                               {"v"}})
                       .value();
    for (std::string_view v : {"\x01\b\t\n\f\r\x1f", "/", "\x7f", "\xc3\xa9\xf0\x9f\x98\x80",
                               "\"\\", "\xe2\x80\xa8\xef\xbb\xbf\xef\xbf\xbd"})
        s.apply(s.declare_series(c, std::vector<std::string_view>{v}, w).value(), op_code::inc,
                1.5);
    const auto h =
        declare(s, {"lat_seconds", metric_type::histogram, "", {}, {"0.1", "1e1"}}).value();
    s.apply(bind(s, h, {}, w), op_code::observe, 0.5);
    s.retire_worker(w);
}

TEST(state_bytes, every_string_spelling_is_pinned) {
    store s;
    build_strings(s);
    const state_metadata meta{1'700'000'000, std::string("h\xff\xc3o\x00st\n", 8),
                              "\xed\xa0\x80\xf4\x90\x80\x80"};
    const std::string want =
        "metricsd-state 1 crc32=ecdb11f0 bytes=629\n"
        "{\"written_at\":1700000000,"
        "\"hostname\":\"h\xef\xbf\xbd\xef\xbf\xbdo\\u0000st\\n\","
        "\"instance\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
        "\"families\":[\n"
        "{\"name\":\"esc_total\",\"type\":\"counter\","
        "\"help\":\"Tab\\u0009here \\\"q\\\" back\\\\slash /slash del\x7f \xc3\xa9 "
        "\xf0\x9f\x98\x80 \\u0001\","
        "\"labels\":[\"v\"],\"series\":[\n"
        "{\"labels\":[\"\\u0001\\u0008\\u0009\\u000a\\u000c\\u000d\\u001f\"],\"value\":1.5},\n"
        "{\"labels\":[\"\\\"\\\\\"],\"value\":1.5},\n"
        "{\"labels\":[\"/\"],\"value\":1.5},\n"
        "{\"labels\":[\"\x7f\"],\"value\":1.5},\n"
        "{\"labels\":[\"\xc3\xa9\xf0\x9f\x98\x80\"],\"value\":1.5},\n"
        "{\"labels\":[\"\xe2\x80\xa8\xef\xbb\xbf\xef\xbf\xbd\"],\"value\":1.5}]},\n"
        "{\"name\":\"lat_seconds\",\"type\":\"histogram\",\"help\":\"\",\"labels\":[],"
        "\"buckets\":[\"0.1\",\"1e1\"],\"series\":[\n"
        "{\"labels\":[],\"buckets\":[0,1,0],\"sum\":0.5,\"count\":1}]}]}\n";
    EXPECT_EQ(encode_state(s, meta), want);
    // And the pinned bytes read back to the same store.
    store back;
    const auto r = restore_state(want, back);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.meta.hostname, std::string("h\xef\xbf\xbd\xef\xbf\xbdo\x00st\n", 12));
    EXPECT_EQ(encode_state(back, meta), want);
}

} // namespace
} // namespace metricsd::daemon

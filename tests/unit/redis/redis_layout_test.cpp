// pytheus-compatible naming: json.dumps fixtures (produced by /usr/bin/python3's json module),
// key names, the lenient label parser, numbers and the metadata record.
#include "daemon/redis/redis_json.hpp"
#include "daemon/redis/redis_layout.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace metricsd::daemon {
namespace {

using strings = std::vector<std::string>;

std::string dumps(const strings& names, const strings& values) {
    std::string out;
    append_python_json_labels(out, names, values);
    return out;
}

struct dumps_fixture {
    strings names;
    strings values;     // UTF-8 bytes
    std::string python; // json.dumps(dict(zip(names, values))) as printed by Python 3.11
};

// Each expected text was printed by `python3 -c 'import json; print(json.dumps({...}))'`.
const dumps_fixture fixtures[] = {
    {{"method", "code"}, {"GET", "200"}, R"({"method": "GET", "code": "200"})"},
    {{"q"}, {"\xc3\xa9\"x\\"}, R"({"q": "\u00e9\"x\\"})"},
    {{"service", "method"}, {"api", "GET"}, R"({"service": "api", "method": "GET"})"},
    {{"a"}, {"\n\r\t\b\f"}, R"({"a": "\n\r\t\b\f"})"},
    {{"a"}, {std::string("\x00\x01\x1f\x7f", 4)}, R"({"a": "\u0000\u0001\u001f\u007f"})"},
    {{"a"}, {"\xe2\x80\xa8\xf0\x9f\x98\x80"}, R"({"a": "\u2028\ud83d\ude00"})"},
    {{"a"}, {"\xe6\x97\xa5\xe6\x9c\xac"}, R"({"a": "\u65e5\u672c"})"},
    {{"a"}, {"/ ~"}, R"({"a": "/ ~"})"},
    {{}, {}, R"({})"},
    {{"a", "b"}, {"", ""}, R"({"a": "", "b": ""})"},
    {{"a"}, {"\xc2\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf"}, R"({"a": "\u0080\uffff\udbff\udfff"})"},
};

TEST(redis_json, matches_python_json_dumps) {
    for (const auto& f : fixtures)
        EXPECT_EQ(dumps(f.names, f.values), f.python);
}

TEST(redis_json, parses_every_fixture_back) {
    for (const auto& f : fixtures) {
        const auto values = parse_label_json(f.python, f.names);
        ASSERT_TRUE(values) << f.python;
        EXPECT_EQ(*values, f.values) << f.python;
    }
}

// Python's bytes.decode("utf-8", "replace") then json.dumps, one U+FFFD per maximal subpart.
TEST(redis_json, invalid_utf8_becomes_replacement_characters_as_in_python) {
    const auto str = [](std::string_view s) {
        std::string out;
        append_python_json_string(out, s);
        return out;
    };
    EXPECT_EQ(str("a\xff"
                  "b\xe2\x82"),
              R"("a\ufffdb\ufffd")");
    EXPECT_EQ(str("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");
    EXPECT_EQ(str("\xc0\xaf"), R"("\ufffd\ufffd")");
    EXPECT_EQ(str("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");
    EXPECT_EQ(str("\xe2\x82\xac\xf0\x9f"), R"("\u20ac\ufffd")");
}

TEST(redis_json, parser_accepts_any_key_order_and_spelling) {
    const strings names{"method", "code"};
    const strings want{"GET", "200"};
    EXPECT_EQ(parse_label_json(R"({"code": "200", "method": "GET"})", names), want);
    EXPECT_EQ(parse_label_json(R"({"method":"GET","code":"200"})", names), want);
    EXPECT_EQ(parse_label_json(" {\n\"method\" :\t\"GE\\u0054\", \"code\": \"2\\/00\"} ",
                               strings{"method", "code"}),
              (strings{"GET", "2/00"}));
    // ensure_ascii=False writers put raw UTF-8 in; upper-case hex is valid JSON too.
    EXPECT_EQ(parse_label_json(R"({"q": "é\u00E9\uD83D\uDE00"})", strings{"q"}),
              (strings{"\xc3\xa9\xc3\xa9\xf0\x9f\x98\x80"}));
}

TEST(redis_json, parser_rejects_malformed_fields) {
    const strings names{"method", "code"};
    for (std::string_view bad : {
             R"({"method": "GET"})",                          // missing key
             R"({"method": "GET", "code": "200", "x": "1"})", // extra key
             R"({"method": "GET", "method": "GET"})",         // duplicate key
             R"({"method": "GET", "code": 200})",             // not a string
             R"({"method": "GET", "code": ["200"]})",         // array
             R"({"method": "GET", "code": "200"} x)",         // trailing bytes
             R"({"method": "GET", "code": "200")",            // truncated
             R"({"method": "GET", "code": "2\q"})",           // bad escape
             R"({"method": "GET", "code": "\ud800"})",        // lone high surrogate
             R"({"method": "GET", "code": "\udc00"})",        // lone low surrogate
             R"({"method": "GET", "code": "\u12"})",          // short \u
             "{\"method\": \"GET\", \"code\": \"a\nb\"}",     // raw control character
             "200-GET",                                       // old pytheus hash field
             "",
         })
        EXPECT_FALSE(parse_label_json(bad, names)) << bad;
    EXPECT_FALSE(parse_label_json("{}", names));
    EXPECT_TRUE(parse_label_json("{}", strings{}));
}

TEST(redis_layout, key_names) {
    EXPECT_EQ(data_key("", "http_requests_total"), "http_requests_total");
    EXPECT_EQ(data_key("svc", "http_requests_total"), "svc-http_requests_total");
    EXPECT_EQ(cell_key("", "lat", "0.005"), "lat:0.005");
    EXPECT_EQ(cell_key("svc", "lat", "+Inf"), "svc-lat:+Inf");
    EXPECT_EQ(cell_key("", "lat", sum_cell), "lat:sum");
    EXPECT_EQ(cell_key("", "lat", count_cell), "lat:count");
    EXPECT_EQ(meta_key(""), "metricsd:meta");
    EXPECT_EQ(meta_key("svc"), "svc-metricsd:meta");
    EXPECT_EQ(flushseq_key("svc", "host1-42-abc"), "svc-metricsd:flushseq:host1-42-abc");
}

family_spec spec_of(protocol::metric_type type, strings labels = {}, strings buckets = {},
                    protocol::gauge_mode mode = protocol::gauge_mode::livesum) {
    std::vector<std::string_view> l(labels.begin(), labels.end()),
        b(buckets.begin(), buckets.end());
    protocol::family_decl d;
    d.type = type;
    d.mode = mode;
    d.name = "m";
    d.help = "Help \"text\" \xc3\xa9";
    d.label_names = l;
    d.buckets = b;
    auto s = make_family_spec(d);
    EXPECT_TRUE(s) << s.error().message;
    return s.value();
}

TEST(redis_layout, cell_names_keep_declared_bound_texts) {
    using protocol::metric_type;
    const auto h = spec_of(metric_type::histogram, {}, {"1e-05", "1", "2.5", "1.0e1"});
    const std::vector<std::string_view> want{"1e-05", "1", "2.5", "1.0e1", "+Inf", "sum", "count"};
    EXPECT_EQ(cell_names(h), want);
    EXPECT_EQ(cell_names(spec_of(metric_type::summary)),
              (std::vector<std::string_view>{"sum", "count"}));
    EXPECT_TRUE(cell_names(spec_of(metric_type::counter)).empty());
    EXPECT_EQ(redis_label_names(spec_of(metric_type::gauge, {"a"}, {}, protocol::gauge_mode::all)),
              (strings{"a", "pid"}));
    EXPECT_EQ(redis_label_names(spec_of(metric_type::gauge, {"a"})), strings{"a"});
}

TEST(redis_layout, numbers) {
    const auto text = [](double v) {
        std::string s;
        append_redis_number(s, v);
        return s;
    };
    EXPECT_EQ(text(3), "3");
    EXPECT_EQ(text(-2.5), "-2.5");
    EXPECT_EQ(text(0.1), "0.1");
    EXPECT_EQ(text(1e-7), "1e-07");
    EXPECT_EQ(text(std::numeric_limits<double>::infinity()), "inf");
    EXPECT_EQ(text(std::nan("")), "nan");
    // What Redis's INCRBYFLOAT returns (long double, %.17Lf trimmed) and redis-py's SET writes.
    EXPECT_EQ(parse_redis_number("10.5"), 10.5);
    EXPECT_EQ(parse_redis_number("3"), 3.0);
    EXPECT_EQ(parse_redis_number("-0"), 0.0);
    EXPECT_EQ(parse_redis_number("100000000000000000000"), 1e20);
    EXPECT_EQ(parse_redis_number("1.0000000000000001e+20"), 1.0000000000000001e+20);
    EXPECT_EQ(parse_redis_number("+4"), 4.0);
    EXPECT_EQ(parse_redis_number("inf"), std::numeric_limits<double>::infinity());
    EXPECT_TRUE(std::isnan(*parse_redis_number("nan")));
    for (std::string_view bad : {"", " 1", "1 ", "1,5", "abc", "++1", "0x10", "1e"})
        EXPECT_FALSE(parse_redis_number(bad)) << bad;
}

TEST(redis_layout, metadata_record_round_trips) {
    using protocol::metric_type;
    const auto h = spec_of(metric_type::histogram, {"method"}, {"0.005", "1", "2.5"});
    const auto record = encode_family_meta(h);
    EXPECT_EQ(record, R"({"type": "histogram", "mode": "livesum", "help": "Help \"text\" \u00e9", )"
                      R"("labels": ["method"], "buckets": ["0.005", "1", "2.5"]})");
    const auto back = decode_family_meta("m", record);
    ASSERT_TRUE(back);
    EXPECT_EQ(conflict_between(h, *back), "");
    EXPECT_EQ(back->help, h.help);
    EXPECT_EQ(back->bucket_texts, h.bucket_texts);

    const auto g = spec_of(metric_type::gauge, {"a"}, {}, protocol::gauge_mode::shared);
    const auto g_back = decode_family_meta("m", R"({"labels":["a"],"mode":"shared","x":"new",)"
                                                R"("type":"gauge"})");
    ASSERT_TRUE(g_back);
    EXPECT_EQ(conflict_between(g, *g_back), "");
}

TEST(redis_layout, metadata_record_rejects_invalid_declarations) {
    for (std::string_view bad : {
             R"({"type": "histogram", "buckets": ["2", "1"]})", // not increasing
             R"({"type": "histogram"})",                        // no buckets
             R"({"type": "counter", "labels": ["le"]})",        // reserved label
             R"({"type": "timer"})",                            // unknown type
             R"({"type": "gauge", "mode": "loudest"})",         // unknown mode
             R"({"mode": "livesum"})",                          // no type
             R"({"type": ["counter"]})",                        // wrong shape
             R"(not json)",
         })
        EXPECT_FALSE(decode_family_meta("m", bad)) << bad;
    EXPECT_FALSE(decode_family_meta("bad name", R"({"type": "counter"})"));
}

} // namespace
} // namespace metricsd::daemon

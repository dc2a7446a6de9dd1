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
    // Edge cases pinned when the writer moved to nlohmann's dump (same Python 3.11 source):
    // every C0 control, DEL and C1 controls, `/` (never escaped), printable ASCII, astral
    // planes and their boundaries, separators and non-characters, non-ASCII keys.
    {{"a"},
     {std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
                  "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ",
                  33)},
     R"({"a": "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f)"
     R"(\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e)"
     R"(\u001f "})"},
    {{"a"}, {"\x7f\xc2\x80\xc2\x9f\xc2\xa0\xc3\xbf"}, R"({"a": "\u007f\u0080\u009f\u00a0\u00ff"})"},
    {{"a"}, {"/ </script> \\/"}, R"({"a": "/ </script> \\/"})"},
    {{"a"},
     {" !\"#$%&'()*+,-./"
      "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"},
     R"({"a": " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`)"
     R"(abcdefghijklmnopqrstuvwxyz{|}~"})"},
    {{"a"},
     {"\xf0\x90\x80\x80\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xee\x80\x80\xed\x9f\xbf"},
     R"({"a": "\ud800\udc00\ud83d\ude00\udbff\udfff\ue000\ud7ff"})"},
    {{"a"},
     {"\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf\xef\xbf\xbd\xef\xbf\xbe"},
     R"({"a": "\u2028\u2029\ufeff\ufffd\ufffe"})"},
    {{"\xc3\xa9\n", "b"}, {"x", "\xf0\x9d\x84\x9e"}, R"({"\u00e9\n": "x", "b": "\ud834\udd1e"})"},
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

// More of the same, pinned when the writer moved to nlohmann's replace handler: each expected
// text is json.dumps(b.decode("utf-8", "replace")) as printed by Python 3.11.
TEST(redis_json, every_kind_of_invalid_utf8_is_replaced_as_in_python) {
    const struct {
        std::string_view bytes;
        std::string_view python;
    } cases[] = {
        {"\x80", R"("\ufffd")"},                               // lone continuation byte
        {"\xbf\x80", R"("\ufffd\ufffd")"},                     // two of them
        {"\xc0\x80", R"("\ufffd\ufffd")"},                     // overlong NUL
        {"\xc1\xbf", R"("\ufffd\ufffd")"},                     // overlong
        {"\xe0\x80\x80", R"("\ufffd\ufffd\ufffd")"},           // overlong, 3 bytes
        {"\xe0\x9f\xbf", R"("\ufffd\ufffd\ufffd")"},           // overlong, 3 bytes
        {"\xed\xbf\xbf", R"("\ufffd\ufffd\ufffd")"},           // encoded surrogate
        {"\xf0\x80\x80\x80", R"("\ufffd\ufffd\ufffd\ufffd")"}, // overlong, 4 bytes
        {"\xf0\x8f\xbf\xbf", R"("\ufffd\ufffd\ufffd\ufffd")"}, // overlong, 4 bytes
        {"\xf5\x80\x80\x80", R"("\ufffd\ufffd\ufffd\ufffd")"}, // above U+10FFFF
        {"\xfe\xff", R"("\ufffd\ufffd")"},                     // never valid
        {"\xf0\x9f\x98", R"("\ufffd")"},                       // truncated at the end
        {"\xf0\x9f\x98z", R"("\ufffdz")"},                     // truncated before ASCII
        {"\xe2\x82z\xe2", R"("\ufffdz\ufffd")"},
        {"a\xc3", R"("a\ufffd")"},
        {"\xc3\xa9\xff\x7f\xe2\x82\xac", R"("\u00e9\ufffd\u007f\u20ac")"},
    };
    for (const auto& c : cases) {
        std::string out;
        append_python_json_string(out, c.bytes);
        EXPECT_EQ(out, c.python);
    }
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

// Edge cases of the reader, pinned when it moved to nlohmann's parser. A refused field is either
// not JSON (Python's json.loads refuses it too) or not a flat object of strings; the comments
// say where Python differs.
TEST(redis_json, parser_edge_cases) {
    const strings a{"a"};
    EXPECT_EQ(parse_label_json(R"({"a": "\u0000"})", a), strings{std::string(1, '\0')});
    EXPECT_EQ(parse_label_json(R"({"a": "\/\"\\\b\f\n\r\t"})", a), strings{"/\"\\\b\f\n\r\t"});
    EXPECT_EQ(parse_label_json("{\"a\": \"\x7f\"}", a), strings{"\x7f"}); // raw DEL is text
    EXPECT_EQ(parse_label_json(R"({"": "x"})", strings{""}), strings{"x"});
    const std::string_view bad_fields[] = {
        R"({"a": null})",
        R"({"a": true})",
        R"({"a": {}})",
        R"({"a": 1.5})",
        R"({"a": [["x"]]})",
        R"({"a": ["x", 1]})",
        R"(["a"])",
        "{\"a\"\f: \"b\"}",                       // form feed is not JSON whitespace
        std::string_view("{\"a\": \"b\"}\0", 11), // a NUL after the object is a trailing byte
        R"({"a": "b",})",                         // trailing comma
        R"({"a": "b"} // c)",                     // comments are not JSON
        R"({'a': 'b'})",                          // single quotes
        R"({"a": "\ud83d\u0041"})", // no low surrogate: Python keeps the lone one, UTF-8 cannot
        R"({"a": "\U0041"})",       // upper-case U
        // A leading UTF-8 byte order mark: refused, as the hand-written reader did
        // (Python's json.loads refuses it in a str too; only bytes input skips it).
        "\xef\xbb\xbf{\"a\": \"b\"}",
        // Raw bytes that are not UTF-8: refused, as Python's json.loads refuses such bytes
        // (UnicodeDecodeError); /metrics would otherwise carry them as invalid UTF-8.
        "{\"a\": \"\xff\"}",
        "{\"a\": \"\xed\xa0\x80\"}",
        "{\"a\": \"\xc3\"}",
        "{\"\xc0\xaf\": \"b\"}",
    };
    for (const auto bad : bad_fields)
        EXPECT_FALSE(parse_label_json(bad, a)) << bad;
    // Arrays of strings only where the metadata record has them.
    const auto members = parse_json_flat_object(R"({"labels": [], "x": ["\u00e9", ""]})");
    ASSERT_TRUE(members);
    ASSERT_EQ(members->size(), 2u);
    EXPECT_TRUE((*members)[0].second.is_array);
    EXPECT_EQ((*members)[1].second.items, (strings{"\xc3\xa9", ""}));
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

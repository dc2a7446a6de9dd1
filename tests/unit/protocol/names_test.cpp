#include <metricsd/protocol/names.hpp>

#include <gtest/gtest.h>

namespace metricsd::protocol {
namespace {

TEST(names, metric_names) {
    for (auto ok : {"a", "_", ":", "a:b", "http_requests_total", "A9_:"})
        EXPECT_TRUE(is_valid_metric_name(ok)) << ok;
    for (auto bad : {"", "9a", "a-b", "a b", "a.b", "a\n", "\xc3\xa9"})
        EXPECT_FALSE(is_valid_metric_name(bad)) << bad;
}

TEST(names, label_names) {
    for (auto ok : {"a", "_", "method", "A9_", "le_x"})
        EXPECT_TRUE(is_valid_label_name(ok)) << ok;
    for (auto bad : {"", "9a", "a:b", "a-b", "a b"})
        EXPECT_FALSE(is_valid_label_name(bad)) << bad;
    for (auto reserved : {"le", "quantile", "__name__", "__x"})
        EXPECT_TRUE(is_reserved_label_name(reserved)) << reserved;
    for (auto fine : {"l", "lee", "_x", "quantiles", "pid"})
        EXPECT_FALSE(is_reserved_label_name(fine)) << fine;
}

TEST(names, utf8) {
    using namespace std::string_view_literals;
    for (auto ok : {""sv, "ascii"sv, "caf\xc3\xa9"sv, "\xe6\x97\xa5\xe6\x9c\xac"sv,
                    "\xf0\x9f\x98\x80"sv, "\xf4\x8f\xbf\xbf"sv, "nul\0inside"sv})
        EXPECT_TRUE(is_valid_utf8(ok));
    for (auto bad :
         {"\xff"sv, "\x80"sv, "\xc3"sv, "\xc0\x80"sv /* overlong */,
          "\xe0\x80\x80"sv /* overlong */, "\xed\xa0\x80"sv /* surrogate */,
          "\xf4\x90\x80\x80"sv /* > U+10FFFF */, "\xe6\x97"sv /* truncated */, "a\xc3(b"sv})
        EXPECT_FALSE(is_valid_utf8(bad));
}

TEST(names, bucket_bounds_take_one_sign) {
    double v = 0;
    EXPECT_TRUE(parse_bucket_bound("+3", v));
    EXPECT_EQ(v, 3);
    EXPECT_TRUE(parse_bucket_bound("-3", v));
    EXPECT_EQ(v, -3);
    for (auto bad : {"+-1", "-+1", "++1", "--1", "+", "-", "+ 1"})
        EXPECT_FALSE(parse_bucket_bound(bad, v)) << bad;
}

} // namespace
} // namespace metricsd::protocol

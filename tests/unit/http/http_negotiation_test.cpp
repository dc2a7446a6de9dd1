#include "daemon/http/http_negotiation.hpp"

#include <gtest/gtest.h>

namespace metricsd::test {
namespace {

using daemon::accepts_gzip;
using daemon::exposition_format;
using daemon::negotiate_format;

// What Prometheus 2.x sends when scraping with OpenMetrics enabled (the default).
constexpr const char* prometheus_accept =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

TEST(negotiate_format, prometheus_accept_header_gets_openmetrics) {
    EXPECT_EQ(negotiate_format(prometheus_accept), exposition_format::openmetrics);
}

TEST(negotiate_format, prometheus_text_only_gets_text) {
    EXPECT_EQ(negotiate_format("text/plain;version=0.0.4;q=1,*/*;q=0.1"), exposition_format::text);
}

TEST(negotiate_format, plain_and_wildcards_get_text) {
    EXPECT_EQ(negotiate_format("text/plain"), exposition_format::text);
    EXPECT_EQ(negotiate_format("*/*"), exposition_format::text);
    EXPECT_EQ(negotiate_format("text/*"), exposition_format::text);
}

TEST(negotiate_format, empty_or_garbage_gets_text) {
    EXPECT_EQ(negotiate_format(""), exposition_format::text);
    EXPECT_EQ(negotiate_format(",,;;"), exposition_format::text);
    EXPECT_EQ(negotiate_format("\x01\xff garbage ;q=banana"), exposition_format::text);
    EXPECT_EQ(negotiate_format("application/json"), exposition_format::text);
}

TEST(negotiate_format, openmetrics_alone_or_bare) {
    EXPECT_EQ(negotiate_format("application/openmetrics-text"), exposition_format::openmetrics);
    EXPECT_EQ(negotiate_format("Application/OpenMetrics-Text; Version=\"1.0.0\""),
              exposition_format::openmetrics);
}

TEST(negotiate_format, openmetrics_with_q0_is_refused) {
    EXPECT_EQ(negotiate_format("application/openmetrics-text;q=0"), exposition_format::text);
    EXPECT_EQ(negotiate_format("application/openmetrics-text;version=1.0.0;q=0,text/plain;q=0.1"),
              exposition_format::text);
}

TEST(negotiate_format, highest_q_wins) {
    EXPECT_EQ(negotiate_format("text/plain;q=0.9,application/openmetrics-text;q=0.8"),
              exposition_format::text);
    EXPECT_EQ(negotiate_format("text/plain;q=0.5, application/openmetrics-text;q=0.51"),
              exposition_format::openmetrics);
}

TEST(negotiate_format, ties_go_to_the_first_listed) {
    EXPECT_EQ(negotiate_format("text/plain,application/openmetrics-text"), exposition_format::text);
    EXPECT_EQ(negotiate_format("application/openmetrics-text,text/plain"),
              exposition_format::openmetrics);
}

TEST(negotiate_format, unknown_versions_are_not_servable) {
    EXPECT_EQ(negotiate_format("application/openmetrics-text;version=2.0.0"),
              exposition_format::text);
    EXPECT_EQ(negotiate_format("application/openmetrics-text;version=2.0.0,"
                               "application/openmetrics-text;version=1.0.0;q=0.2"),
              exposition_format::openmetrics);
}

TEST(negotiate_format, malformed_q_ignores_the_range) {
    EXPECT_EQ(negotiate_format("application/openmetrics-text;q=2"), exposition_format::text);
    EXPECT_EQ(negotiate_format("application/openmetrics-text;q=0.5x"), exposition_format::text);
    EXPECT_EQ(negotiate_format("application/openmetrics-text;q=1.000"),
              exposition_format::openmetrics);
}

TEST(negotiate_format, quoted_commas_do_not_split) {
    EXPECT_EQ(negotiate_format("text/plain;x=\"a,application/openmetrics-text\";q=0.9,"
                               "application/openmetrics-text;q=0.1"),
              exposition_format::text);
}

TEST(accepts_gzip, common_headers) {
    EXPECT_TRUE(accepts_gzip("gzip"));
    EXPECT_TRUE(accepts_gzip("gzip, deflate, br"));    // curl --compressed, browsers
    EXPECT_TRUE(accepts_gzip("identity, gzip;q=0.5")); // order does not matter
    EXPECT_TRUE(accepts_gzip("GZip"));
    EXPECT_TRUE(accepts_gzip("x-gzip"));
}

TEST(accepts_gzip, absent_or_other_codings) {
    EXPECT_FALSE(accepts_gzip(""));
    EXPECT_FALSE(accepts_gzip("identity"));
    EXPECT_FALSE(accepts_gzip("deflate, br"));
    EXPECT_FALSE(accepts_gzip("gzipx"));
}

TEST(accepts_gzip, q_zero_refuses) {
    EXPECT_FALSE(accepts_gzip("gzip;q=0"));
    EXPECT_FALSE(accepts_gzip("gzip; q=0.000"));
    EXPECT_FALSE(accepts_gzip("*, gzip;q=0"));
    EXPECT_TRUE(accepts_gzip("gzip;q=0.001"));
}

TEST(accepts_gzip, wildcard) {
    EXPECT_TRUE(accepts_gzip("*"));
    EXPECT_TRUE(accepts_gzip("identity;q=1, *;q=0.5"));
    EXPECT_FALSE(accepts_gzip("*;q=0"));
    EXPECT_TRUE(accepts_gzip("*;q=0, gzip")); // an explicit entry beats the wildcard
}

TEST(accepts_gzip, garbage_is_not_gzip) {
    EXPECT_FALSE(accepts_gzip(";;;,,,"));
    EXPECT_FALSE(accepts_gzip("gzip;q=yes"));
    EXPECT_FALSE(accepts_gzip("\"gzip\""));
}

} // namespace
} // namespace metricsd::test

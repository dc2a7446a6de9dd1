#include "daemon/store/number_format.hpp"

#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <limits>

namespace metricsd::daemon {
namespace {

std::string value(double v) {
    std::string s;
    append_value(s, v);
    return s;
}

std::string bound(double v) {
    std::string s;
    append_bound(s, v);
    return s;
}

TEST(number_format, values_are_integral_when_they_can_be) {
    EXPECT_EQ(value(0), "0");
    EXPECT_EQ(value(-0.0), "0");
    EXPECT_EQ(value(42), "42");
    EXPECT_EQ(value(-3), "-3");
    EXPECT_EQ(value(1e15), "1000000000000000");
    EXPECT_EQ(value(9007199254740991.0), "9007199254740991");
    EXPECT_EQ(value(800000), "800000");
}

TEST(number_format, values_round_trip_without_noise) {
    EXPECT_EQ(value(0.1), "0.1");
    EXPECT_EQ(value(0.1 + 0.2), "0.30000000000000004");
    EXPECT_EQ(value(1.5e-7), "1.5e-07");
    EXPECT_EQ(value(1e21), "1e+21");
    EXPECT_EQ(value(-2.5), "-2.5");
    EXPECT_EQ(value(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
    EXPECT_EQ(value(std::numeric_limits<double>::denorm_min()), "5e-324");
}

TEST(number_format, special_values) {
    EXPECT_EQ(value(std::nan("")), "NaN");
    EXPECT_EQ(value(HUGE_VAL), "+Inf");
    EXPECT_EQ(value(-HUGE_VAL), "-Inf");
    EXPECT_EQ(bound(HUGE_VAL), "+Inf");
    EXPECT_EQ(bound(-HUGE_VAL), "-Inf");
    EXPECT_EQ(bound(std::nan("")), "NaN");
}

TEST(number_format, bounds_match_prometheus_client_float_to_go_string) {
    // Expected values are what prometheus_client.utils.floatToGoString() returns.
    EXPECT_EQ(bound(0.005), "0.005");
    EXPECT_EQ(bound(0.0001), "0.0001");
    EXPECT_EQ(bound(1e-05), "1e-05");
    EXPECT_EQ(bound(0), "0.0");
    EXPECT_EQ(bound(1), "1.0");
    EXPECT_EQ(bound(2.5), "2.5");
    EXPECT_EQ(bound(10), "10.0");
    EXPECT_EQ(bound(100000), "100000.0");
    EXPECT_EQ(bound(1e6), "1e+06");
    EXPECT_EQ(bound(1234567), "1.234567e+06");
    EXPECT_EQ(bound(-1), "-1.0");
    EXPECT_EQ(bound(0.1), "0.1");
    EXPECT_EQ(bound(123.456), "123.456");
}

TEST(number_format, ignores_the_c_locale) {
    const char* old = std::setlocale(LC_ALL, nullptr);
    const std::string saved = old ? old : "C";
    if (std::setlocale(LC_ALL, "de_DE.UTF-8") == nullptr)
        std::setlocale(LC_NUMERIC, "C.UTF-8");
    EXPECT_EQ(value(2.5), "2.5");
    EXPECT_EQ(bound(2.5), "2.5");
    std::setlocale(LC_ALL, saved.c_str());
}

} // namespace
} // namespace metricsd::daemon

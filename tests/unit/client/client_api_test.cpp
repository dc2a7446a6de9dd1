// Declaration-time behaviour of the C++ client: validation, deduplication, handles. These run
// without a daemon: declarations never need one.
#include "client_test_util.hpp"

#include <metricsd/client.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace metricsd::test {
namespace {

class client_api : public ::testing::Test {
protected:
    temp_dir dir_;
    client c_{options_for(dir_.path() + "/none.sock")};
};

TEST_F(client_api, invalid_metric_names_throw) {
    for (const char* name : {"", "1abc", "a-b", "a b", "caf\xc3\xa9"})
        EXPECT_THROW(c_.counter(name, "h"), std::invalid_argument) << name;
    EXPECT_THROW(c_.gauge(std::string(256, 'a'), "h"), std::invalid_argument);
    EXPECT_NO_THROW(c_.counter("a:b_c9", "h"));
}

TEST_F(client_api, invalid_label_names_throw) {
    EXPECT_THROW(c_.counter("a1", "", {"1x"}), std::invalid_argument);
    EXPECT_THROW(c_.counter("a2", "", {"le"}), std::invalid_argument);
    EXPECT_THROW(c_.summary("a3", "", {"quantile"}), std::invalid_argument);
    EXPECT_THROW(c_.counter("a4", "", {"__x"}), std::invalid_argument);
    EXPECT_THROW(c_.counter("a5", "", {"x", "x"}), std::invalid_argument);
    EXPECT_THROW(c_.gauge("a6", "", {"pid"}, gauge_mode::all), std::invalid_argument);
    EXPECT_NO_THROW(c_.gauge("a7", "", {"pid"}, gauge_mode::livesum));
}

TEST_F(client_api, invalid_help_throws) {
    EXPECT_THROW(c_.counter("h1", "\xff"), std::invalid_argument);
    EXPECT_THROW(c_.counter("h2", std::string(4097, 'x')), std::invalid_argument);
}

TEST_F(client_api, invalid_buckets_throw) {
    const std::vector<std::string> none;
    using texts = std::vector<std::string>;
    EXPECT_THROW(c_.histogram("b1", "", none, texts{"1", "1"}), std::invalid_argument);
    EXPECT_THROW(c_.histogram("b2", "", none, texts{"2", "1"}), std::invalid_argument);
    EXPECT_THROW(c_.histogram("b3", "", none, texts{"abc"}), std::invalid_argument);
    EXPECT_THROW(c_.histogram("b0", "", none, texts{}), std::invalid_argument);
    EXPECT_THROW(c_.histogram("b4", "", none, texts{"1", "+Inf"}), std::invalid_argument);
    EXPECT_THROW(c_.histogram("b5", "", none, texts{"nan"}), std::invalid_argument);
    EXPECT_THROW(c_.histogram("b6", "", none,
                              std::vector<double>{1.0, std::numeric_limits<double>::infinity()}),
                 std::invalid_argument);
    EXPECT_THROW(c_.histogram("b7", "", {"le"}, texts{"1"}), std::invalid_argument);
    EXPECT_NO_THROW(c_.histogram("b8", "", none, texts{"-3", ".5", "+1", "1e3"}));
    EXPECT_EQ(c_.histogram("b9", "", {}, {0.25, 1.0}).label_count(), 0u); // braced doubles
}

TEST_F(client_api, label_values_are_checked) {
    auto f = c_.counter("lv", "", {"a", "b"});
    EXPECT_THROW(f.labels("x"), std::invalid_argument);
    EXPECT_THROW(f.labels("x", "y", "z"), std::invalid_argument);
    EXPECT_THROW(f.labels(), std::invalid_argument);
    EXPECT_THROW(f.labels("x", "\xc0\xaf"), std::invalid_argument);
    EXPECT_THROW(f.labels("x", std::string(4097, 'v')), std::invalid_argument);
    EXPECT_THROW(f.inc(), std::invalid_argument); // the family has labels
    EXPECT_NO_THROW(f.labels("x", ""));
}

TEST_F(client_api, conflicting_redeclaration_throws) {
    c_.counter("dup", "h", {"a"});
    EXPECT_THROW(c_.gauge("dup", "h", {"a"}), std::invalid_argument);
    EXPECT_THROW(c_.counter("dup", "h", {"b"}), std::invalid_argument);
    EXPECT_THROW(c_.counter("dup", "h"), std::invalid_argument);
    c_.gauge("g", "h", {}, gauge_mode::max);
    EXPECT_THROW(c_.gauge("g", "h", {}, gauge_mode::min), std::invalid_argument);
    c_.histogram("hh", "h", {}, std::vector<std::string>{"1", "2"});
    EXPECT_THROW(c_.histogram("hh", "h", {}, std::vector<std::string>{"1", "3"}),
                 std::invalid_argument);
    // Same bounds written differently are the same bounds (the daemon compares numbers).
    EXPECT_NO_THROW(c_.histogram("hh", "h", {}, std::vector<std::string>{"1.0", "2"}));
}

TEST_F(client_api, handles_are_dense_and_deduplicated) {
    auto a = c_.counter("fa", "h", {"k"});
    auto b = c_.gauge("fb", "h");
    auto a2 = c_.counter("fa", "other help wins nothing", {"k"});
    EXPECT_EQ(a.handle(), 0u);
    EXPECT_EQ(b.handle(), 1u);
    EXPECT_EQ(a2.handle(), a.handle());
    // fb has no labels: its one series was declared with it and took series handle 0.
    EXPECT_EQ(b.labels().handle(), 0u);
    auto x = a.labels("x");
    auto y = a.labels(std::vector<std::string>{"y"});
    auto x2 = a2.labels({"x"});
    EXPECT_EQ(x.handle(), 1u);
    EXPECT_EQ(y.handle(), 2u);
    EXPECT_EQ(x2.handle(), x.handle());
}

TEST_F(client_api, default_handles_are_inert) {
    counter_series s;
    gauge_series g;
    EXPECT_FALSE(s.valid());
    s.inc();
    g.set(3);
    counter_family f;
    EXPECT_THROW(f.labels("x"), std::invalid_argument);
}

TEST(client_options_test, unusable_options_throw) {
    client_options o;
    o.socket_path = "";
    EXPECT_THROW(client{o}, std::invalid_argument);
    o.socket_path = std::string(200, 'p');
    EXPECT_THROW(client{o}, std::invalid_argument);
    o = client_options{};
    o.reconnect_max = std::chrono::milliseconds(1);
    EXPECT_THROW(client{o}, std::invalid_argument);
}

TEST(client_options_test, socket_path_defaults_to_environment) {
    ::setenv("METRICSD_SOCKET", "/tmp/x.sock", 1);
    EXPECT_EQ(client_options{}.socket_path, "/tmp/x.sock");
    ::unsetenv("METRICSD_SOCKET");
    EXPECT_EQ(client_options{}.socket_path, "/run/metricsd/ingest.sock");
}

} // namespace
} // namespace metricsd::test

// Series expiry settings in the configuration: file object, environment text, precedence.
#include "config_fixture.hpp"
#include "daemon/config/config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace metricsd::daemon {
namespace {

using test::env_of;
using test::error_of;

TEST(series_ttl_config, file_object_is_read_with_its_origin) {
    const config c = parse_config(R"({
  "series_ttl": {
    "default_s": 3600,
    "families": {"http_requests_total": 600, "jobs_total": 0}
  }
})",
                                  "f.json");
    EXPECT_EQ(c.series_ttl.default_ttl, std::chrono::seconds(3600));
    EXPECT_EQ(c.series_ttl.ttl_for("http_requests_total"), std::chrono::seconds(600));
    EXPECT_EQ(c.series_ttl.ttl_for("jobs_total"), std::chrono::seconds(0));
    EXPECT_EQ(c.origins.at("series_ttl"), "f.json:2:3");
    // Members are optional; the default is off.
    EXPECT_EQ(parse_config(R"({"series_ttl": {}})", "e").series_ttl, series_ttl_policy{});
    EXPECT_FALSE(config{}.series_ttl.enabled());
    EXPECT_FALSE(config{}.is_set("series_ttl"));
}

TEST(series_ttl_config, round_trips_through_to_json) {
    config c;
    c.series_ttl = parse_series_ttl("b_total=60,a_total=600,*=3600");
    const std::string text = to_json(c);
    EXPECT_NE(text.find(R"("series_ttl": {
    "default_s": 3600,
    "families": {
      "a_total": 600,
      "b_total": 60
    }
  })"),
              std::string::npos)
        << text;
    EXPECT_EQ(parse_config(text, "round.json").series_ttl, c.series_ttl);
    EXPECT_NE(to_json(config{}).find(R"("series_ttl": {
    "default_s": 0,
    "families": {}
  })"),
              std::string::npos);
}

TEST(series_ttl_config, file_errors_name_the_member_and_its_position) {
    EXPECT_EQ(error_of(R"({"series_ttl": 600})"),
              "test.json:1:16: series_ttl: expected an object, got 600");
    EXPECT_EQ(error_of("{\"series_ttl\": {\n  \"default_s\": \"1h\"}}"),
              "test.json:2:16: series_ttl.default_s: expected a non-negative integer, got \"1h\"");
    EXPECT_EQ(error_of(R"({"series_ttl": {"default_s": -5}})"),
              "test.json:1:30: series_ttl.default_s: expected a non-negative integer, got -5");
    EXPECT_EQ(error_of(R"({"series_ttl": {"default_s": 31536001}})"),
              "test.json:1:30: series_ttl.default_s: expected an integer from 0 to 31536000, "
              "got 31536001");
    EXPECT_EQ(error_of("{\"series_ttl\": {\n  \"default\": 5}}"),
              "test.json:2:3: unknown key \"series_ttl.default\" (series_ttl has \"default_s\" "
              "and \"families\")");
    EXPECT_EQ(error_of(R"({"series_ttl": {"families": [1]}})"),
              "test.json:1:29: series_ttl.families: expected an object of family name: seconds, "
              "got [1]");
    EXPECT_EQ(error_of(R"({"series_ttl": {"families": {"ok": 1, "1bad": 5}}})"),
              "test.json:1:39: series_ttl.families: \"1bad\" is not a valid metric name");
    EXPECT_EQ(error_of(R"({"series_ttl": {"families": {"a": 2.5}}})"),
              "test.json:1:35: series_ttl.families.a: expected a non-negative integer, got 2.5");
    EXPECT_EQ(error_of("{\"series_ttl\": {\"families\": {\"a\": 1,\n \"a\": 2}}}"),
              "test.json:2:2: duplicate key \"series_ttl.families.a\"");
    EXPECT_EQ(error_of(R"({"series_tl": {}})"),
              "test.json:1:2: unknown key \"series_tl\" (did you mean \"series_ttl\"?)");
}

TEST(series_ttl_config, environment_gives_the_text_form) {
    config c;
    apply_environment(c, env_of({{"METRICSD_SERIES_TTL", "http_requests_total=600,*=3600"}}));
    EXPECT_EQ(c.series_ttl.default_ttl, std::chrono::seconds(3600));
    EXPECT_EQ(c.series_ttl.ttl_for("http_requests_total"), std::chrono::seconds(600));
    EXPECT_EQ(c.origins.at("series_ttl"), "METRICSD_SERIES_TTL");
    try {
        config bad;
        apply_environment(bad, env_of({{"METRICSD_SERIES_TTL", "a=10m"}}));
        FAIL() << "accepted 10m";
    } catch (const config_error& e) {
        EXPECT_STREQ(e.what(), "METRICSD_SERIES_TTL=\"a=10m\": entry \"a=10m\": seconds must be "
                               "an integer from 0 to 31536000");
    }
    EXPECT_TRUE(unknown_environment({"METRICSD_SERIES_TTL=a=1"}).empty());
}

TEST(series_ttl_config, later_sources_replace_the_whole_setting) {
    config c = parse_config(R"({"series_ttl": {"default_s": 60, "families": {"a": 10}}})", "f");
    apply_environment(c, env_of({{"METRICSD_SERIES_TTL", "b=20"}}));
    EXPECT_EQ(to_string(c.series_ttl), "b=20"); // not merged with the file's
    apply_setting(c, "series_ttl", "*=5", "--series-ttl");
    EXPECT_EQ(to_string(c.series_ttl), "*=5");
    EXPECT_EQ(c.origins.at("series_ttl"), "--series-ttl");
    apply_environment(c, env_of({{"METRICSD_SERIES_TTL", ""}})); // empty: off
    EXPECT_FALSE(c.series_ttl.enabled());
}

} // namespace
} // namespace metricsd::daemon

// The command line: flags reach the app options; every flag of the table of settings is an
// option, with its help and default, and sets its key.
#include "config_fixture.hpp"
#include "daemon/app/cli.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

namespace metricsd::daemon {
namespace {

using test::env_of;

/// parse_command_line over `args` (the program name is added), with an empty environment.
cli_result parse(std::vector<std::string> args) {
    args.insert(args.begin(), "metricsd");
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    return parse_command_line(static_cast<int>(argv.size()), argv.data(), env_of({}));
}

/// The exit code and stdout of a parse that ends the program (--help, usage errors).
std::pair<int, std::string> exit_of(std::vector<std::string> args) {
    testing::internal::CaptureStdout();
    testing::internal::CaptureStderr();
    int code = -1;
    try {
        parse(std::move(args));
    } catch (const cli_exit& e) {
        code = e.code;
    }
    testing::internal::GetCapturedStderr();
    return {code, testing::internal::GetCapturedStdout()};
}

TEST(cli, every_flag_of_the_table_sets_its_key) {
    const config defaults;
    for (const auto& k : config_keys()) {
        if (k.flag.empty())
            continue;
        const auto r = parse({std::string(k.flag), setting_text(defaults, k.key)});
        EXPECT_EQ(r.settings.origins.at(std::string(k.key)), k.flag) << k.key;
        EXPECT_EQ(r.settings.origins.size(), 1u) << k.flag;
    }
}

TEST(cli, help_lists_every_flag_with_its_help_and_default) {
    const auto [code, help] = exit_of({"--help"});
    EXPECT_EQ(code, 0);
    const config defaults;
    for (const auto& k : config_keys()) {
        if (k.flag.empty())
            continue;
        const auto at = help.find("  " + std::string(k.flag) + " ");
        ASSERT_NE(at, std::string::npos) << k.flag;
        const std::string entry = help.substr(at, help.find("\n  --", at + 1) - at);
        EXPECT_NE(entry.find(std::string(k.help)), std::string::npos) << entry;
        const auto shown = setting_text(defaults, k.key);
        if (!shown.empty()) {
            EXPECT_NE(entry.find("=" + shown), std::string::npos) << entry;
        }
        for (auto value : k.allowed)
            EXPECT_NE(entry.find(std::string(value)), std::string::npos) << entry;
    }
    for (const char* other : {"--config", "--check-config", "--version", "--help"})
        EXPECT_NE(help.find(other), std::string::npos) << other;
}

TEST(cli, usage_checked_flags_are_usage_errors_and_others_config_errors) {
    // A value CLI11 itself checks is a usage error: the documented exit code 1 (README, exit
    // codes), as for any configuration error, never CLI11's own 105-109.
    for (const auto& [flag, value] :
         std::vector<std::pair<std::string, std::string>>{{"--backend", "postgres"},
                                                          {"--log-level", "loud"},
                                                          {"--max-frame", "100"},
                                                          {"--max-label-value-length", "0"}}) {
        const int code = exit_of({flag, value}).first;
        EXPECT_EQ(code, 1) << flag << " " << value;
    }
    try {
        parse({"--max-series", "0"});
        FAIL() << "accepted --max-series 0";
    } catch (const config_error& e) {
        EXPECT_STREQ(e.what(), "--max-series=\"0\": expected an integer from 1 to 100000000");
    }
}

TEST(cli, backend_flag_reaches_the_app_options_as_an_enum) {
    EXPECT_EQ(to_app_options(parse({}).settings).backend, backend_kind::memory);
    const auto r = parse({"--backend", "redis", "--redis-url", "redis://[::1]:7000/2"});
    const auto o = to_app_options(r.settings);
    EXPECT_EQ(o.backend, backend_kind::redis);
    EXPECT_EQ(o.redis.endpoint.host, "::1");
    EXPECT_EQ(o.redis.endpoint.port, 7000);
    EXPECT_EQ(o.redis.endpoint.db, 2);
}

TEST(series_ttl_config, command_line_flag_reaches_the_app_options) {
    std::vector<std::string> args{"metricsd", "--series-ttl", "a_total=600,*=3600"};
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    const auto r = parse_command_line(static_cast<int>(argv.size()), argv.data(),
                                      env_of({{"METRICSD_SERIES_TTL", "ignored=1"}}));
    EXPECT_EQ(to_string(r.settings.series_ttl), "a_total=600,*=3600");
    const auto o = to_app_options(r.settings);
    EXPECT_EQ(o.series_ttl, r.settings.series_ttl);
    EXPECT_EQ(sweep_period(o.series_ttl), std::chrono::seconds(150));
}

} // namespace
} // namespace metricsd::daemon

// The command line: flags reach the app options.
#include "config_fixture.hpp"
#include "daemon/app/cli.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace metricsd::daemon {
namespace {

using test::env_of;

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

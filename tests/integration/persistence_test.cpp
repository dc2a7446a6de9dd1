// The memory backend's state file in the real daemon: counters and histograms survive a
// restart exactly; periodic snapshots; a corrupt file is set aside and the daemon starts empty.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <dirent.h>
#include <fstream>
#include <sys/stat.h>
#include <thread>

namespace metricsd::test {
namespace {

using protocol::gauge_mode;
using protocol::metric_type;
using protocol::op_code;

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (const dirent* e = ::readdir(d))
            names.emplace_back(e->d_name);
        ::closedir(d);
    }
    return names;
}

/// A counter with 5 and a histogram with three observations, declared with handles 0 and 1.
void send_some(const std::string& socket, double inc) {
    raw_client c(socket);
    c.send(hello() + family(0, "jobs_total", metric_type::counter, {"queue"}) +
           series(0, 0, {"mail"}) +
           family(1, "latency_seconds", metric_type::histogram, {}, gauge_mode::livesum,
                  {"0.1", "1"}) +
           series(1, 1) +
           ops({{op_code::inc, 0, inc},
                {op_code::observe, 1, 0.05},
                {op_code::observe, 1, 0.5},
                {op_code::observe, 1, 7}}));
    ASSERT_FALSE(c.sync(1).empty());
}

TEST(persistence, counters_and_histograms_continue_after_a_restart) {
    temp_dir dir;
    const auto state = dir.file("state");
    {
        daemon_process d(dir, {"--state-file", state});
        send_some(d.socket_path(), 5);
        EXPECT_EQ(d.stop(), 0);
    }
    ASSERT_TRUE(exists(state));
    daemon_process d(dir, {"--state-file", state});
    EXPECT_NE(d.process().log().find("restored 2 families, 2 series from " + state),
              std::string::npos)
        << d.process().log();
    send_some(d.socket_path(), 2.5);
    const auto text = d.scrape();
    EXPECT_EQ(sample_value(text, "jobs_total{queue=\"mail\"}"), 7.5) << text;
    EXPECT_EQ(sample_value(text, "latency_seconds_bucket{le=\"0.1\"}"), 2) << text;
    EXPECT_EQ(sample_value(text, "latency_seconds_bucket{le=\"1.0\"}"), 4) << text;
    EXPECT_EQ(sample_value(text, "latency_seconds_bucket{le=\"+Inf\"}"), 6) << text;
    EXPECT_EQ(sample_value(text, "latency_seconds_count"), 6) << text;
    EXPECT_EQ(sample_value(text, "latency_seconds_sum"), 2 * (0.05 + 0.5 + 7)) << text;
    EXPECT_EQ(d.stop(), 0);
}

TEST(persistence, snapshots_periodically_while_running) {
    temp_dir dir;
    const auto state = dir.file("state");
    daemon_process d(dir, {"--state-file", state, "--snapshot-interval", "1"});
    send_some(d.socket_path(), 1);
    for (int i = 0; i < 50 && !exists(state); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(exists(state)) << "no snapshot within 5 s";
    EXPECT_EQ(d.stop(), 0); // the timer must not keep the io_context running
}

TEST(persistence, corrupt_state_file_is_set_aside_and_the_daemon_starts_empty) {
    temp_dir dir;
    const auto state = dir.file("state");
    std::ofstream(state) << "metricsd-state 1 crc32=00000000 bytes=3\n{}\n";
    daemon_process d(dir, {"--state-file", state});
    const auto log = d.process().log();
    EXPECT_NE(log.find("state file " + state + " not restored"), std::string::npos) << log;
    bool set_aside = false;
    for (const auto& name : names_in(dir.path()))
        set_aside = set_aside || name.starts_with("state.corrupt-");
    EXPECT_TRUE(set_aside) << log;
    EXPECT_TRUE(std::isnan(sample_value(d.scrape(), "jobs_total{queue=\"mail\"}")));
    send_some(d.socket_path(), 3);
    EXPECT_EQ(d.stop(), 0);
    // The new state replaces the corrupt one; the next start restores it.
    daemon_process again(dir, {"--state-file", state});
    EXPECT_EQ(sample_value(again.scrape(), "jobs_total{queue=\"mail\"}"), 3);
}

} // namespace
} // namespace metricsd::test

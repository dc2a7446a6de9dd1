// Real worker processes (the C++ client) against the real daemon: exact totals, crash handling.
#include "daemon_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <memory>
#include <thread>

namespace metricsd::test {
namespace {

std::unique_ptr<child_process> start_worker(const temp_dir& dir, const daemon_process& d, long incs,
                                            int index, bool hold = false) {
    std::vector<std::string> argv{worker_binary(), d.socket_path(), std::to_string(incs)};
    if (hold)
        argv.emplace_back("hold");
    return std::make_unique<child_process>(argv,
                                           dir.file("worker" + std::to_string(index) + ".log"));
}

/// Scrape until `series` shows `value` (disconnects are noticed asynchronously).
std::string scrape_until(const daemon_process& d, const std::string& series, double value) {
    std::string text;
    for (int i = 0; i < 500; ++i) {
        text = d.scrape();
        if (sample_value(text, series) == value)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return text;
}

TEST(workers, eight_processes_times_100k_incs_are_exact) {
    constexpr int workers = 8;
    constexpr long incs = 100'000;
    temp_dir dir;
    daemon_process d(dir);
    std::vector<std::unique_ptr<child_process>> procs;
    std::vector<pid_t> pids;
    for (int i = 0; i < workers; ++i) {
        procs.push_back(start_worker(dir, d, incs, i));
        pids.push_back(procs.back()->pid());
    }
    for (auto& p : procs)
        ASSERT_EQ(p->wait(std::chrono::seconds(120)), 0) << p->log();
    for (auto& p : procs)
        EXPECT_NE(p->log().find("flushed dropped=0"), std::string::npos) << p->log();

    const auto text = scrape_until(d, "busy_workers", 0);
    // 100000 = 33334 + 33333 + 33333 per worker.
    EXPECT_EQ(sample_value(text, "work_total{set=\"a\"}"), workers * 33334.0) << text;
    EXPECT_EQ(sample_value(text, "work_total{set=\"b\"}"), workers * 33333.0);
    EXPECT_EQ(sample_value(text, "work_total{set=\"c\"}"), workers * 33333.0);
    EXPECT_EQ(sample_value(text, "busy_workers"), 0) << "every worker exited";
    EXPECT_EQ(sample_value(text, "worker_pid_max"), *std::max_element(pids.begin(), pids.end()));
    EXPECT_EQ(sample_value(text, "total_seen"), workers * incs);
    // i % 200 for i < 100000: 500 rounds of 0..199.
    EXPECT_EQ(sample_value(text, "work_size_bucket{le=\"1.0\"}"), workers * 500.0 * 2);
    EXPECT_EQ(sample_value(text, "work_size_bucket{le=\"10.0\"}"), workers * 500.0 * 11);
    EXPECT_EQ(sample_value(text, "work_size_bucket{le=\"100.0\"}"), workers * 500.0 * 101);
    EXPECT_EQ(sample_value(text, "work_size_bucket{le=\"+Inf\"}"), workers * incs);
    EXPECT_EQ(sample_value(text, "work_size_count"), workers * incs);
    EXPECT_EQ(sample_value(text, "work_size_sum"), workers * 500.0 * 19900);

    const auto file = dir.file("live.prom");
    std::ofstream(file) << text;
    std::string out;
    EXPECT_EQ(run_command("promtool check metrics < " + file, out), 0) << out;
}

TEST(workers, kill_9_keeps_counters_and_heals_livesum) {
    constexpr long incs = 30'000;
    temp_dir dir;
    daemon_process d(dir);
    std::vector<std::unique_ptr<child_process>> procs;
    for (int i = 0; i < 3; ++i)
        procs.push_back(start_worker(dir, d, incs, i, true));
    for (auto& p : procs)
        p->wait_for_log("holding", std::chrono::seconds(60));
    auto text = d.scrape();
    EXPECT_EQ(sample_value(text, "busy_workers"), 3);
    EXPECT_EQ(sample_value(text, "work_total{set=\"a\"}"), 3 * 10'000.0);

    procs[1]->signal(SIGKILL);
    EXPECT_EQ(procs[1]->wait(), 128 + SIGKILL);
    text = scrape_until(d, "busy_workers", 2);
    EXPECT_EQ(sample_value(text, "busy_workers"), 2) << "the killed worker's share is gone";
    EXPECT_EQ(sample_value(text, "work_total{set=\"a\"}"), 3 * 10'000.0)
        << "its flushed increments stay";
    EXPECT_EQ(sample_value(text, "total_seen"), 3 * incs) << "sum mode keeps its last value";
    EXPECT_EQ(sample_value(text, "work_size_count"), 3 * incs);
}

} // namespace
} // namespace metricsd::test

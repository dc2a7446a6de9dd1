// The memory backend's state file in the real daemon: counters and histograms survive a
// restart exactly; periodic snapshots; a corrupt file is set aside and the daemon starts empty;
// failed snapshots are counted, make /readyz 503 and the exit code non-zero; stale temporaries
// are removed and an unwritable directory refused at start.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
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

// Restarting with a lower --max-series: the file is not set aside; families restore by name
// until the limit, the rest is logged and counted, and unrelated counters keep their totals.
TEST(persistence, lower_limits_restore_what_fits_and_report_the_rest) {
    temp_dir dir;
    const auto state = dir.file("state");
    {
        daemon_process d(dir, {"--state-file", state});
        send_some(d.socket_path(), 5); // jobs_total and latency_seconds, one series each
        EXPECT_EQ(d.stop(), 0);
    }
    daemon_process d(dir, {"--state-file", state, "--max-series", "1"});
    const auto log = d.process().log();
    EXPECT_NE(log.find("restored 1 families, 1 series from " + state), std::string::npos) << log;
    EXPECT_NE(log.find("1 families and 1 series did not fit the limits and were dropped"),
              std::string::npos)
        << log;
    for (const auto& name : names_in(dir.path()))
        EXPECT_FALSE(name.starts_with("state.corrupt-")) << name;
    const auto text = d.scrape();
    EXPECT_EQ(sample_value(text, "jobs_total{queue=\"mail\"}"), 5) << text;
    EXPECT_TRUE(std::isnan(sample_value(text, "latency_seconds_count"))) << text;
    EXPECT_EQ(sample_value(text, "metricsd_state_restore_skipped_series_total"), 1) << text;
    EXPECT_EQ(d.stop(), 0);
}

/// Poll `done` every 100 ms for up to `seconds`; true once it holds.
bool eventually(const std::function<bool()>& done, int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
        if (done())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return done();
}

std::size_t lines_with(const std::string& log, const std::string& needle) {
    std::size_t n = 0;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);)
        n += line.find(needle) != std::string::npos ? 1 : 0;
    return n;
}

/// The state file's directory becomes a regular file: every snapshot fails with ENOTDIR. A
/// chmod 0500 would not do: the tests run as root, and root writes there anyway.
void break_directory(const std::string& sub) {
    std::filesystem::remove_all(sub);
    std::ofstream(sub) << "in the way";
}

void repair_directory(const std::string& sub) {
    std::filesystem::remove(sub);
    std::filesystem::create_directory(sub);
}

TEST(persistence, failed_snapshots_are_counted_make_it_unready_and_fail_the_exit_code) {
    temp_dir dir;
    const auto sub = dir.file("sub");
    std::filesystem::create_directory(sub);
    const auto state = sub + "/state";
    daemon_process d(dir, {"--state-file", state, "--snapshot-interval", "1"});
    send_some(d.socket_path(), 1);
    const auto value = [&](const std::string& name) { return sample_value(d.scrape(), name); };
    const auto readyz = [&] { return http_get(d.port(), "/readyz").status; };
    EXPECT_EQ(value("metricsd_state_snapshot_failures_total"), 0);
    ASSERT_TRUE(eventually(
        [&] { return value("metricsd_state_snapshot_last_success_time_seconds") > 0; }, 10))
        << "no snapshot within 10 s";
    const double first_success = value("metricsd_state_snapshot_last_success_time_seconds");
    EXPECT_EQ(readyz(), 200);

    break_directory(sub);
    ASSERT_TRUE(eventually([&] { return readyz() == 503; }, 15)) << d.process().log();
    EXPECT_EQ(http_get(d.port(), "/readyz").body, "not ready\n");
    EXPECT_GE(value("metricsd_state_snapshot_failures_total"), 3);
    EXPECT_EQ(value("metricsd_state_snapshot_last_success_time_seconds"), first_success);
    // Scrapes still work: only the durability of the counts is at risk.
    EXPECT_EQ(value("jobs_total{queue=\"mail\"}"), 1);
    const std::string failed = "state snapshot to " + state + " failed";
    auto log = d.process().log();
    EXPECT_EQ(lines_with(log, failed), 1u) << log; // not one per interval
    EXPECT_EQ(lines_with(log, "/readyz answers 503 until one succeeds"), 1u) << log;

    repair_directory(sub);
    ASSERT_TRUE(eventually([&] { return readyz() == 200; }, 15)) << d.process().log();
    EXPECT_GT(value("metricsd_state_snapshot_last_success_time_seconds"), first_success);
    const double failures = value("metricsd_state_snapshot_failures_total");
    EXPECT_GE(failures, 3);
    EXPECT_NE(d.process().log().find("written again after"), std::string::npos);

    // Broken at shutdown: the final snapshot fails, and the exit code says so.
    break_directory(sub);
    EXPECT_EQ(d.stop(), 2);
    log = d.process().log();
    EXPECT_NE(log.find("final state snapshot to " + state + " failed"), std::string::npos) << log;
    EXPECT_EQ(log.find("state saved to"), std::string::npos) << log;
}

TEST(persistence, stale_temporary_files_are_removed_at_start) {
    temp_dir dir;
    const auto state = dir.file("state");
    // What a daemon killed in the middle of a snapshot leaves, plus files that are not ours.
    for (const char* name : {"state.tmp-12345", "state.tmp-1", "state.tmp-notes", "other.tmp-1"})
        std::ofstream(dir.file(name)) << "partial";
    daemon_process d(dir, {"--state-file", state});
    const auto names = names_in(dir.path());
    const auto has = [&](const std::string& n) {
        return std::find(names.begin(), names.end(), n) != names.end();
    };
    EXPECT_FALSE(has("state.tmp-12345"));
    EXPECT_FALSE(has("state.tmp-1"));
    EXPECT_TRUE(has("state.tmp-notes"));
    EXPECT_TRUE(has("other.tmp-1"));
    const auto log = d.process().log();
    EXPECT_EQ(lines_with(log, "removed stale temporary state file " + state + ".tmp-"), 2u)
        << log;
    EXPECT_EQ(d.stop(), 0);
    EXPECT_TRUE(exists(state));
}

TEST(persistence, unwritable_state_directory_fails_at_start) {
    temp_dir dir;
    std::ofstream(dir.file("sub")) << "a file, not a directory";
    const auto state = dir.file("sub") + "/state";
    child_process d({daemon_binary(), "--socket", dir.file("s.sock"), "--listen", "127.0.0.1:0",
                     "--state-file", state},
                    dir.file("unwritable.log"));
    EXPECT_EQ(d.wait(), 1);
    EXPECT_NE(d.log().find("state directory not writable: cannot create " + state + ".tmp-"),
              std::string::npos)
        << d.log();
}

} // namespace
} // namespace metricsd::test

namespace metricsd::test {
namespace {

// A snapshot streams the store in slices of 256 KiB: its memory does not grow with the store.
// Before, the body was built in one string and the header prepended in another (~2 x 11 MB
// here). Measured from the filled store before its first snapshot: a later baseline would
// include what an earlier snapshot left in the allocator.
TEST(persistence, a_snapshot_of_200k_series_grows_rss_by_at_most_4_mib) {
    constexpr std::uint32_t n = 200'000;
    temp_dir dir;
    const auto state = dir.file("state");
    // 5 s: time to fill the store before the first snapshot, even on a loaded CI machine.
    daemon_process d(dir, {"--state-file", state, "--snapshot-interval", "5",
                           "--max-series-per-family", std::to_string(n)});
    {
        raw_client c(d.socket_path());
        c.send(hello() + family(0, "http_requests_total", metric_type::counter,
                                {"method", "path"}));
        std::vector<std::string> paths(n);
        std::vector<protocol::op_record> incs;
        for (std::uint32_t h = 0; h < n; ++h) {
            char path[32];
            std::snprintf(path, sizeof path, "/api/v1/resource/%06u", h);
            paths[h] = path;
        }
        for (std::uint32_t first = 0; first < n; first += 10'000) {
            std::string frames;
            incs.clear();
            for (std::uint32_t h = first; h < first + 10'000; ++h) {
                frames += series(h, 0, {"GET", paths[h]});
                incs.push_back({op_code::inc, h, 1});
            }
            c.send(frames + ops(incs));
        }
        const auto replies = c.sync(1);
        ASSERT_EQ(replies.size(), 2u) << replies.front().message; // WELCOME, ACK
    }
    ASSERT_FALSE(exists(state)) << "the first snapshot came before the store was filled";
    reset_peak_rss(d.process().pid());
    const long before = rss_kib(d.process().pid());
    ASSERT_TRUE(eventually([&] { return exists(state); }, 10));
    const long growth = peak_rss_kib(d.process().pid()) - before;
    const long file_kib = static_cast<long>(std::filesystem::file_size(state) / 1024);
    std::printf("snapshot_memory: series=%u file_kib=%ld rss_before_kib=%ld peak_growth_kib=%ld\n",
                n, file_kib, before, growth);
    EXPECT_GT(file_kib, 10 * 1024) << "the body is larger than the bound by far";
    EXPECT_LE(growth, 4 * 1024) << "KiB of RSS growth during one snapshot";
    EXPECT_EQ(d.stop(), 0);
    const auto log = daemon_process(dir, {"--state-file", state, "--max-series-per-family",
                                          std::to_string(n)})
                         .process()
                         .log();
    EXPECT_NE(log.find("restored 1 families, 200000 series from " + state), std::string::npos)
        << log;
}

} // namespace
} // namespace metricsd::test

// Snapshot failures on a real directory: counted, rate-limited in the log, unready after a run
// of failures and ready again after a success; stale temporaries removed, an unwritable
// directory refused at start.
#include "daemon/persistence/atomic_file.hpp"
#include "daemon/exposition/self_metrics.hpp"
#include "daemon/persistence/state_file.hpp"
#include "daemon/store/store.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace metricsd::daemon {
namespace {

namespace fs = std::filesystem;

class snapshot_dir : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("metricsd-snapshot-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "sub");
        // Capture the daemon's log lines to count them.
        previous_ = spdlog::default_logger();
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    }
    void TearDown() override {
        spdlog::set_default_logger(previous_);
        fs::remove_all(dir_);
    }
    /// Turn the state file's directory into a regular file: every write then fails with
    /// ENOTDIR, even for root (who ignores a chmod 0500).
    void break_directory() {
        fs::remove_all(dir_ / "sub");
        std::ofstream(dir_ / "sub") << "in the way";
    }
    void repair_directory() {
        fs::remove(dir_ / "sub");
        fs::create_directories(dir_ / "sub");
    }
    std::size_t log_lines_with(const std::string& needle) const {
        std::size_t n = 0;
        std::istringstream lines(log_.str());
        for (std::string line; std::getline(lines, line);)
            n += line.find(needle) != std::string::npos ? 1 : 0;
        return n;
    }
    std::vector<std::string> entries(const fs::path& d) const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(d))
            names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }

    fs::path dir_;
    std::ostringstream log_;
    std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(snapshot_dir, failures_are_counted_logged_once_and_make_it_unhealthy_until_a_success) {
    net::io_context ioc;
    store s;
    snapshotter snap(ioc, s, (dir_ / "sub" / "state").string(), std::chrono::seconds(0));
    EXPECT_TRUE(snap.write_now());
    const double first_success = snap.stats().last_success_seconds;
    EXPECT_GT(first_success, 1.7e9);
    EXPECT_TRUE(snap.healthy());

    break_directory();
    for (std::uint64_t i = 1; i <= 10; ++i) {
        EXPECT_FALSE(snap.write_now());
        EXPECT_EQ(snap.stats().failures, i);
        EXPECT_EQ(snap.stats().consecutive_failures, i);
        EXPECT_EQ(snap.healthy(), i < snapshot_failures_before_unready) << i;
    }
    EXPECT_NE(snap.stats().last_error.find("Not a directory"), std::string::npos)
        << snap.stats().last_error;
    EXPECT_EQ(snap.stats().last_success_seconds, first_success);
    // Ten failures within the log period: one failure line, one "unready" line.
    EXPECT_EQ(log_lines_with("failed: "), 1u) << log_.str();
    EXPECT_EQ(log_lines_with("/readyz answers 503"), 1u) << log_.str();

    repair_directory();
    EXPECT_TRUE(snap.write_now());
    EXPECT_TRUE(snap.healthy());
    EXPECT_EQ(snap.stats().failures, 10u); // a counter: never goes back
    EXPECT_EQ(snap.stats().consecutive_failures, 0u);
    EXPECT_TRUE(snap.stats().last_error.empty());
    EXPECT_GE(snap.stats().last_success_seconds, first_success);
    EXPECT_EQ(log_lines_with("written again after 10 failures; ready"), 1u) << log_.str();

    // A new run of failures within the period is still counted, but not logged again.
    break_directory();
    EXPECT_FALSE(snap.write_now());
    EXPECT_EQ(snap.stats().failures, 11u);
    EXPECT_EQ(log_lines_with("failed: "), 1u) << log_.str();
}

TEST_F(snapshot_dir, stale_temporaries_are_removed_and_others_kept) {
    const auto state = (dir_ / "state").string();
    for (const char* name : {"state.tmp-1", "state.tmp-4242", "state", "state.tmp-", "state.tmp-x1",
                             "other.tmp-1", "state.corrupt-20260101T000000Z"})
        std::ofstream(dir_ / name) << "x";
    prepare_state_directory(state);
    EXPECT_EQ(entries(dir_), (std::vector<std::string>{"other.tmp-1", "state",
                                                       "state.corrupt-20260101T000000Z",
                                                       "state.tmp-", "state.tmp-x1", "sub"}));
    EXPECT_EQ(log_lines_with("removed stale temporary state file " + state + ".tmp-"), 2u)
        << log_.str();
    // Nothing left to remove: nothing logged.
    prepare_state_directory(state);
    EXPECT_EQ(log_lines_with("removed stale temporary"), 2u);
}

TEST_F(snapshot_dir, unwritable_directory_is_refused_at_start) {
    break_directory();
    try {
        prepare_state_directory((dir_ / "sub" / "state").string());
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("state directory not writable"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(prepare_state_directory((dir_ / "missing" / "state").string()),
                 std::system_error);
    // The probe leaves nothing behind when it succeeds.
    prepare_state_directory((dir_ / "state").string());
    EXPECT_EQ(entries(dir_), std::vector<std::string>{"sub"});
}

// Kept here rather than in the exposition tests: these families belong to the state file.
TEST(state_self_metrics, shown_only_with_a_state_file) {
    self_metrics_snapshot snap;
    std::string off;
    render_self_metrics(snap, exposition_format::text, off);
    EXPECT_EQ(off.find("metricsd_state_snapshot"), std::string::npos) << off;
    snap.state_file = true;
    snap.state_snapshot_failures = 7;
    snap.state_snapshot_last_success_seconds = 1'700'000'000.5;
    snap.state_restore_skipped_series = 3;
    std::string on;
    render_self_metrics(snap, exposition_format::openmetrics, on);
    EXPECT_NE(on.find("# TYPE metricsd_state_snapshot_failures counter\n"
                      "metricsd_state_snapshot_failures_total 7\n"),
              std::string::npos)
        << on;
    EXPECT_NE(on.find("# TYPE metricsd_state_snapshot_last_success_time_seconds gauge\n"
                      "metricsd_state_snapshot_last_success_time_seconds 1700000000.5\n"),
              std::string::npos)
        << on;
    EXPECT_NE(on.find("\nmetricsd_state_restore_skipped_series_total 3\n"), std::string::npos)
        << on;
}

} // namespace
} // namespace metricsd::daemon

// metricsctl, the real binary, against the real daemon: values in the scrape, and the exit
// codes scripts rely on (0 applied, 2 usage/invalid name, 3 unreachable, 4 rejected).
#include "daemon_fixture.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using metricsd::test::daemon_process;
using metricsd::test::quoted;
using metricsd::test::run_command;
using metricsd::test::sample_value;
using metricsd::test::temp_dir;


struct result {
    int code = -1;
    std::string output; ///< stdout and stderr
};

/// Run metricsctl with `args` (already shell words) against `socket`.
result metricsctl(const std::string& socket, const std::string& args) {
    result r;
    r.code = run_command(std::string(METRICSD_METRICSCTL_BINARY) + " --socket " + quoted(socket) +
                             " " + args,
                         r.output);
    return r;
}

class metricsctl_test : public ::testing::Test {
protected:
    result run(const std::string& args) { return metricsctl(daemon.socket_path(), args); }

    temp_dir dir;
    daemon_process daemon{dir};
};

TEST_F(metricsctl_test, counter_inc_with_labels_and_value) {
    auto r = run("counter inc backup_runs_total --label job=db --label host=a --value 3");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, "");
    r = run("counter inc backup_runs_total -l job=db -l host=a --help-text 'Backup runs.'");
    ASSERT_EQ(r.code, 0) << r.output;
    const auto text = daemon.scrape();
    EXPECT_EQ(sample_value(text, "backup_runs_total{job=\"db\",host=\"a\"}"), 4) << text;
}

TEST_F(metricsctl_test, gauge_set_is_shared_and_outlives_the_process) {
    ASSERT_EQ(run("gauge set backup_last_success --value 1700000000").code, 0);
    auto r = run("gauge set backup_last_success --value 1700000100");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, ""); // no warning for the default mode
    ASSERT_EQ(run("gauge inc backup_last_success --value 5").code, 0);
    ASSERT_EQ(run("gauge dec backup_last_success").code, 0);
    EXPECT_EQ(sample_value(daemon.scrape(), "backup_last_success"), 1700000104);
}

TEST_F(metricsctl_test, live_gauge_modes_warn) {
    const auto r = run("gauge set tmp_value --mode livesum --value 3");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("metricsctl: warning: a livesum gauge"), std::string::npos) << r.output;
}

TEST_F(metricsctl_test, histogram_and_summary_observe) {
    for (const char* v : {"0.0625", "0.5", "4", "32"}) {
        const auto r =
            run(std::string("histogram observe job_seconds --buckets 0.1,1,10 --value ") + v);
        ASSERT_EQ(r.code, 0) << r.output;
    }
    ASSERT_EQ(run("summary observe job_bytes --value 1024 -l job=db").code, 0);
    const auto text = daemon.scrape();
    EXPECT_EQ(sample_value(text, "job_seconds_bucket{le=\"0.1\"}"), 1) << text;
    EXPECT_EQ(sample_value(text, "job_seconds_bucket{le=\"1.0\"}"), 2);
    EXPECT_EQ(sample_value(text, "job_seconds_bucket{le=\"10.0\"}"), 3);
    EXPECT_EQ(sample_value(text, "job_seconds_bucket{le=\"+Inf\"}"), 4);
    EXPECT_EQ(sample_value(text, "job_seconds_sum"), 36.5625);
    EXPECT_EQ(sample_value(text, "job_bytes_sum{job=\"db\"}"), 1024);
    EXPECT_EQ(sample_value(text, "job_bytes_count{job=\"db\"}"), 1);
}

TEST(metricsctl_no_daemon, unreachable_socket_exits_3) {
    temp_dir dir;
    const auto socket = dir.file("absent.sock");
    const auto r = metricsctl(socket, "counter inc x_total");
    EXPECT_EQ(r.code, 3) << r.output;
    EXPECT_EQ(r.output,
              "metricsctl: cannot reach metricsd at " + socket + ": No such file or directory\n");
    // --no-wait reports nothing about delivery.
    EXPECT_EQ(metricsctl(socket, "--no-wait counter inc x_total").code, 0);
}

TEST_F(metricsctl_test, no_wait_still_delivers) {
    ASSERT_EQ(run("counter inc fire_and_forget_total --no-wait").code, 0);
    // The client's destructor flushed (waiting at most 1 s) before metricsctl exited.
    EXPECT_EQ(sample_value(daemon.scrape(), "fire_and_forget_total"), 1);
}

TEST_F(metricsctl_test, invalid_names_are_usage_errors) {
    // The client checks names before sending anything, so the daemon never sees them.
    auto r = run("counter inc bad-name");
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("metricsctl: metric name 'bad-name'"), std::string::npos) << r.output;
    r = run("counter inc ok_total --label __reserved=1");
    EXPECT_EQ(r.code, 2) << r.output;
    r = run("histogram observe h --value 1 --buckets 10,1");
    EXPECT_EQ(r.code, 2) << r.output;
}

TEST_F(metricsctl_test, daemon_rejections_exit_4_with_its_message) {
    ASSERT_EQ(run("counter inc deploys").code, 0);
    // The counter is `deploys_total` (PROTOCOL.md 5.1), whichever spelling declared it.
    auto r = run("gauge set deploys_total --value 1");
    EXPECT_EQ(r.code, 4) << r.output;
    EXPECT_EQ(r.output.rfind("metricsctl: rejected by metricsd: family_conflict: ", 0), 0u)
        << r.output;
    r = run("counter inc deploys --value -1"); // counters only go up
    EXPECT_EQ(r.code, 4) << r.output;
    EXPECT_NE(r.output.find("invalid_value: "), std::string::npos) << r.output;
    const auto body = daemon.scrape();
    EXPECT_EQ(sample_value(body, "deploys_total"), 1) << body;
    EXPECT_EQ(body.find("deploys "), std::string::npos) << body;
    EXPECT_NE(body.find("# TYPE deploys_total counter\n"), std::string::npos) << body;
}

TEST_F(metricsctl_test, bad_usage_exits_2) {
    for (const char* args : {"", "counter", "counter inc", "counter dec x", "gauge set x",
                             "histogram observe h --value 1", "counter inc x --value abc",
                             "counter inc x --label novalue", "counter inc x -l a=1 -l a=2",
                             "gauge set x --value 1 --mode bogus", "--timeout 0 counter inc x",
                             "--bogus counter inc x"}) {
        const auto r = run(args);
        EXPECT_EQ(r.code, 2) << args << ": " << r.output;
        EXPECT_EQ(r.output.rfind("metricsctl: ", 0), 0u) << args << ": " << r.output;
    }
}

TEST_F(metricsctl_test, help_mentions_the_default_gauge_mode) {
    auto r = run("--help");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.output.find("--no-wait"), std::string::npos) << r.output;
    r = run("gauge set --help");
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.output.find("default shared"), std::string::npos) << r.output;
}

} // namespace

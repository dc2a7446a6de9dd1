// The real daemon binary reading its configuration: --check-config, config file errors, and the
// precedence defaults < file < environment < flags.
#include "daemon_fixture.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace metricsd::test {
namespace {

std::string repo_file(const std::string& relative) {
    return std::string(METRICSD_SOURCE_DIR) + "/" + relative;
}

void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

/// Run `command`; its exit code, and its stderr alone in `err` (stdout dropped).
int stderr_of(const std::string& command, std::string& err) {
    return run_command("(" + command + " 2>&1 >/dev/null)", err);
}

TEST(config_cli, check_config_accepts_the_example_and_prints_it) {
    std::string out;
    const auto example = repo_file("config/metricsd.json");
    ASSERT_EQ(
        run_command(quoted(daemon_binary()) + " --check-config --config " + quoted(example), out),
        0)
        << out;
    EXPECT_NE(out.find("\"listen\": \"127.0.0.1:9477\""), std::string::npos) << out;
    EXPECT_NE(out.find("\"snapshot_interval_s\": 60"), std::string::npos) << out;
}

TEST(config_cli, unknown_key_names_the_key_and_its_position) {
    temp_dir dir;
    const auto file = dir.file("bad.json");
    write(file, "{\n  \"listen\": \"127.0.0.1:0\",\n  \"limitz\": 5\n}\n");
    std::string out;
    EXPECT_EQ(
        run_command(quoted(daemon_binary()) + " --check-config --config " + quoted(file), out), 1);
    EXPECT_NE(out.find(file + ":3:3: unknown key \"limitz\""), std::string::npos) << out;

    // The same error stops a normal start, before any socket is bound.
    child_process d({daemon_binary(), "--config", file, "--socket", dir.file("s.sock")},
                    dir.file("daemon.log"));
    EXPECT_EQ(d.wait(), 1);
    EXPECT_NE(d.log().find(file + ":3:3: unknown key \"limitz\""), std::string::npos) << d.log();
}

TEST(config_cli, invalid_environment_value_names_the_variable) {
    std::string out;
    EXPECT_EQ(
        run_command("METRICSD_LIMITS_MAX_FRAME=100 " + quoted(daemon_binary()) + " --check-config",
                    out),
        1);
    EXPECT_NE(out.find("METRICSD_LIMITS_MAX_FRAME"), std::string::npos) << out;
}

TEST(config_cli, check_config_shows_file_then_environment_then_flags) {
    temp_dir dir;
    const auto file = dir.file("metricsd.json");
    write(file, R"({"log_level": "debug", "listen": "127.0.0.1:1", "limits": {"max_series": 7}})");
    std::string out;
    ASSERT_EQ(run_command("METRICSD_CONFIG=" + quoted(file) +
                              " METRICSD_LISTEN=127.0.0.1:2 METRICSD_LIMITS_MAX_SERIES=8 " +
                              quoted(daemon_binary()) + " --check-config --max-series 9",
                          out),
              0)
        << out;
    EXPECT_NE(out.find("\"log_level\": \"debug\""), std::string::npos) << out;    // file
    EXPECT_NE(out.find("\"listen\": \"127.0.0.1:2\""), std::string::npos) << out; // env
    EXPECT_NE(out.find("\"max_series\": 9"), std::string::npos) << out;           // flag
    EXPECT_NE(out.find("\"max_families\": 10000"), std::string::npos) << out;     // default
}

TEST(config_cli, running_daemon_uses_file_env_and_flag_in_precedence_order) {
    temp_dir dir;
    const auto file = dir.file("metricsd.json");
    const int file_port = free_port();
    const int flag_port = free_port();
    // The file names both sockets; the environment overrides the socket, a flag the listen.
    write(file, "{\"socket\": \"" + dir.file("from-file.sock") +
                    "\", \"listen\": \"127.0.0.1:" + std::to_string(file_port) + "\"}");
    const auto env_socket = dir.file("from-env.sock");
    child_process d(
        {daemon_binary(), "--config", file, "--listen", "127.0.0.1:" + std::to_string(flag_port)},
        dir.file("daemon.log"), {{"METRICSD_SOCKET", env_socket}});
    const auto log = d.wait_for_log("metricsd ready:");
    EXPECT_NE(log.find("ingest socket " + env_socket +
                       " http 127.0.0.1:" + std::to_string(flag_port) + " "),
              std::string::npos)
        << log;
    EXPECT_EQ(http_get(flag_port, "/metrics").status, 200);
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait(), 0);
}

// Issue 13 item 10: --check-config says everything a start would.
TEST(config_cli, check_config_warns_about_an_unknown_environment_variable) {
    std::string out;
    ASSERT_EQ(stderr_of("METRICSD_LIMITS_MAX_SERIEZ=5 " + quoted(daemon_binary()) +
                              " --check-config --socket /tmp/x.sock",
                          out),
              0)
        << out;
    EXPECT_EQ(out, "metricsd: warning: environment variable METRICSD_LIMITS_MAX_SERIEZ matches "
                   "no setting; ignored\n");
}

TEST(config_cli, an_unknown_flag_is_a_usage_error_with_exit_code_1) {
    std::string out;
    EXPECT_EQ(run_command(quoted(daemon_binary()) + " --check-config --max-seriez 5", out), 1);
    EXPECT_NE(out.find("--max-seriez"), std::string::npos) << out;
    EXPECT_EQ(run_command(quoted(daemon_binary()) + " --version", out), 0) << out;
}

TEST(config_cli, an_unreadable_config_file_says_why) {
    temp_dir dir;
    std::string out;
    const auto missing = dir.file("missing.json");
    EXPECT_EQ(run_command(quoted(daemon_binary()) + " --check-config --config " + quoted(missing),
                          out),
              1);
    EXPECT_EQ(out, "metricsd: cannot read config file " + missing + ": No such file or directory\n");
    EXPECT_EQ(run_command(quoted(daemon_binary()) + " --check-config --config " +
                              quoted(dir.path()),
                          out),
              1);
    EXPECT_EQ(out, "metricsd: cannot read config file " + dir.path() + ": Is a directory\n");
}

// Issue 13 item 6: the socket's directory is created when it is the one level missing under a
// directory we (or root) own; otherwise both --check-config and a start say what to do.
TEST(config_cli, a_missing_socket_directory_is_created_under_an_existing_parent) {
    temp_dir dir;
    const auto run_dir = dir.file("run");
    std::filesystem::create_directory(run_dir);
    const auto socket = run_dir + "/metricsd/ingest.sock";
    std::string out;
    ASSERT_EQ(stderr_of(quoted(daemon_binary()) + " --check-config --socket " + quoted(socket), out),
              0)
        << out;
    EXPECT_EQ(out, "");
    EXPECT_FALSE(std::filesystem::exists(run_dir + "/metricsd")) << "a check changes nothing";

    child_process d({daemon_binary(), "--socket", socket, "--listen", "127.0.0.1:0"},
                    dir.file("daemon.log"));
    const auto log = d.wait_for_log("metricsd ready:");
    EXPECT_NE(log.find("created " + run_dir + "/metricsd (mode 0755) for the ingest socket"),
              std::string::npos)
        << log;
    EXPECT_EQ(std::filesystem::status(run_dir + "/metricsd").permissions(),
              std::filesystem::perms(0755));
    EXPECT_TRUE(std::filesystem::is_socket(socket));
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait(), 0);
}

TEST(config_cli, a_socket_directory_whose_parent_is_missing_is_refused_by_check_and_start) {
    temp_dir dir;
    const auto socket = dir.file("a") + "/b/ingest.sock";
    const auto expected = "socket " + socket + ": " + dir.file("a") + "/b does not exist, nor "
                          "does its parent " + dir.file("a") + "; create " + dir.file("a") +
                          "/b (e.g. `install -d -m 0755 -o USER " + dir.file("a") +
                          "/b`) or set --socket to a path in an existing directory";
    std::string out;
    EXPECT_EQ(run_command(quoted(daemon_binary()) + " --check-config --socket " + quoted(socket),
                          out),
              1);
    EXPECT_EQ(out, "metricsd: " + expected + "\n");
    child_process d({daemon_binary(), "--socket", socket, "--listen", "127.0.0.1:0"},
                    dir.file("daemon.log"));
    EXPECT_EQ(d.wait(), 1);
    EXPECT_NE(d.log().find(expected), std::string::npos) << d.log();
    EXPECT_FALSE(std::filesystem::exists(dir.file("a")));
}

TEST(config_cli, a_socket_under_a_file_is_refused) {
    temp_dir dir;
    write(dir.file("plain"), "x");
    std::string out;
    EXPECT_EQ(run_command(quoted(daemon_binary()) + " --check-config --socket " +
                              quoted(dir.file("plain") + "/ingest.sock"),
                          out),
              1);
    EXPECT_EQ(out, "metricsd: socket " + dir.file("plain") + "/ingest.sock: " +
                       dir.file("plain") + " is not a directory\n");
}

// Under a directory another user owns, a start refuses to create the socket's directory (that
// user could swap it); a check only warns, since that user may be the one starting the daemon.
TEST(config_cli, no_socket_directory_is_created_under_another_users_directory) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to hand a directory to another uid";
    temp_dir dir;
    const auto theirs = dir.file("theirs");
    std::filesystem::create_directory(theirs);
    ASSERT_EQ(::chown(theirs.c_str(), 54321, 54321), 0);
    const auto socket = theirs + "/metricsd/ingest.sock";
    const auto reason = theirs + "/metricsd does not exist, and its parent " + theirs +
                        " belongs to another user (uid 54321), so it is not created there";
    std::string out;
    EXPECT_EQ(stderr_of(quoted(daemon_binary()) + " --check-config --socket " + quoted(socket), out),
              0);
    EXPECT_NE(out.find("metricsd: warning: socket " + socket + ": " + reason), std::string::npos)
        << out;
    child_process d({daemon_binary(), "--socket", socket, "--listen", "127.0.0.1:0"},
                    dir.file("daemon.log"));
    EXPECT_EQ(d.wait(), 1);
    EXPECT_NE(d.log().find(reason), std::string::npos) << d.log();
    EXPECT_FALSE(std::filesystem::exists(theirs + "/metricsd"));
}

// Issue 13 item 10: a family name is only known when a client declares it; a series_ttl entry
// that misspells it is named then.
TEST(config_cli, a_series_ttl_entry_misspelling_a_declared_family_is_warned_about) {
    temp_dir dir;
    daemon_process d(dir, {"--series-ttl", "http_request_total=60,backups=30,*=3600"});
    std::string out;
    ASSERT_EQ(run_command(quoted(METRICSD_METRICSCTL_BINARY) + " --socket " +
                              quoted(d.socket_path()) + " counter inc http_requests_total",
                          out),
              0)
        << out;
    const auto log = d.process().wait_for_log("series_ttl names");
    EXPECT_NE(log.find("series_ttl names \"http_request_total\", not \"http_requests_total\" "
                       "(declared now): its series get the default TTL of 3600 s (0 more such "
                       "families not logged)"),
              std::string::npos)
        << log;
    // `backups=30` names the counter `backups_total` too: no warning for it.
    ASSERT_EQ(run_command(quoted(METRICSD_METRICSCTL_BINARY) + " --socket " +
                              quoted(d.socket_path()) + " counter inc backups",
                          out),
              0)
        << out;
    EXPECT_EQ(d.stop(), 0);
    EXPECT_EQ(occurrences(d.process().log(), "series_ttl names"), 1u) << d.process().log();
}

} // namespace
} // namespace metricsd::test

// The real daemon binary reading its configuration: --check-config, config file errors, and the
// precedence defaults < file < environment < flags.
#include "daemon_fixture.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

namespace metricsd::test {
namespace {

std::string repo_file(const std::string& relative) {
    return std::string(METRICSD_SOURCE_DIR) + "/" + relative;
}

void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
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

} // namespace
} // namespace metricsd::test

// SIGHUP reloads the config file's log level; systemd socket activation hands the daemon its
// ingest socket (exercised with systemd-socket-activate, which sets LISTEN_FDS like systemd).
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>

namespace metricsd::test {
namespace {

using protocol::metric_type;
using protocol::op_code;

TEST(signals, sighup_reloads_the_log_level_and_survives_a_broken_file) {
    temp_dir dir;
    const auto cfg = dir.file("metricsd.json");
    std::ofstream(cfg) << "{ \"log_level\": \"info\" }\n";
    daemon_process d(dir, {"--config", cfg});
    std::ofstream(cfg) << "{ \"log_level\": \"debug\" }\n";
    d.process().signal(SIGHUP);
    d.process().wait_for_log("reloaded; log level debug");
    {
        raw_client c(d.socket_path()); // debug level: the connection is now logged
        c.send(hello());
        ASSERT_FALSE(c.sync(1).empty());
    }
    d.process().wait_for_log("ingest connection from pid");

    std::ofstream(cfg) << "{ \"log_level\": \"loud\" }\n";
    d.process().signal(SIGHUP);
    d.process().wait_for_log("not reloaded");
    // No client family was declared: the body is the daemon's own metrics alone.
    EXPECT_TRUE(d.scrape().starts_with("# HELP metricsd_build_info"))
        << "still serving after a broken reload";
    EXPECT_EQ(d.stop(), 0);
}

TEST(signals, a_flag_set_log_level_is_not_overridden_by_reload) {
    temp_dir dir;
    const auto cfg = dir.file("metricsd.json");
    std::ofstream(cfg) << "{ \"log_level\": \"debug\" }\n";
    daemon_process d(dir, {"--config", cfg, "--log-level", "info"});
    d.process().signal(SIGHUP);
    d.process().wait_for_log("log level stays as set by environment or flag");
    EXPECT_EQ(d.stop(), 0);
}

TEST(signals, socket_activation_adopts_the_socket_and_leaves_the_file) {
    std::string out;
    if (run_command("command -v systemd-socket-activate", out) != 0)
        GTEST_SKIP() << "systemd-socket-activate is not installed (Debian package systemd)";
    temp_dir dir;
    const auto sock = dir.file("activated.sock");
    // systemd-socket-activate listens, then starts metricsd on the first connection with the
    // listening socket as fd 3 and LISTEN_FDS=1, exactly as systemd's .socket unit does.
    child_process activator({"systemd-socket-activate", "-l", sock, daemon_binary(), "--socket",
                             dir.file("unused.sock"), "--listen", "127.0.0.1:0"},
                            dir.file("activator.log"));
    // The socket file appears at bind(), before listen(): until then a connect is refused, so
    // wait for a connect that succeeds, not for the file (under load the gap was hit).
    std::unique_ptr<raw_client> c;
    for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20); !c;) {
        try {
            c = std::make_unique<raw_client>(sock);
        } catch (const std::runtime_error&) {
            if (std::chrono::steady_clock::now() > until || !activator.running())
                throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    // Queued in the listen backlog until the daemon has started and accepts it.
    c->send(hello() + family(0, "activated_total", metric_type::counter) + series(0, 0) +
            ops({{op_code::inc, 0, 5}}));
    const auto log = activator.wait_for_log("metricsd ready:");
    ASSERT_FALSE(c->sync(1).empty());
    EXPECT_NE(log.find("passed by systemd"), std::string::npos) << log;
    const auto at = log.find(" http 127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << log;
    const auto text = http_get(std::stoi(log.substr(at + 16)), "/metrics").body;
    EXPECT_EQ(sample_value(text, "activated_total"), 5) << text;
    activator.signal(SIGTERM);
    EXPECT_EQ(activator.wait(), 0) << activator.log();
    struct stat st {};
    EXPECT_EQ(::stat(sock.c_str(), &st), 0) << "the socket file belongs to systemd: kept";
    struct stat unused {};
    EXPECT_NE(::stat(dir.file("unused.sock").c_str(), &unused), 0) << "--socket was not bound";
}

} // namespace
} // namespace metricsd::test

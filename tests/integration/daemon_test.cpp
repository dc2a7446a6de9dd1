// The real daemon binary, driven over its real sockets with protocol-level clients.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace metricsd::test {
namespace {

using protocol::error_code;
using protocol::frame_type;
using protocol::gauge_mode;
using protocol::metric_type;
using protocol::op_code;

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

TEST(daemon, counts_exactly_and_stops_cleanly_on_sigterm) {
    temp_dir dir;
    daemon_process d(dir);
    raw_client c(d.socket_path());
    c.send(hello() + family(0, "jobs_total", metric_type::counter, {"queue"}) +
           series(0, 0, {"mail"}) + series(1, 0, {"sms"}));
    std::vector<protocol::op_record> batch;
    for (int i = 0; i < 1000; ++i)
        batch.push_back({op_code::inc, static_cast<std::uint32_t>(i % 2), 1});
    for (int i = 0; i < 50; ++i)
        c.send(ops(batch));
    auto r = c.sync(7);
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r.back().type, frame_type::ack);
    EXPECT_EQ(r.back().token, 7u);
    const auto text = d.scrape();
    EXPECT_EQ(sample_value(text, "jobs_total{queue=\"mail\"}"), 25000);
    EXPECT_EQ(sample_value(text, "jobs_total{queue=\"sms\"}"), 25000);
    EXPECT_EQ(d.stop(), 0);
    EXPECT_FALSE(exists(d.socket_path())) << "socket file must be removed on exit";
}

TEST(daemon, replaces_a_stale_socket_and_refuses_a_live_one) {
    temp_dir dir;
    const auto path = dir.file("metricsd.sock");
    {
        // A socket file whose listener is gone: what a crashed daemon leaves behind.
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
        ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        ::close(fd);
    }
    daemon_process first(dir);
    child_process second(
        {daemon_binary(), "--socket", first.socket_path(), "--listen", "127.0.0.1:0"},
        dir.file("second.log"));
    EXPECT_EQ(second.wait(), 1);
    EXPECT_NE(second.log().find("another daemon is already listening on " + first.socket_path()),
              std::string::npos)
        << second.log();
    raw_client still_works(first.socket_path());
    still_works.send(hello());
    EXPECT_FALSE(still_works.sync(1).empty());

    std::ofstream(dir.file("plain")) << "not a socket";
    child_process third({daemon_binary(), "--socket", dir.file("plain"), "--listen", "127.0.0.1:0"},
                        dir.file("third.log"));
    EXPECT_EQ(third.wait(), 1);
    EXPECT_NE(third.log().find("is not a socket"), std::string::npos) << third.log();
}

TEST(daemon, garbage_gets_an_error_and_nobody_else_notices) {
    temp_dir dir;
    daemon_process d(dir);
    raw_client good(d.socket_path());
    good.send(hello() + family(0, "ok_total", metric_type::counter) + series(0, 0) +
              ops({{op_code::inc, 0, 5}}));

    raw_client http_by_mistake(d.socket_path());
    http_by_mistake.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = http_by_mistake.read_until(frame_type::error);
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r.back().code, error_code::bad_magic);
    EXPECT_TRUE(http_by_mistake.closed_by_peer());

    raw_client oversized(d.socket_path());
    std::string header("\x00\x00\x00\x40\x03\x00\x00\x00", 8); // 1 GiB OPS frame
    oversized.send(hello() + header);
    r = oversized.read_until(frame_type::error);
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r.back().code, error_code::frame_too_large);
    EXPECT_TRUE(oversized.closed_by_peer());

    raw_client bad_names(d.socket_path());
    bad_names.send(hello() + family(0, "bad name", metric_type::counter) +
                   family(1, "ok_total", metric_type::gauge));
    r = bad_names.sync(3);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(r[1].code, error_code::invalid_metric_name);
    EXPECT_EQ(r[2].code, error_code::family_conflict);
    EXPECT_EQ(r[2].message, "'ok_total' is already declared as a counter, not a gauge");

    good.send(ops({{op_code::inc, 0, 2}}));
    ASSERT_FALSE(good.sync(9).empty());
    EXPECT_EQ(sample_value(d.scrape(), "ok_total"), 7);
}

TEST(daemon, sigterm_applies_what_was_sent_and_answers_pending_syncs) {
    temp_dir dir;
    daemon_process d(dir);
    raw_client c(d.socket_path());
    std::string bytes = hello() + family(0, "late_total", metric_type::counter) + series(0, 0);
    std::vector<protocol::op_record> batch(4000, protocol::op_record{op_code::inc, 0, 1});
    for (int i = 0; i < 20; ++i)
        bytes += ops(batch);
    protocol::encode(bytes, protocol::sync{42});
    c.send(bytes);
    d.process().signal(SIGTERM);
    auto r = c.read_until(frame_type::ack);
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r.back().type, frame_type::ack);
    EXPECT_EQ(r.back().token, 42u);
    EXPECT_EQ(d.process().wait(), 0);
}

TEST(daemon, pid_comes_from_the_kernel_and_disconnect_retires) {
    temp_dir dir;
    daemon_process d(dir);
    {
        raw_client c(d.socket_path());
        c.send(hello() + family(0, "per_pid", metric_type::gauge, {}, gauge_mode::liveall) +
               series(0, 0) + family(1, "in_flight", metric_type::gauge) + series(1, 1) +
               ops({{op_code::set, 0, 3}, {op_code::inc, 1, 5}}));
        ASSERT_FALSE(c.sync(1).empty());
        const auto text = d.scrape();
        EXPECT_EQ(sample_value(text, "per_pid{pid=\"" + std::to_string(::getpid()) + "\"}"), 3)
            << text;
        EXPECT_EQ(sample_value(text, "in_flight"), 5);
    }
    // The connection is gone: live gauges forget it (poll: the daemon sees EOF asynchronously).
    std::string text;
    for (int i = 0; i < 200; ++i) {
        text = d.scrape();
        if (sample_value(text, "in_flight") == 0)
            break;
        usleep(10'000);
    }
    EXPECT_EQ(sample_value(text, "in_flight"), 0);
    EXPECT_EQ(text.find("per_pid{"), std::string::npos) << text;
}

TEST(daemon, connection_limit_is_enforced_with_an_error) {
    temp_dir dir;
    daemon_process d(dir, {"--max-connections", "2"});
    raw_client a(d.socket_path()), b(d.socket_path());
    a.send(hello());
    b.send(hello());
    ASSERT_FALSE(a.sync(1).empty());
    ASSERT_FALSE(b.sync(1).empty());
    raw_client c(d.socket_path());
    auto r = c.read_until(frame_type::error);
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r.back().code, error_code::too_many_connections);
    EXPECT_TRUE(c.closed_by_peer());
}

TEST(daemon, http_routes_negotiation_and_gzip) {
    temp_dir dir;
    daemon_process d(dir);
    raw_client c(d.socket_path());
    c.send(hello() + family(0, "requests", metric_type::counter) + series(0, 0) +
           ops({{op_code::inc, 0, 3}}) + family(1, "paths_total", metric_type::counter, {"path"}));
    for (std::uint32_t i = 1; i <= 100; ++i) {
        const std::string path = "/some/long/enough/path/" + std::to_string(i);
        c.send(series(i, 1, {path}));
    }
    ASSERT_FALSE(c.sync(1).empty());

    auto health = http_get(d.port(), "/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(http_get(d.port(), "/nope").status, 404);
    auto post = http_get(d.port(), "/metrics", {}, "POST");
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.headers["allow"], "GET, HEAD");

    auto text = http_get(d.port(), "/metrics");
    EXPECT_EQ(text.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    // Declared `requests`, a counter is `requests_total` (PROTOCOL.md 5.1).
    EXPECT_NE(text.body.find("\nrequests_total 3\n"), std::string::npos) << text.body;

    auto om = http_get(d.port(), "/metrics",
                       {{"Accept", "application/openmetrics-text;version=1.0.0,"
                                   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"}});
    EXPECT_EQ(om.headers["content-type"],
              "application/openmetrics-text; version=1.0.0; charset=utf-8");
    EXPECT_NE(om.body.find("\nrequests_total 3\n"), std::string::npos) << om.body;
    EXPECT_TRUE(om.body.ends_with("# EOF\n"));

    auto head = http_get(d.port(), "/metrics", {}, "HEAD");
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty());

    auto gz = http_get(d.port(), "/metrics", {{"Accept-Encoding", "gzip"}});
    EXPECT_EQ(gz.headers["content-encoding"], "gzip");
    EXPECT_EQ(gz.body.substr(0, 2), std::string("\x1f\x8b", 2)); // gzip magic
    EXPECT_LT(gz.body.size(), text.body.size() / 4);
}

TEST(daemon, self_metrics_count_the_traffic_exactly) {
    temp_dir dir;
    daemon_process d(dir);
    raw_client c(d.socket_path());
    c.send(hello() + family(0, "jobs_total", metric_type::counter) + series(0, 0) +
           ops({{op_code::inc, 0, 1}, {op_code::inc, 0, 1}, {op_code::inc, 0, 1}}) +
           ops({{op_code::dec, 0, 1}})); // a counter never goes down: invalid_op
    auto r = c.sync(1);
    ASSERT_EQ(r.size(), 3u); // WELCOME, ERROR, ACK
    EXPECT_EQ(r[1].code, error_code::invalid_op);

    raw_client bad(d.socket_path());
    bad.send("GET / HTTP/1.1\r\n\r\n");
    ASSERT_FALSE(bad.read_until(frame_type::error).empty());
    // EOF comes after the daemon has folded the connection's counters into its totals.
    ASSERT_TRUE(bad.closed_by_peer());

    const auto text = d.scrape();
    EXPECT_EQ(sample_value(text, "metricsd_ingest_ops_applied_total"), 3);
    EXPECT_EQ(sample_value(text, "metricsd_ingest_ops_rejected_total"), 1);
    EXPECT_EQ(sample_value(text, "metricsd_ingest_syncs_total"), 1);
    EXPECT_EQ(sample_value(text, "metricsd_ingest_errors_total{code=\"bad_magic\"}"), 1);
    EXPECT_EQ(sample_value(text, "metricsd_ingest_errors_total{code=\"invalid_op\"}"), 1);
    EXPECT_TRUE(std::isnan(sample_value(text, "metricsd_ingest_errors_total{code=\"internal\"}")))
        << "codes never sent have no series";
    EXPECT_EQ(sample_value(text, "metricsd_ingest_connections_open"), 1);
    EXPECT_EQ(sample_value(text, "metricsd_ingest_connections_total"), 2);
    EXPECT_EQ(sample_value(text, "metricsd_series"), 1);
    EXPECT_EQ(sample_value(text, "metricsd_families"), 1);
    EXPECT_EQ(sample_value(text, "metricsd_workers"), 1);
    EXPECT_GT(sample_value(text, "metricsd_start_time_seconds"), 1.6e9);
    EXPECT_NE(text.find("metricsd_build_info{version=\""), std::string::npos);
    EXPECT_EQ(sample_value(text, "metricsd_scrapes_total"), 0)
        << "the current scrape is unfinished";

    const auto again = d.scrape();
    EXPECT_EQ(sample_value(again, "metricsd_scrapes_total"), 1);
    EXPECT_EQ(sample_value(again, "metricsd_http_requests_total{route=\"/metrics\",code=\"200\"}"),
              1);
    const auto om = d.scrape({{"Accept", "application/openmetrics-text"}});
    EXPECT_NE(om.find("# TYPE metricsd_ingest_ops_applied counter\n"
                      "metricsd_ingest_ops_applied_total 3\n"),
              std::string::npos);
    EXPECT_TRUE(om.ends_with("# EOF\n")) << "self-metrics come before the trailer";
    // Every scrape is a fresh connection, counted once accepted (this one is the fifth); a body
    // is compressed after it is rendered, so the gzip scrape shows in the next one.
    d.scrape({{"Accept-Encoding", "gzip"}});
    const auto counted = d.scrape();
    EXPECT_EQ(sample_value(counted, "metricsd_http_connections_accepted_total"), 5);
    EXPECT_EQ(sample_value(counted, "metricsd_http_gzip_responses_total"), 1);
    EXPECT_EQ(sample_value(counted, "metricsd_http_accept_errors_total"), 0);
    EXPECT_EQ(sample_value(counted, "metricsd_scrape_errors_total"), 0);

    raw_client reserved(d.socket_path());
    reserved.send(hello() + family(0, "metricsd_series", metric_type::gauge));
    r = reserved.sync(2);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[1].code, error_code::name_collision);
}

TEST(daemon, promtool_accepts_the_live_scrape) {
    temp_dir dir;
    daemon_process d(dir);
    raw_client c(d.socket_path());
    c.send(
        hello() + family(0, "http_requests_total", metric_type::counter, {"code"}) +
        series(0, 0, {"200"}) +
        family(1, "temperature_celsius", metric_type::gauge, {}, gauge_mode::all) + series(1, 1) +
        family(2, "latency_seconds", metric_type::histogram, {"route"}, gauge_mode::livesum,
               {"0.01", "0.1", "1"}) +
        series(2, 2, {"/a\"b\\c"}) + family(3, "size_bytes", metric_type::summary) + series(3, 3) +
        ops({{op_code::inc, 0, 2},
             {op_code::set, 1, 21.5},
             {op_code::observe, 2, 0.05},
             {op_code::observe, 3, 512}}));
    ASSERT_FALSE(c.sync(1).empty());
    const auto file = dir.file("scrape.prom");
    std::ofstream(file) << d.scrape();
    std::string out;
    EXPECT_EQ(run_command("promtool check metrics < " + file, out), 0) << out;
}

} // namespace
} // namespace metricsd::test

// A real Prometheus server scrapes the daemon (it negotiates OpenMetrics, so this also checks
// our OpenMetrics output against Prometheus's own parser) and returns exact values through its
// HTTP query API.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace metricsd::test {
namespace {

using protocol::gauge_mode;
using protocol::metric_type;
using protocol::op_code;

TEST(prometheus, scrapes_exact_values) {
    temp_dir dir;
    daemon_process d(dir);
    raw_client c(d.socket_path());
    c.send(hello() + family(0, "jobs_total", metric_type::counter, {"queue"}) +
           series(0, 0, {"mail"}) + family(1, "queue_depth", metric_type::gauge) + series(1, 1) +
           family(2, "job_seconds", metric_type::histogram, {}, gauge_mode::livesum, {"0.1", "1"}) +
           series(2, 2));
    std::vector<protocol::op_record> batch(12345, protocol::op_record{op_code::inc, 0, 1});
    batch.push_back({op_code::set, 1, 42.5});
    batch.push_back({op_code::observe, 2, 0.5});
    c.send(ops(batch));
    ASSERT_FALSE(c.sync(1).empty());

    const int prom_port = free_port();
    std::ofstream(dir.file("prometheus.yml"))
        << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        << "scrape_configs:\n  - job_name: metricsd\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << d.port() << "']\n";
    child_process prom({"prometheus", "--config.file=" + dir.file("prometheus.yml"),
                        "--storage.tsdb.path=" + dir.file("tsdb"),
                        "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
                       dir.file("prometheus.log"));

    auto up = query_until(prom_port, "up", "\"1\"]");
    EXPECT_NE(up.find("\"1\"]"), std::string::npos) << up << "\n" << prom.log();
    auto jobs = query_until(prom_port, "jobs_total", "\"12345\"]");
    EXPECT_NE(jobs.find("\"queue\":\"mail\""), std::string::npos) << jobs;
    EXPECT_NE(jobs.find("\"12345\"]"), std::string::npos) << jobs;
    auto depth = query_until(prom_port, "queue_depth", "\"42.5\"]");
    EXPECT_NE(depth.find("\"42.5\"]"), std::string::npos) << depth;
    auto bucket = query_until(prom_port, "job_seconds_bucket%7Ble%3D%221.0%22%7D", "\"1\"]");
    EXPECT_NE(bucket.find("\"1\"]"), std::string::npos) << bucket;
    // Prometheus negotiated OpenMetrics and parsed it: the scrape was not an error.
    auto health = http_get(prom_port, "/api/v1/targets").body;
    EXPECT_NE(health.find("\"health\":\"up\""), std::string::npos) << health;
    EXPECT_NE(health.find("\"lastError\":\"\""), std::string::npos) << health;
}

} // namespace
} // namespace metricsd::test

// Series expiry in the real daemon: --series-ttl, the sweep timer, /metrics and the self-metric.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <thread>

namespace metricsd::test {
namespace {

using protocol::metric_type;
using protocol::op_code;

/// Scrape until `done(text)` holds or `limit` passes; returns the last scrape.
std::string scrape_until(const daemon_process& d,
                         const std::function<bool(const std::string&)>& done,
                         std::chrono::seconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::string text = d.scrape();
    while (!done(text) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        text = d.scrape();
    }
    return text;
}

TEST(series_ttl, idle_series_are_hidden_while_held_and_dropped_once_released) {
    temp_dir dir;
    daemon_process d(dir, {"--series-ttl", "jobs_total=1"});
    const std::string mail = "jobs_total{queue=\"mail\"}";
    auto worker = std::make_unique<raw_client>(d.socket_path());
    worker->send(hello() + family(0, "jobs_total", metric_type::counter, {"queue"}) +
                 family(1, "kept_total", metric_type::counter) + series(0, 0, {"mail"}) +
                 series(1, 1) + ops({{op_code::inc, 0, 3}, {op_code::inc, 1, 1}}));
    ASSERT_FALSE(worker->sync(1).empty());
    auto text = d.scrape();
    EXPECT_EQ(sample_value(text, mail), 3);
    EXPECT_EQ(sample_value(text, "metricsd_series_expired_total"), 0);

    // Idle for its TTL while the worker holds it: reset and hidden, still in the store.
    text = scrape_until(d, [&](const std::string& t) { return std::isnan(sample_value(t, mail)); });
    EXPECT_TRUE(std::isnan(sample_value(text, mail))) << text;
    EXPECT_EQ(sample_value(text, "metricsd_series"), 2);
    EXPECT_EQ(sample_value(text, "metricsd_series_expired_total"), 1);
    EXPECT_EQ(sample_value(text, "kept_total"), 1); // default TTL 0: never expires

    // The next op brings it back with only what came after.
    worker->send(ops({{op_code::inc, 0, 2}}));
    ASSERT_FALSE(worker->sync(2).empty());
    EXPECT_EQ(sample_value(d.scrape(), mail), 2);

    // Once the worker is gone, the idle series leaves the store.
    worker.reset();
    text = scrape_until(
        d, [](const std::string& t) { return sample_value(t, "metricsd_series") == 1; });
    EXPECT_EQ(sample_value(text, "metricsd_series"), 1) << text;
    EXPECT_TRUE(std::isnan(sample_value(text, mail)));
    EXPECT_EQ(sample_value(text, "metricsd_series_expired_total"), 2);
    EXPECT_EQ(sample_value(text, "kept_total"), 1);

    // A new op re-creates it from zero.
    raw_client again(d.socket_path());
    again.send(hello() + family(0, "jobs_total", metric_type::counter, {"queue"}) +
               series(0, 0, {"mail"}) + ops({{op_code::inc, 0, 1}}));
    ASSERT_FALSE(again.sync(1).empty());
    EXPECT_EQ(sample_value(d.scrape(), mail), 1);
    EXPECT_EQ(d.stop(), 0);
}

} // namespace
} // namespace metricsd::test

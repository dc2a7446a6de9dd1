// metricsd beside pytheus on one real redis-server (issue 13 items 4, 5 and 11): a writer that
// sends exactly pytheus's commands (tests/integration/pytheus_style.py, with the pytheus
// source lines it follows) and reads as pytheus's exposition does, against the real daemon and
// the C++ client. Both readers' output is compared line by line.
#include "daemon_fixture.hpp"
#include "redis_server.hpp"

#include <metricsd/client.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;

const std::string pytheus_style = METRICSD_SOURCE_DIR "/tests/integration/pytheus_style.py";
// pytheus's Histogram.DEFAULT_BUCKETS (metrics.py:472): 1, 5 and 10 are ints, so pytheus names
// their keys `lat:1`, `lat:5`, `lat:10`.
const std::string default_buckets = "0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10";

/// Run pytheus_style.py with `args` against `redis`; its stdout, sorted lines. Fails the test
/// on a non-zero exit.
std::vector<std::string> pytheus(const redis_server& redis, const std::string& args) {
    std::string out;
    const int rc = run_command("python3 " + quoted(pytheus_style) + " " +
                                   std::to_string(redis.port()) + " " + args + " 2>&1",
                               out);
    EXPECT_EQ(rc, 0) << args << "\n" << out;
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
        if (!line.empty())
            lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    return lines;
}

/// The sample lines of `family` (name followed by `_`, `{` or ` `) in a /metrics body.
std::vector<std::string> family_lines(const std::string& body, const std::string& family) {
    std::vector<std::string> lines;
    std::istringstream in(body);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(family, 0) == 0 && line.size() > family.size() &&
            (line[family.size()] == '_' || line[family.size()] == '{' ||
             line[family.size()] == ' '))
            lines.push_back(line);
    return lines;
}

/// Scrape until `family`'s sample lines are `expected` (flushes are asynchronous); the last
/// lines seen.
std::vector<std::string> await_family(const daemon_process& d, const std::string& family,
                                      const std::vector<std::string>& expected) {
    std::vector<std::string> lines;
    eventually([&] {
        const auto r = http_get(d.port(), "/metrics");
        lines = r.status == 200 ? family_lines(r.body, family) : std::vector<std::string>{};
        return lines == expected;
    });
    return lines;
}

client_options options_for(const daemon_process& d) {
    client_options o;
    o.socket_path = d.socket_path();
    return o;
}

std::vector<std::string> redis_flags(const redis_server& redis) {
    return {"--backend", "redis", "--redis-url", redis.url(), "--redis-flush-interval-ms", "20"};
}

class redis_pytheus : public ::testing::Test {
protected:
    void TearDown() override {
        if (HasFailure() && redis_)
            std::cerr << "===== redis-server\n" << redis_->log();
    }
    redis_server& start_redis(redis_server::options opts = {}) {
        redis_ = std::make_unique<redis_server>(opts);
        return *redis_;
    }
    temp_dir dir_;
    std::unique_ptr<redis_server> redis_;
};

// pytheus names a bucket key by str() of the bound its user gave (`lat:1` for the int 1),
// metricsd clients by the text they declare (`lat:1.0`, as str(float) gives). One Redis holding
// both reads as one cumulative histogram: one line per bound, the spellings added.
TEST_F(redis_pytheus, bucket_keys_spelled_either_way_read_as_one_cumulative_histogram) {
    auto& redis = start_redis();
    // A pytheus process: GET observes 0.375, 0.75 and 3.
    pytheus(redis, R"(histogram lat '{"method": "GET"}' )" + default_buckets + " 0.375 0.75 3");
    auto r = redis.connect();
    ASSERT_EQ(r->hash("lat:1"), (std::map<std::string, std::string>{{R"({"method": "GET"})", "2"}}));

    daemon_process d(dir_, redis_flags(redis));
    metricsd::client c(options_for(d));
    auto lat = c.histogram("lat", "Latency.", {"method"},
                           std::vector<std::string>{"0.005", "0.01", "0.025", "0.05", "0.1",
                                                    "0.25", "0.5", "1.0", "2.5", "5.0", "10.0"});
    lat.labels("GET").observe(0.75);
    lat.labels("GET").observe(20);
    lat.labels("POST").observe(0.0078125);
    ASSERT_TRUE(c.flush());
    ASSERT_EQ(c.rejected(), 0u) << c.last_error();

    const std::vector<std::string> expected = {
        R"(lat_bucket{method="GET",le="0.005"} 0)",
        R"(lat_bucket{method="GET",le="0.01"} 0)",
        R"(lat_bucket{method="GET",le="0.025"} 0)",
        R"(lat_bucket{method="GET",le="0.05"} 0)",
        R"(lat_bucket{method="GET",le="0.1"} 0)",
        R"(lat_bucket{method="GET",le="0.25"} 0)",
        R"(lat_bucket{method="GET",le="0.5"} 1)",
        R"(lat_bucket{method="GET",le="1.0"} 3)",
        R"(lat_bucket{method="GET",le="2.5"} 3)",
        R"(lat_bucket{method="GET",le="5.0"} 4)",
        R"(lat_bucket{method="GET",le="10.0"} 4)",
        R"(lat_bucket{method="GET",le="+Inf"} 5)",
        R"(lat_sum{method="GET"} 24.875)",
        R"(lat_count{method="GET"} 5)",
        R"(lat_bucket{method="POST",le="0.005"} 0)",
        R"(lat_bucket{method="POST",le="0.01"} 1)",
        R"(lat_bucket{method="POST",le="0.025"} 1)",
        R"(lat_bucket{method="POST",le="0.05"} 1)",
        R"(lat_bucket{method="POST",le="0.1"} 1)",
        R"(lat_bucket{method="POST",le="0.25"} 1)",
        R"(lat_bucket{method="POST",le="0.5"} 1)",
        R"(lat_bucket{method="POST",le="1.0"} 1)",
        R"(lat_bucket{method="POST",le="2.5"} 1)",
        R"(lat_bucket{method="POST",le="5.0"} 1)",
        R"(lat_bucket{method="POST",le="10.0"} 1)",
        R"(lat_bucket{method="POST",le="+Inf"} 1)",
        R"(lat_sum{method="POST"} 0.0078125)",
        R"(lat_count{method="POST"} 1)",
    };
    EXPECT_EQ(await_family(d, "lat", expected), expected);
    // The daemon wrote its own spelling (a scrape also shows what it has not flushed yet, so
    // wait for Redis) and left pytheus's keys as pytheus wrote them.
    const std::map<std::string, std::string> own = {{R"({"method": "GET"})", "1"},
                                                    {R"({"method": "POST"})", "1"}};
    eventually([&] { return r->hash("lat:1.0") == own; });
    EXPECT_EQ(r->hash("lat:1.0"), own);
    EXPECT_EQ(r->hash("lat:1"), (std::map<std::string, std::string>{{R"({"method": "GET"})", "2"}}));
    // The first write of each series created every bucket cell, unchanged ones at 0.
    EXPECT_EQ(r->hash("lat:0.005"), (std::map<std::string, std::string>{
                                        {R"({"method": "GET"})", "0"}, {R"({"method": "POST"})", "0"}}));
    EXPECT_EQ(d.stop(), 0);
}

// pytheus creates every bucket field of a series when its process starts, and its exposition
// prints only the fields it finds: a series the daemon wrote must have them all, or a pytheus
// process serving /metrics shows it with buckets missing.
TEST_F(redis_pytheus, a_histogram_the_daemon_wrote_reads_whole_through_pytheus) {
    auto& redis = start_redis();
    daemon_process d(dir_, redis_flags(redis));
    metricsd::client c(options_for(d));
    // The bound texts pytheus uses for its default buckets, so both name the same keys.
    auto req = c.histogram("req_seconds", "Requests.", {"route"},
                           std::vector<std::string>{"0.005", "0.01", "0.025", "0.05", "0.1",
                                                    "0.25", "0.5", "1", "2.5", "5", "10"});
    req.labels("a").observe(0.0078125);
    req.labels("b").observe(0.75);
    req.labels("c").observe(7);
    ASSERT_TRUE(c.flush());
    auto r = redis.connect();
    eventually([&] { return r->hash("req_seconds:count").size() == 3; });

    const std::vector<std::string> bounds = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                             "0.5",   "1",    "2.5",   "5",    "10",  "+Inf"};
    const std::map<std::string, double> observed = {{"a", 0.0078125}, {"b", 0.75}, {"c", 7}};
    std::vector<std::string> expected;
    for (const auto& [route, v] : observed) {
        for (const auto& b : bounds) {
            const bool in = b == "+Inf" || v <= std::stod(b);
            expected.push_back("req_seconds_bucket{route=\"" + route + "\",le=\"" + b + "\"} " +
                               (in ? "1.0" : "0.0"));
        }
        std::ostringstream sum;
        sum << v;
        expected.push_back("req_seconds_count{route=\"" + route + "\"} 1.0");
        expected.push_back("req_seconds_sum{route=\"" + route + "\"} " +
                           (route == "c" ? std::string("7.0") : sum.str()));
    }
    std::sort(expected.begin(), expected.end());
    ASSERT_EQ(expected.size(), 3u * 14u);
    EXPECT_EQ(pytheus(redis, "read histogram req_seconds " + default_buckets), expected);
    EXPECT_EQ(d.stop(), 0);
}

// A gauge both write: in the modes that keep the value in the data key (shared, sum, max, min,
// mostrecent) the daemon and pytheus read the same number; in a live* mode the daemon adds its
// workers' shares from its own live key, which pytheus does not know.
TEST_F(redis_pytheus, gauges_both_write_read_the_same_except_live_modes) {
    auto& redis = start_redis();
    const std::string lab = R"('{"room": "lab"}')";
    pytheus(redis, "gauge temp_shared " + lab + " set 5 -- gauge queue_sum " + lab +
                       " inc 5 -- gauge in_flight " + lab + " inc 5");

    daemon_process d(dir_, redis_flags(redis));
    // Held open to the end: a live* share counts while its worker is connected.
    auto c = std::make_unique<metricsd::client>(options_for(d));
    c->gauge("temp_shared", "Last set.", {"room"}, gauge_mode::shared).labels("lab").set(7);
    c->gauge("queue_sum", "Summed.", {"room"}, gauge_mode::sum).labels("lab").inc(6);
    c->gauge("in_flight", "In flight.", {"room"}, gauge_mode::livesum).labels("lab").inc(6);
    ASSERT_TRUE(c->flush());

    const std::vector<std::string> shared = {R"(temp_shared{room="lab"} 7)"};
    const std::vector<std::string> summed = {R"(queue_sum{room="lab"} 11)"};
    const std::vector<std::string> live = {R"(in_flight{room="lab"} 11)"};
    EXPECT_EQ(await_family(d, "temp_shared", shared), shared);
    EXPECT_EQ(await_family(d, "queue_sum", summed), summed);
    EXPECT_EQ(await_family(d, "in_flight", live), live);
    // pytheus sees only what pytheus processes added to in_flight: the daemon's share is in
    // its live key and leaves with it.
    EXPECT_EQ(pytheus(redis, "read gauge temp_shared - -- read gauge queue_sum - -- read gauge "
                             "in_flight -"),
              (std::vector<std::string>{R"(in_flight{room="lab"} 5.0)",
                                        R"(queue_sum{room="lab"} 11.0)",
                                        R"(temp_shared{room="lab"} 7.0)"}));
    c.reset(); // the daemon drains connected workers before it stops
    EXPECT_EQ(d.stop(), 0);
}

// A daemon whose Redis never answered says so at shutdown, not that a final flush was written.
TEST_F(redis_pytheus, shutdown_without_redis_does_not_claim_a_final_flush) {
    auto& redis = start_redis({.start = false});
    daemon_process d(dir_, redis_flags(redis));
    d.process().signal(SIGTERM);
    EXPECT_EQ(d.process().wait(10s), 0);
    const auto log = d.process().log();
    EXPECT_EQ(log.find("final flush written"), std::string::npos) << log;
    EXPECT_EQ(occurrences(log, "redis: not reachable at shutdown; no change was waiting, so "
                               "nothing is lost"),
              1u)
        << log;
}

} // namespace
} // namespace metricsd::test

// The Redis backend end to end: the real metricsd binary with --backend redis against a real
// redis-server, real worker processes and the C++ client. Redis is read with hiredis (not with
// the daemon's code) and every key, field and value is compared exactly, as are the totals on
// /metrics, through crashes and restarts of either side and next to a pytheus writer.
#include "daemon_fixture.hpp"
#include "redis_server.hpp"

#include <metricsd/client.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using field_map = std::map<std::string, std::string>;
using samples = std::vector<std::pair<std::string, double>>;

/// Daemon flags for the Redis backend at `url`; a 20 ms flush interval keeps waits short.
std::vector<std::string> redis_flags(const std::string& url,
                                     const std::vector<std::string>& extra = {},
                                     int flush_interval_ms = 20) {
    std::vector<std::string> flags{"--backend", "redis", "--redis-url", url};
    flags.emplace_back("--redis-flush-interval-ms");
    flags.push_back(std::to_string(flush_interval_ms));
    flags.insert(flags.end(), extra.begin(), extra.end());
    return flags;
}

client_options options_for(const daemon_process& d) {
    client_options o;
    o.socket_path = d.socket_path();
    return o;
}

int status_of(const daemon_process& d, const std::string& target) {
    return http_get(d.port(), target).status;
}

/// Scrape until every series shows its value (flushes and disconnects are asynchronous);
/// returns the last 200 body, or "" if none came, so the caller's EXPECTs show what was seen.
std::string scrape_until(const daemon_process& d, const samples& expected) {
    std::string body;
    eventually([&] {
        const auto r = http_get(d.port(), "/metrics");
        if (r.status != 200)
            return false;
        body = r.body;
        return std::all_of(expected.begin(), expected.end(),
                           [&](const auto& s) { return sample_value(body, s.first) == s.second; });
    });
    return body;
}

void expect_samples(const std::string& body, const samples& expected) {
    for (const auto& [series, value] : expected)
        EXPECT_EQ(sample_value(body, series), value) << series << " in\n" << body;
}

/// Every sample of an exposition: `name{labels}` -> value.
std::map<std::string, double> parse_samples(const std::string& body) {
    std::map<std::string, double> out;
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) {
        const auto space = line.rfind(' ');
        if (line.empty() || line[0] == '#' || space == std::string::npos)
            continue;
        out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
    }
    return out;
}

/// True if some sample line of the exposition starts with `prefix`.
bool has_sample(const std::string& body, const std::string& prefix) {
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(prefix, 0) == 0)
            return true;
    return false;
}

/// Poll until `read()` returns `expected`; returns the last value read. A value that overshoots
/// (a flush applied twice) never matches, so the caller's EXPECT fails showing it.
template <class Read, class T>
T await_value(Read read, const T& expected) {
    T last{};
    eventually([&] {
        last = read();
        return last == expected;
    });
    return last;
}

std::string await_get(redis_client& r, const std::string& key, const std::string& expected) {
    return await_value([&] { return r.text({"GET", key}); }, expected);
}

field_map await_hash(redis_client& r, const std::string& key, const field_map& expected) {
    return await_value([&] { return r.hash(key); }, expected);
}

/// The live* gauge contributions in the one daemon live key of this db (`<family> <labels>` ->
/// value, without the stamp); empty when there is none.
field_map live_values(redis_client& r) {
    const auto keys = r.keys("metricsd:live:*");
    if (keys.size() != 1)
        return {};
    field_map out;
    for (const auto& [f, v] : r.hash(keys[0]))
        out[f] = v.substr(0, v.find(' '));
    return out;
}

field_map await_live(redis_client& r, const field_map& expected) {
    return await_value([&] { return live_values(r); }, expected);
}

/// Every key in the selected db with its type and content, except the flush sequence keys
/// (one per daemon run, named after it), which are collected apart.
struct redis_dump {
    field_map strings;
    std::map<std::string, field_map> hashes;
    std::vector<std::string> others;
    std::vector<std::string> flushseq_keys;
    bool operator==(const redis_dump&) const = default;
};

redis_dump dump(redis_client& r, const std::string& flushseq_prefix) {
    redis_dump out;
    for (const auto& key : r.keys()) {
        const auto type = r.text({"TYPE", key});
        if (key.rfind(flushseq_prefix, 0) == 0)
            out.flushseq_keys.push_back(key);
        else if (type == "string")
            out.strings[key] = r.text({"GET", key});
        else if (type == "hash")
            out.hashes[key] = r.hash(key);
        else
            out.others.push_back(key + " (" + type + ")");
    }
    return out;
}

/// The label JSON pytheus (json.dumps) writes for one label.
std::string field(const std::string& name, const std::string& value) {
    return "{\"" + name + "\": \"" + value + "\"}";
}

// metricsd_test_worker (worker.cpp) with `incs` a multiple of 600: work_total{set} gets incs/3
// per set, work_size observes i % 200 (incs/200 rounds of 0..199).
samples worker_samples(int workers, long incs) {
    const double n = workers, rounds = n * static_cast<double>(incs / 200);
    const double per_set = n * static_cast<double>(incs / 3);
    return {{"work_total{set=\"a\"}", per_set},
            {"work_total{set=\"b\"}", per_set},
            {"work_total{set=\"c\"}", per_set},
            {"busy_workers", 0},
            {"total_seen", n * static_cast<double>(incs)},
            {"work_size_bucket{le=\"1.0\"}", rounds * 2},
            {"work_size_bucket{le=\"10.0\"}", rounds * 11},
            {"work_size_bucket{le=\"100.0\"}", rounds * 101},
            {"work_size_bucket{le=\"+Inf\"}", n * static_cast<double>(incs)},
            {"work_size_count", n * static_cast<double>(incs)},
            {"work_size_sum", rounds * 19900}};
}

/// The same totals as Redis stores them (INCRBYFLOAT's text of an integral value).
field_map worker_strings(int workers, long incs) {
    const long rounds = workers * (incs / 200);
    const auto all = std::to_string(workers * incs);
    return {{"total_seen", all},
            {"work_size:1", std::to_string(rounds * 2)},
            {"work_size:10", std::to_string(rounds * 11)},
            {"work_size:100", std::to_string(rounds * 101)},
            {"work_size:+Inf", all},
            {"work_size:count", all},
            {"work_size:sum", std::to_string(rounds * 19900)}};
}

field_map worker_sets(int workers, long incs) {
    const auto per_set = std::to_string(workers * incs / 3);
    return {
        {field("set", "a"), per_set}, {field("set", "b"), per_set}, {field("set", "c"), per_set}};
}

class redis_backend : public ::testing::Test {
protected:
    redis_server& start_redis(redis_server::options opts = {}) {
        redis_ = std::make_unique<redis_server>(opts);
        return *redis_;
    }

    /// metricsd_test_worker; with `hold` it stays connected after its flush until killed.
    std::unique_ptr<child_process> start_worker(const daemon_process& d, long incs,
                                                bool hold = false) {
        const auto index = std::to_string(workers_started_++);
        std::vector<std::string> argv{worker_binary(), d.socket_path(), std::to_string(incs)};
        if (hold)
            argv.emplace_back("hold");
        return std::make_unique<child_process>(argv, dir_.file("worker" + index + ".log"));
    }

    /// Run `count` workers against each daemon in `daemons` at once; "" when all of them exited 0
    /// with every op acknowledged, else what went wrong.
    std::string run_workers(const std::vector<const daemon_process*>& daemons, int count,
                            long incs) {
        std::vector<std::unique_ptr<child_process>> procs;
        for (int i = 0; i < count; ++i)
            for (const auto* d : daemons)
                procs.push_back(start_worker(*d, incs));
        std::string problems;
        for (auto& p : procs) {
            const int rc = p->wait(60s);
            if (rc != 0 || p->log().find("flushed dropped=0") == std::string::npos)
                problems += "worker exited " + std::to_string(rc) + ": " + p->log() + "\n";
        }
        return problems;
    }

    // Logs of the daemons, workers and redis-server, for a failing test only.
    void TearDown() override {
        if (!HasFailure())
            return;
        for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
            if (entry.path().extension() != ".log")
                continue;
            std::ifstream in(entry.path());
            std::cerr << "===== " << entry.path().filename().string() << "\n" << in.rdbuf();
        }
        if (redis_)
            std::cerr << "===== redis-server\n" << redis_->log();
    }

    temp_dir dir_;
    std::unique_ptr<redis_server> redis_;
    int workers_started_ = 0;
};

// Known ops from one client land as pytheus's layout, key by key: types, field texts, value
// texts, TTLs, the metadata records; and /metrics shows the same values.
TEST_F(redis_backend, known_ops_land_as_exact_keys_fields_and_values) {
    auto& redis = start_redis();
    daemon_process d(dir_, redis_flags(redis.url(), {"--redis-expire-key-time", "600"}));
    EXPECT_TRUE(eventually([&] { return status_of(d, "/readyz") == 200; }));

    metricsd::client c(options_for(d));
    auto requests = c.counter("http_requests_total", "Requests.", {"method", "code"});
    requests.labels("GET", "200").inc();
    requests.labels("GET", "200").inc(2);
    requests.labels("POST", "500").inc();
    c.counter("jobs_total", "Jobs.").inc(2.5);
    auto latency = c.histogram("request_latency_seconds", "Latency.", {"route"},
                               std::vector<std::string>{"0.1", "1.0", "2.5"});
    for (const double v : {0.0625, 0.5, 2.0, 3.0}) // exact in binary: the sum is exact
        latency.labels("/api").observe(v);
    auto job = c.summary("job_seconds", "Job time.");
    job.observe(1.5);
    job.observe(2.25);
    auto temperature = c.gauge("temperature", "Temperature.", {"room"}, gauge_mode::shared);
    temperature.labels("lab").set(19);
    temperature.labels("lab").set(21.5);
    temperature.labels("office").set(18.25);
    auto depth = c.gauge("queue_depth", "Queued.", {}, gauge_mode::shared);
    depth.set(7);
    depth.inc(2);
    // Label value: é, a quote, x, a backslash; json.dumps escapes all but x.
    c.counter("queries_total", "Queries.", {"q"}).labels("\xc3\xa9\"x\\").inc();
    ASSERT_TRUE(c.flush());
    EXPECT_EQ(c.rejected(), 0u) << c.last_error();
    const samples want = {{"http_requests_total{method=\"GET\",code=\"200\"}", 3},
                          {"http_requests_total{method=\"POST\",code=\"500\"}", 1},
                          {"jobs_total", 2.5},
                          {"request_latency_seconds_bucket{route=\"/api\",le=\"0.1\"}", 1},
                          {"request_latency_seconds_bucket{route=\"/api\",le=\"1.0\"}", 2},
                          {"request_latency_seconds_bucket{route=\"/api\",le=\"2.5\"}", 3},
                          {"request_latency_seconds_bucket{route=\"/api\",le=\"+Inf\"}", 4},
                          {"request_latency_seconds_sum{route=\"/api\"}", 5.5625},
                          {"request_latency_seconds_count{route=\"/api\"}", 4},
                          {"job_seconds_sum", 3.75},
                          {"job_seconds_count", 2},
                          {"temperature{room=\"lab\"}", 21.5},
                          {"temperature{room=\"office\"}", 18.25},
                          {"queue_depth", 9},
                          {"queries_total{q=\"\xc3\xa9\\\"x\\\\\"}", 1}};
    // Right after the ACK, flushed or not: the scrape adds the pending deltas to Redis's values.
    expect_samples(d.scrape(), want);

    const auto route = field("route", "/api");
    const auto record = [](const char* type, const char* mode, const char* help, const char* labels,
                           const char* buckets) {
        return std::string("{\"type\": \"") + type + "\", \"mode\": \"" + mode +
               "\", \"help\": \"" + help + "\", \"labels\": " + labels +
               ", \"buckets\": " + buckets + "}";
    };
    redis_dump expected;
    expected.strings = {{"jobs_total", "2.5"},
                        {"job_seconds:sum", "3.75"},
                        {"job_seconds:count", "2"},
                        {"queue_depth", "9"}};
    expected.hashes = {
        {"http_requests_total",
         {{R"({"method": "GET", "code": "200"})", "3"},
          {R"({"method": "POST", "code": "500"})", "1"}}},
        {"request_latency_seconds:0.1", {{route, "1"}}},
        {"request_latency_seconds:1.0", {{route, "2"}}},
        {"request_latency_seconds:2.5", {{route, "3"}}},
        {"request_latency_seconds:+Inf", {{route, "4"}}},
        {"request_latency_seconds:sum", {{route, "5.5625"}}},
        {"request_latency_seconds:count", {{route, "4"}}},
        {"temperature", {{field("room", "lab"), "21.5"}, {field("room", "office"), "18.25"}}},
        {"queries_total", {{R"({"q": "\u00e9\"x\\"})", "1"}}}, // json.dumps: ensure_ascii
        {"metricsd:meta",
         {{"http_requests_total",
           record("counter", "livesum", "Requests.", R"(["method", "code"])", "[]")},
          {"jobs_total", record("counter", "livesum", "Jobs.", "[]", "[]")},
          {"request_latency_seconds",
           record("histogram", "livesum", "Latency.", R"(["route"])", R"(["0.1", "1.0", "2.5"])")},
          {"job_seconds", record("summary", "livesum", "Job time.", "[]", "[]")},
          {"temperature", record("gauge", "shared", "Temperature.", R"(["room"])", "[]")},
          {"queue_depth", record("gauge", "shared", "Queued.", "[]", "[]")},
          {"queries_total", record("counter", "livesum", "Queries.", R"(["q"])", "[]")}}}};

    auto r = redis.connect();
    redis_dump got;
    eventually([&] {
        got = dump(*r, "metricsd:flushseq:");
        got.flushseq_keys.clear();
        return got == expected;
    });
    EXPECT_EQ(got.strings, expected.strings);
    EXPECT_EQ(got.hashes, expected.hashes);
    EXPECT_EQ(got.others, std::vector<std::string>{});

    // One sequence key for this daemon run, holding a positive number, with its own long TTL.
    const auto seq_keys = r->keys("metricsd:flushseq:*");
    ASSERT_EQ(seq_keys.size(), 1u);
    EXPECT_GT(std::stoll(r->text({"GET", seq_keys[0]})), 0);
    EXPECT_GT(r->integer({"TTL", seq_keys[0]}), 600);
    for (const auto& key : r->keys()) {
        if (key == seq_keys[0])
            continue;
        const auto ttl = r->integer({"TTL", key});
        EXPECT_TRUE(ttl > 590 && ttl <= 600) << key << " TTL " << ttl;
    }

    const auto body = d.scrape();
    expect_samples(body, want);
    EXPECT_NE(body.find("# TYPE request_latency_seconds histogram\n"), std::string::npos) << body;
    EXPECT_NE(body.find("# HELP temperature Temperature.\n"), std::string::npos) << body;
    EXPECT_EQ(d.stop(), 0);
}

// Gauge modes on Redis: live* modes as this daemon's own contributions in its leased live key
// (livesum follows its workers, liveall's pid field goes with its worker, the key goes with
// the daemon), all kept per pid in the data key, max written as one value.
TEST_F(redis_backend, gauge_modes_follow_workers_in_redis) {
    auto& redis = start_redis();
    daemon_process d(dir_, redis_flags(redis.url()));
    auto r = redis.connect();
    const auto pid = std::to_string(::getpid());
    const auto pid_field = field("pid", pid);

    auto one = std::make_unique<metricsd::client>(options_for(d));
    auto two = std::make_unique<metricsd::client>(options_for(d));
    one->gauge("in_flight", "In flight.").inc(3);
    one->gauge("live_value", "Per worker while it runs.", {}, gauge_mode::liveall).set(5);
    one->gauge("last_value", "Per worker, kept.", {}, gauge_mode::all).set(6);
    one->gauge("peak", "Largest value.", {}, gauge_mode::max).set(4);
    two->gauge("in_flight", "In flight.").inc(2);
    two->gauge("peak", "Largest value.", {}, gauge_mode::max).set(9);
    ASSERT_TRUE(one->flush());
    ASSERT_TRUE(two->flush());

    const field_map both{{"in_flight {}", "5"}, {"live_value " + pid_field, "5"}};
    EXPECT_EQ(await_live(*r, both), both);
    EXPECT_FALSE(r->integer({"EXISTS", "in_flight"})) << "live gauges stay out of the data key";
    EXPECT_EQ(await_hash(*r, "last_value", {{pid_field, "6"}}), (field_map{{pid_field, "6"}}));
    EXPECT_EQ(await_get(*r, "peak", "9"), "9");
    auto body = scrape_until(d, {{"in_flight", 5}, {"peak", 9}});
    expect_samples(body, {{"in_flight", 5},
                          {"live_value{pid=\"" + pid + "\"}", 5},
                          {"last_value{pid=\"" + pid + "\"}", 6},
                          {"peak", 9}});

    one.reset(); // its connection closes: the daemon retires it
    EXPECT_EQ(await_live(*r, {{"in_flight {}", "2"}}), (field_map{{"in_flight {}", "2"}}));
    EXPECT_EQ(r->hash("last_value"), (field_map{{pid_field, "6"}}));
    EXPECT_EQ(r->text({"GET", "peak"}), "9");
    body = scrape_until(d, {{"in_flight", 2}});
    EXPECT_FALSE(has_sample(body, "live_value{")) << body;
    expect_samples(body, {{"last_value{pid=\"" + pid + "\"}", 6}, {"peak", 9}});

    two.reset();
    EXPECT_EQ(await_live(*r, {{"in_flight {}", "0"}}), (field_map{{"in_flight {}", "0"}}));
    EXPECT_EQ(d.stop(), 0);
    EXPECT_EQ(r->keys("metricsd:live:*"), std::vector<std::string>{}) << "gone with the daemon";
    EXPECT_EQ(r->integer({"SCARD", "metricsd:daemons"}), 0);
}

// Two daemons sum into one Redis: workers split over both, and both /metrics show the exact
// totals; a family declared only through daemon B is exported by daemon A from the metadata.
TEST_F(redis_backend, two_daemons_on_one_redis_show_the_same_exact_totals) {
    constexpr int per_daemon = 2;
    constexpr long incs = 6000;
    auto& redis = start_redis();
    daemon_process a(dir_, redis_flags(redis.url()), "a");
    daemon_process b(dir_, redis_flags(redis.url()), "b");
    ASSERT_EQ(run_workers({&a, &b}, per_daemon, incs), "");
    {
        metricsd::client only_b(options_for(b));
        only_b.counter("only_b_total", "Declared via B only.", {"kind"}).labels("x").inc(5);
        ASSERT_TRUE(only_b.flush());
    }

    auto expected = worker_samples(2 * per_daemon, incs);
    expected.emplace_back("only_b_total{kind=\"x\"}", 5);
    for (const auto* d : {&a, &b}) {
        const auto body = scrape_until(*d, expected);
        expect_samples(body, expected);
        EXPECT_NE(body.find("# HELP only_b_total Declared via B only.\n"), std::string::npos)
            << body;
    }

    auto r = redis.connect();
    EXPECT_EQ(r->hash("work_total"), worker_sets(2 * per_daemon, incs));
    for (const auto& [key, value] : worker_strings(2 * per_daemon, incs))
        EXPECT_EQ(r->text({"GET", key}), value) << key;
    EXPECT_EQ(r->keys("metricsd:flushseq:*").size(), 2u) << "one sequence key per daemon";
    EXPECT_EQ(a.stop(), 0);
    EXPECT_EQ(b.stop(), 0);
}

// redis-server dies (SIGKILL), three times, while a client keeps incrementing, and comes back
// with its fsync'd AOF: every op lands exactly once, whichever flush step a crash interrupted.
// Meanwhile the daemon reports itself unready and refuses partial /metrics, yet keeps accepting
// ops.
TEST_F(redis_backend, redis_killed_mid_run_loses_and_doubles_nothing) {
    constexpr long incs = 3000;
    constexpr int crashes = 3; // each one may cut a different step of a flush
    auto& redis = start_redis({.append_only = true});
    daemon_process d(dir_, redis_flags(redis.url()));
    EXPECT_TRUE(eventually([&] { return status_of(d, "/readyz") == 200; }));

    std::atomic<long> sent{0};
    std::atomic<bool> flushed{false};
    // jthread: stopped and joined even if an assertion below throws.
    std::jthread pacer([&](std::stop_token stop) {
        metricsd::client c(options_for(d));
        const auto ticks = c.counter("ticks_total", "Paced increments.").labels();
        while (!stop.stop_requested()) {
            for (int i = 0; i < 50; ++i)
                ticks.inc();
            sent += 50;
            std::this_thread::sleep_for(1ms); // ~50 k/s: every 20 ms flush carries a delta
        }
        flushed = c.flush(10s) && c.dropped_ops() == 0;
    });
    // Waits until the pacer sent `n` more increments: a phase lasts that long, whatever the load.
    const auto pacer_sends = [&](long n) {
        const long from = sent;
        return eventually([&] { return sent >= from + n; });
    };
    for (int crash = 0; crash < crashes; ++crash) {
        {
            // Flushes are landing: the value Redis holds moves on from what it restarted with.
            auto r = redis.connect();
            const auto restarted_with = r->text({"GET", "ticks_total"});
            EXPECT_TRUE(eventually([&] {
                return r->text({"GET", "ticks_total"}) != restarted_with;
            }));
        }
        redis.kill(SIGKILL);
        EXPECT_TRUE(eventually([&] { return status_of(d, "/readyz") == 503; })) << crash;
        EXPECT_EQ(status_of(d, "/metrics"), 503);
        if (crash == 0) {
            EXPECT_EQ(run_workers({&d}, 2, incs), "") << "ops are accepted while Redis is down";
        }
        EXPECT_TRUE(pacer_sends(2500)); // several flush intervals' worth held by the daemon
        EXPECT_EQ(status_of(d, "/metrics"), 503) << "never partial totals";
        redis.restart();
        EXPECT_TRUE(eventually([&] { return status_of(d, "/readyz") == 200; })) << crash;
    }
    EXPECT_EQ(run_workers({&d}, 2, incs), "");
    pacer.request_stop();
    pacer.join();
    ASSERT_TRUE(flushed);

    const auto total = sent.load();
    auto r = redis.connect();
    EXPECT_EQ(await_get(*r, "ticks_total", std::to_string(total)), std::to_string(total));
    EXPECT_EQ(await_hash(*r, "work_total", worker_sets(4, incs)), worker_sets(4, incs));
    auto expected = worker_samples(4, incs);
    expected.emplace_back("ticks_total", static_cast<double>(total));
    expect_samples(scrape_until(d, expected), expected);
    for (const auto& [key, value] : worker_strings(4, incs))
        EXPECT_EQ(r->text({"GET", key}), value) << key;
    EXPECT_EQ(d.stop(), 0);
}

// While more series change than one flush takes, the backend plans each next flush while Redis
// runs the current one. A scrape must still get its snapshot within one more flush, not wait
// for the burst to end, and the totals stay exact.
TEST_F(redis_backend, a_scrape_during_a_sustained_burst_is_answered_and_totals_stay_exact) {
    constexpr int series = 30'000; // more than one flush takes (20 000)
    auto& redis = start_redis();
    daemon_process d(dir_, redis_flags(redis.url(), {"--max-series-per-family", "50000"}));
    std::atomic<long> rounds{0};
    std::atomic<bool> flushed{false};
    std::jthread burst([&](std::stop_token stop) {
        metricsd::client c(options_for(d));
        const auto family = c.counter("burst_total", "Bursts.", {"n"});
        std::vector<decltype(family.labels(""))> handles;
        for (int i = 0; i < series; ++i)
            handles.push_back(family.labels(std::to_string(i)));
        while (!stop.stop_requested()) {
            for (const auto& h : handles)
                h.inc();
            ++rounds;
            c.flush(10s); // each round reaches the store: every series changes again
        }
        flushed = c.flush(10s) && c.dropped_ops() == 0;
    });
    ASSERT_TRUE(eventually([&] { return rounds >= 2; }));
    for (int i = 0; i < 3; ++i) {
        const auto asked = std::chrono::steady_clock::now();
        EXPECT_EQ(status_of(d, "/metrics"), 200) << i;
        EXPECT_LT(std::chrono::steady_clock::now() - asked, 5s) << i;
    }
    EXPECT_GE(rounds, 2);
    burst.request_stop();
    burst.join();
    ASSERT_TRUE(flushed);
    const std::string want = std::to_string(rounds.load());
    field_map expected;
    for (int i = 0; i < series; ++i)
        expected[R"({"n": ")" + std::to_string(i) + "\"}"] = want;
    auto r = redis.connect();
    EXPECT_EQ(await_hash(*r, "burst_total", expected), expected);
    EXPECT_EQ(d.stop(), 0);
}

// SIGTERM flushes what is pending before the daemon exits; the next daemon on the same Redis
// exports the old totals before any worker connects and adds new increments to them.
TEST_F(redis_backend, restarted_daemon_continues_from_redis) {
    constexpr long incs = 3000;
    auto& redis = start_redis();
    // A minute between flushes: only the final flush at SIGTERM can take the ops to Redis, and
    // until then /metrics shows them from the daemon's pending deltas. Database 5 of the URL.
    auto first =
        std::make_unique<daemon_process>(dir_, redis_flags(redis.url(5), {}, 60'000), "first");
    EXPECT_TRUE(eventually([&] { return status_of(*first, "/readyz") == 200; }));
    ASSERT_EQ(run_workers({first.get()}, 2, incs), "");
    auto pending = worker_samples(2, incs);
    std::erase_if(pending, [](const auto& s) { return s.first == "busy_workers"; }); // async exit
    expect_samples(first->scrape(), pending);

    EXPECT_EQ(first->stop(), 0);
    auto r = redis.connect(5);
    EXPECT_EQ(r->hash("work_total"), worker_sets(2, incs));
    for (const auto& [key, value] : worker_strings(2, incs))
        EXPECT_EQ(r->text({"GET", key}), value) << key; // busy_workers 0: both workers retired
    first.reset();

    // Before any worker connects, the families come from the metadata and the totals from Redis
    // (the livesum gauge left with the first daemon's workers: no series until one comes).
    daemon_process second(dir_, redis_flags(redis.url(5)), "second");
    EXPECT_TRUE(eventually([&] { return status_of(second, "/readyz") == 200; }));
    const auto before = second.scrape();
    expect_samples(before, pending);
    EXPECT_FALSE(has_sample(before, "busy_workers")) << before;

    ASSERT_EQ(run_workers({&second}, 1, incs), "");
    const auto expected = worker_samples(3, incs);
    expect_samples(scrape_until(second, expected), expected);
    EXPECT_EQ(await_hash(*r, "work_total", worker_sets(3, incs)), worker_sets(3, incs));
    EXPECT_EQ(second.stop(), 0);
    EXPECT_EQ(redis.connect(0)->keys(), std::vector<std::string>{}) << "all in database 5";
}

// Keys written the way pytheus writes them share series with metricsd's workers: values add
// up, a field with another key order merges, a malformed field and a wrong-typed key are
// skipped without failing the scrape, and a pytheus-only family stays unexported.
TEST_F(redis_backend, pytheus_written_keys_share_series_with_workers) {
    auto& redis = start_redis();
    auto r = redis.connect();
    const std::string get_200 = R"({"method": "GET", "code": "200"})";
    const std::string get_200_swapped = R"({"code": "200", "method": "GET"})";
    const std::string post_201 = R"({"method": "POST", "code": "201"})";
    const std::string put_200 = R"({"method": "PUT", "code": "200"})";
    const auto get = field("method", "GET");
    // pytheus's MultiProcessRedisBackend: one command per op, then EXPIRE.
    const std::vector<std::vector<std::string>> pytheus = {
        {"HINCRBYFLOAT", "http_requests_total", get_200, "1"},
        {"EXPIRE", "http_requests_total", "3600"},
        {"HINCRBYFLOAT", "http_requests_total", get_200_swapped, "4"}, // another writer
        {"HINCRBYFLOAT", "http_requests_total", "GET-200", "100"},     // old pytheus format
        {"HINCRBYFLOAT", "http_requests_total", post_201, "2"},
        {"HSET", "http_requests_total", put_200, "many"}, // not a number
        {"INCRBYFLOAT", "jobs_total", "5"},
        {"EXPIRE", "jobs_total", "3600"},
        // Observations 0.0625, 0.5 and 3.6875 in buckets 0.1, 1.0, 2.5 (cumulative).
        {"HINCRBYFLOAT", "lat:0.1", get, "1"},
        {"HINCRBYFLOAT", "lat:1.0", get, "2"},
        {"HINCRBYFLOAT", "lat:2.5", get, "2"},
        {"HINCRBYFLOAT", "lat:+Inf", get, "3"},
        {"HINCRBYFLOAT", "lat:sum", get, "4.25"},
        {"HINCRBYFLOAT", "lat:count", get, "3"},
        {"INCRBYFLOAT", "pytheus_only_total", "7"}, // no metadata: nobody exports it
    };
    for (const auto& command : pytheus)
        ASSERT_NE(r->command(command).type, redis_reply::kind::error) << command[0];

    daemon_process d(dir_, redis_flags(redis.url()));
    metricsd::client c(options_for(d));
    c.counter("http_requests_total", "Requests.", {"method", "code"}).labels("GET", "200").inc(2);
    c.counter("jobs_total", "Jobs.").inc();
    c.histogram("lat", "Latency.", {"method"}, std::vector<std::string>{"0.1", "1.0", "2.5"})
        .labels("GET")
        .observe(0.5);
    c.gauge("room_temp", "Room temperature.", {"room"}, gauge_mode::shared).labels("lab").set(20);
    ASSERT_TRUE(c.flush());
    EXPECT_EQ(c.rejected(), 0u) << c.last_error();
    EXPECT_EQ(await_hash(*r, "room_temp", {{field("room", "lab"), "20"}}),
              (field_map{{field("room", "lab"), "20"}}));
    // pytheus goes on writing; and someone replaces a declared labelled family's HASH by a
    // STRING, which the scrape must skip.
    r->command({"HINCRBYFLOAT", "http_requests_total", get_200, "1"});
    r->command({"DEL", "room_temp"});
    r->command({"SET", "room_temp", "5"});

    const samples expected = {{"http_requests_total{method=\"GET\",code=\"200\"}", 1 + 4 + 2 + 1},
                              {"http_requests_total{method=\"POST\",code=\"201\"}", 2},
                              {"jobs_total", 6},
                              {"lat_bucket{method=\"GET\",le=\"0.1\"}", 1},
                              {"lat_bucket{method=\"GET\",le=\"1.0\"}", 3},
                              {"lat_bucket{method=\"GET\",le=\"2.5\"}", 3},
                              {"lat_bucket{method=\"GET\",le=\"+Inf\"}", 4},
                              {"lat_sum{method=\"GET\"}", 4.75},
                              {"lat_count{method=\"GET\"}", 4}};
    const auto body = scrape_until(d, expected);
    expect_samples(body, expected);
    EXPECT_FALSE(has_sample(body, "room_temp")) << body;
    EXPECT_FALSE(has_sample(body, "http_requests_total{method=\"PUT\"")) << body;
    EXPECT_EQ(body.find("pytheus_only_total"), std::string::npos) << body;
    EXPECT_EQ(body.find("GET-200"), std::string::npos) << body;

    // Each scrape skips exactly the one malformed field, bad value and wrong-typed key, and
    // counts them (the counters are totals over scrapes, hence the difference of two).
    const auto next = d.scrape();
    for (const char* what : {"malformed_field", "bad_value", "wrong_type_key"}) {
        const auto series = std::string("metricsd_redis_skipped_total{what=\"") + what + "\"}";
        EXPECT_EQ(sample_value(next, series) - sample_value(body, series), 1) << series << next;
    }
    EXPECT_EQ(sample_value(next, "metricsd_redis_skipped_total{what=\"malformed_meta\"}"), 0);

    // The daemon added to pytheus's field and left the foreign ones alone.
    EXPECT_EQ(r->hash("http_requests_total"), (field_map{{get_200, "4"},
                                                         {get_200_swapped, "4"},
                                                         {"GET-200", "100"},
                                                         {post_201, "2"},
                                                         {put_200, "many"}}));
    EXPECT_EQ(r->text({"GET", "jobs_total"}), "6");
    EXPECT_EQ(r->hash("lat:1.0"), (field_map{{get, "3"}}));
    EXPECT_EQ(r->hash("lat:sum"), (field_map{{get, "4.75"}}));
    EXPECT_EQ(r->text({"GET", "pytheus_only_total"}), "7");
    EXPECT_EQ(d.stop(), 0);
}

// With a key prefix every key the daemon writes is `P-...` (data, metadata, flush sequence),
// and reads honour it: a prefixed pytheus key adds up, an unprefixed one is someone else's.
// Also covers a Unix-socket URL with a database number.
TEST_F(redis_backend, key_prefix_is_honoured_on_write_and_read) {
    auto& redis = start_redis();
    auto db0 = redis.connect();
    auto r = redis.connect(3);
    const auto get_200 = std::string(R"({"method": "GET", "code": "200"})");
    r->command({"HINCRBYFLOAT", "svc-http_requests_total", get_200, "10"});
    r->command({"HINCRBYFLOAT", "http_requests_total", get_200, "1000"}); // not ours

    daemon_process d(dir_, redis_flags(redis.unix_url() + "?db=3", {"--redis-key-prefix", "svc"}));
    metricsd::client c(options_for(d));
    c.counter("http_requests_total", "Requests.", {"method", "code"}).labels("GET", "200").inc(3);
    c.counter("jobs_total", "Jobs.").inc(4);
    c.summary("job_seconds", "Job time.").observe(0.5);
    ASSERT_TRUE(c.flush());

    EXPECT_EQ(await_get(*r, "svc-job_seconds:count", "1"), "1");
    EXPECT_EQ(await_hash(*r, "svc-http_requests_total", {{get_200, "13"}}),
              (field_map{{get_200, "13"}}));
    EXPECT_EQ(r->text({"GET", "svc-jobs_total"}), "4");
    EXPECT_EQ(r->text({"GET", "svc-job_seconds:sum"}), "0.5");
    EXPECT_EQ(r->hash("http_requests_total"), (field_map{{get_200, "1000"}}));
    const auto meta = r->hash("svc-metricsd:meta");
    EXPECT_EQ(meta.size(), 3u);
    EXPECT_EQ(meta.count("http_requests_total"), 1u) << "meta fields are family names, unprefixed";
    const auto keys = r->keys();
    const std::vector<std::string> data_keys = {"http_requests_total",   "svc-http_requests_total",
                                                "svc-job_seconds:count", "svc-job_seconds:sum",
                                                "svc-jobs_total",        "svc-metricsd:meta"};
    std::vector<std::string> flushseq, rest;
    for (const auto& k : keys)
        (k.rfind("svc-metricsd:flushseq:", 0) == 0 ? flushseq : rest).push_back(k);
    EXPECT_EQ(rest, data_keys);
    EXPECT_EQ(flushseq.size(), 1u);
    EXPECT_EQ(db0->keys(), std::vector<std::string>{}) << "nothing outside db 3";

    const samples expected = {{"http_requests_total{method=\"GET\",code=\"200\"}", 13},
                              {"jobs_total", 4},
                              {"job_seconds_sum", 0.5},
                              {"job_seconds_count", 1}};
    expect_samples(scrape_until(d, expected), expected);
    EXPECT_EQ(d.stop(), 0);
}

// Redis is down when the daemon starts: it still comes up and accepts ops, but is unready and
// refuses /metrics until Redis appears; then everything held in memory is flushed, exactly.
TEST_F(redis_backend, redis_down_at_start_then_everything_is_flushed) {
    constexpr long incs = 3000;
    auto& redis = start_redis({.start = false});
    daemon_process d(dir_, redis_flags(redis.url()));
    EXPECT_EQ(status_of(d, "/healthz"), 200);
    EXPECT_EQ(status_of(d, "/readyz"), 503);
    EXPECT_EQ(status_of(d, "/metrics"), 503);

    metricsd::client c(options_for(d));
    c.counter("early_total", "Sent before Redis was up.", {"step"}).labels("one").inc(7);
    ASSERT_TRUE(c.flush()) << "the daemon acknowledges ops while Redis is down";
    ASSERT_EQ(run_workers({&d}, 2, incs), "");
    EXPECT_EQ(status_of(d, "/metrics"), 503) << "never partial totals";

    redis.start();
    EXPECT_TRUE(eventually([&] { return status_of(d, "/readyz") == 200; }));
    auto r = redis.connect();
    EXPECT_EQ(await_hash(*r, "work_total", worker_sets(2, incs)), worker_sets(2, incs));
    EXPECT_EQ(await_hash(*r, "early_total", {{field("step", "one"), "7"}}),
              (field_map{{field("step", "one"), "7"}}));
    for (const auto& [key, value] : worker_strings(2, incs))
        EXPECT_EQ(await_get(*r, key, value), value) << key;
    auto expected = worker_samples(2, incs);
    expected.emplace_back("early_total{step=\"one\"}", 7);
    expect_samples(scrape_until(d, expected), expected);
    EXPECT_EQ(d.stop(), 0);
}

// A worker that stays connected across a daemon restart: the stopping daemon takes its live
// gauge share back out of Redis, and the worker's client sends it again to the next daemon, so
// the gauge counts the worker once (not twice) and drops to 0 when it dies.
TEST_F(redis_backend, live_gauge_counts_a_held_worker_once_across_a_daemon_restart) {
    auto& redis = start_redis();
    const auto flags = redis_flags(redis.url());
    auto first = std::make_unique<daemon_process>(dir_, flags, "same"); // same socket path
    const auto worker = start_worker(*first, 600, true);
    worker->wait_for_log("holding");
    auto r = redis.connect();
    const field_map held{{"busy_workers {}", "1"}};
    EXPECT_EQ(await_live(*r, held), held);
    EXPECT_EQ(first->stop(), 0);
    EXPECT_EQ(live_values(*r), field_map{}) << "the worker's share left with its daemon";
    std::ofstream(dir_.file("same-first.log")) << first->process().log();
    first.reset();

    daemon_process second(dir_, flags, "same");
    // The worker's client reconnects (backoff up to 2 s) and sends its gauge value again.
    EXPECT_EQ(await_live(*r, held), held);
    expect_samples(scrape_until(second, {{"busy_workers", 1}}),
                   {{"busy_workers", 1}, {"work_total{set=\"a\"}", 200}});
    worker->signal(SIGKILL);
    worker->wait();
    const field_map none{{"busy_workers {}", "0"}};
    EXPECT_EQ(await_live(*r, none), none);
    EXPECT_EQ(second.stop(), 0);
}

// A daemon killed with SIGKILL cannot take its live* gauge shares out of Redis: its live key's
// lease does. Another daemon counts the dead one's workers only until the lease runs out, and
// the dead daemon's successor, whose workers reconnect, counts them once, not twice.
TEST_F(redis_backend, a_killed_daemons_live_gauges_leave_with_its_lease) {
    auto& redis = start_redis();
    const auto flags = redis_flags(redis.url(), {"--redis-live-lease-ms", "1500"});
    daemon_process other(dir_, flags, "other");
    metricsd::client mine(options_for(other));
    mine.gauge("busy_workers", "Workers running.").inc(1); // livesum: one worker here
    ASSERT_TRUE(mine.flush());

    auto victim = std::make_unique<daemon_process>(dir_, flags, "victim");
    const auto worker = start_worker(*victim, 600, true);
    worker->wait_for_log("holding");
    expect_samples(scrape_until(other, {{"busy_workers", 2}}), {{"busy_workers", 2}});

    victim->process().signal(SIGKILL);
    victim->process().wait();
    victim.reset();
    // The lease (1.5 s) runs out: only the live daemon's worker is left.
    expect_samples(scrape_until(other, {{"busy_workers", 1}}), {{"busy_workers", 1}});

    // A new daemon on the dead one's socket: the held worker reconnects and counts once.
    daemon_process successor(dir_, flags, "victim");
    expect_samples(scrape_until(other, {{"busy_workers", 2}}), {{"busy_workers", 2}});
    // The dead daemon's id leaves the daemons set once a scrape saw its key gone.
    auto r = redis.connect();
    EXPECT_TRUE(eventually([&] {
        return r->integer({"SCARD", "metricsd:daemons"}) == 2;
    })) << r->integer({"SCARD", "metricsd:daemons"})
        << " daemons, live keys " << r->keys("metricsd:live:*").size();
    worker->signal(SIGKILL);
    worker->wait();
    expect_samples(scrape_until(other, {{"busy_workers", 1}}), {{"busy_workers", 1}});
    EXPECT_EQ(successor.stop(), 0);
    EXPECT_EQ(other.stop(), 0);
}

// Scrapes while flushes are in flight see one consistent state: a counter never goes back and
// never shows more than was sent (an in-flight flush counted both from Redis and from the
// pending deltas would), and a histogram's cells always agree with each other.
TEST_F(redis_backend, scrapes_during_flushes_are_consistent) {
    auto& redis = start_redis();
    daemon_process d(dir_, redis_flags(redis.url()));
    ASSERT_TRUE(eventually([&] { return status_of(d, "/readyz") == 200; }));
    std::atomic<long> sent{0};
    std::atomic<bool> flushed{false};
    std::jthread pacer([&](std::stop_token stop) {
        metricsd::client c(options_for(d));
        const auto ticks = c.counter("ticks_total", "Paced increments.").labels();
        const auto sizes = c.histogram("tick_size", "Observes 1 per tick.", {},
                                       std::vector<std::string>{"0.5", "1"})
                               .labels();
        while (!stop.stop_requested()) {
            sent += 50; // before the ops go out: a scrape can never see more than `sent`
            for (int i = 0; i < 50; ++i) {
                ticks.inc();
                sizes.observe(1);
            }
            std::this_thread::sleep_for(1ms);
        }
        flushed = c.flush(10s) && c.dropped_ops() == 0;
    });

    int scrapes = 0, seen = 0;
    double last = 0;
    std::string problems;
    const auto until = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < until && problems.size() < 2000) {
        const auto body = d.scrape();
        const auto bound = static_cast<double>(sent.load());
        ++scrapes;
        const auto v = parse_samples(body);
        // A series shows once it has data in Redis or pending; until then it reads as 0.
        const auto value = [&](const std::string& series) {
            const auto it = v.find(series);
            return it == v.end() ? 0.0 : it->second;
        };
        seen += v.contains("ticks_total");
        const double ticks = value("ticks_total"), count = value("tick_size_count");
        if (ticks < last || ticks > bound)
            problems += "ticks_total " + std::to_string(ticks) + " after " + std::to_string(last) +
                        ", sent " + std::to_string(bound) + "\n";
        last = ticks;
        if (value("tick_size_bucket{le=\"+Inf\"}") != count ||
            value("tick_size_bucket{le=\"1.0\"}") != count ||
            value("tick_size_bucket{le=\"0.5\"}") != 0 || value("tick_size_sum") != count)
            problems += "inconsistent histogram:\n" + body.substr(body.find("tick_size"), 400);
    }
    pacer.request_stop();
    pacer.join();
    ASSERT_TRUE(flushed);
    EXPECT_EQ(problems, "");
    EXPECT_GT(seen, 10) << scrapes << " scrapes";
    const auto total = static_cast<double>(sent.load());
    expect_samples(scrape_until(d, {{"ticks_total", total}}),
                   {{"ticks_total", total}, {"tick_size_count", total}});
    EXPECT_EQ(d.stop(), 0);
}

// More changed series than one MULTI/EXEC takes (20000): several flushes in a row, and every
// series lands exactly once.
TEST_F(redis_backend, many_series_take_several_flushes_and_all_land) {
    constexpr int families = 3;
    constexpr int per_family = 9000; // under max_series_per_family; 27000 in all
    auto& redis = start_redis();
    daemon_process d(dir_, redis_flags(redis.url()));
    metricsd::client c(options_for(d));
    std::vector<field_map> expected(families);
    for (int f = 0; f < families; ++f) {
        const auto family = c.counter("bulk" + std::to_string(f) + "_total", "Bulk.", {"n"});
        for (int i = 0; i < per_family; ++i) {
            family.labels(std::to_string(i)).inc(i % 7 + 1);
            expected[f][field("n", std::to_string(i))] = std::to_string(i % 7 + 1);
        }
    }
    ASSERT_TRUE(c.flush(30s));
    EXPECT_EQ(c.rejected(), 0u) << c.last_error();

    auto r = redis.connect();
    for (int f = 0; f < families; ++f) {
        const auto key = "bulk" + std::to_string(f) + "_total";
        EXPECT_EQ(await_hash(*r, key, expected[f]), expected[f]) << key;
    }
    const auto v = parse_samples(d.scrape());
    int wrong = 0;
    for (int f = 0; f < families; ++f)
        for (int i = 0; i < per_family; ++i) {
            const auto series =
                "bulk" + std::to_string(f) + "_total{n=\"" + std::to_string(i) + "\"}";
            const auto it = v.find(series);
            wrong += it == v.end() || it->second != i % 7 + 1;
        }
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(d.stop(), 0);
}

/// Milliseconds since midnight of the timestamp that starts the first log line holding `needle`
/// (the daemon logs "2026-12-05T19:10:34.130 info ..."); -1 when there is no such line.
long log_time_ms(const std::string& log, const std::string& needle) {
    const auto at = log.find(needle);
    if (at == std::string::npos)
        return -1;
    const auto line = log.rfind('\n', at) == std::string::npos ? 0 : log.rfind('\n', at) + 1;
    int h = 0, m = 0, s = 0, ms = 0;
    if (std::sscanf(log.c_str() + line, "%*4d-%*2d-%*2dT%2d:%2d:%2d.%3d", &h, &m, &s, &ms) != 4)
        return -1;
    return ((h * 60L + m) * 60L + s) * 1000L + ms;
}

// Redis gone for good: SIGTERM still ends the daemon within its shutdown timeout, without a
// crash (what it held is lost, and it cannot be otherwise). How long the daemon waited is read
// from its own log timestamps (SIGTERM received -> deadline passed), not from the test's clock:
// on a loaded machine the process's exit (and, under ASan, the leak check) can take seconds
// that say nothing about the shutdown timeout. Without the deadline it would never exit.
TEST_F(redis_backend, stops_within_the_shutdown_timeout_when_redis_is_gone) {
    auto& redis = start_redis({.start = false});
    const auto config = dir_.file("metricsd.json");
    std::ofstream(config) << R"({"shutdown_timeout_s": 1})";
    daemon_process d(dir_, redis_flags(redis.url(), {"--config", config}));
    metricsd::client c(options_for(d));
    c.counter("lost_total", "Never reaches Redis.").inc();
    ASSERT_TRUE(c.flush());

    d.process().signal(SIGTERM);
    const int rc = d.process().wait(30s);
    EXPECT_GE(rc, 0) << "still running 30 s after SIGTERM";
    EXPECT_LT(rc, 128) << "killed by signal " << rc - 128;
    const std::string log = d.process().log();
    const long received = log_time_ms(log, "received SIGTERM; draining");
    const long gave_up = log_time_ms(log, "redis: shutdown deadline passed before Redis took "
                                          "the last flush; the changes of 1 series are not in "
                                          "Redis");
    ASSERT_GE(received, 0) << log;
    ASSERT_GE(gave_up, 0) << log;
    const long waited = (gave_up - received + 86'400'000L) % 86'400'000L; // across midnight
    EXPECT_GE(waited, 1000) << log;
    EXPECT_LT(waited, 3000) << log;
    EXPECT_NE(log.find("metricsd stopped"), std::string::npos) << log;
}

// Metadata lives as long as the data it describes: refreshed while a daemon keeps writing for
// longer than expire_key_time, gone together with the data once no daemon is left.
TEST_F(redis_backend, metadata_expires_with_the_data) {
    auto& redis = start_redis();
    daemon_process d(dir_, redis_flags(redis.url(), {"--redis-expire-key-time", "3"}));
    metricsd::client c(options_for(d));
    const auto beats = c.counter("beats_total", "Beats.").labels();
    auto r = redis.connect();
    int beat = 0, missing = 0;
    for (const auto until = std::chrono::steady_clock::now() + 4s;
         std::chrono::steady_clock::now() < until; ++beat) {
        beats.inc();
        ASSERT_TRUE(c.flush());
        if (beat > 5 && r->hash("metricsd:meta").count("beats_total") == 0)
            ++missing;
        std::this_thread::sleep_for(50ms); // pacing, not waiting for an outcome
    }
    EXPECT_EQ(missing, 0) << "of " << beat << " beats the metadata was missing";
    EXPECT_EQ(await_get(*r, "beats_total", std::to_string(beat)), std::to_string(beat));
    daemon_process other(dir_, redis_flags(redis.url()), "other");
    EXPECT_TRUE(eventually([&] { return status_of(other, "/readyz") == 200; }));
    expect_samples(other.scrape(), {{"beats_total", beat}}); // exported from the metadata
    EXPECT_EQ(other.stop(), 0);

    EXPECT_EQ(d.stop(), 0);
    const auto only_flushseq = [&] {
        const auto keys = r->keys();
        return std::all_of(keys.begin(), keys.end(), [](const std::string& k) {
            return k.rfind("metricsd:flushseq:", 0) == 0;
        });
    };
    EXPECT_TRUE(eventually(only_flushseq, 6s)) << ::testing::PrintToString(r->keys());
}

// expire_key_time may be as short as 1 s: SIGTERM with Redis healthy and nothing pending must
// still end the daemon at once (the metadata refresh period is a third of it).
TEST_F(redis_backend, stops_promptly_with_a_short_expire_key_time) {
    auto& redis = start_redis();
    const auto config = dir_.file("metricsd.json");
    std::ofstream(config) << R"({"shutdown_timeout_s": 3})";
    daemon_process d(
        dir_, redis_flags(redis.url(), {"--redis-expire-key-time", "2", "--config", config}));
    metricsd::client c(options_for(d));
    c.counter("short_total", "Short-lived keys.").inc();
    ASSERT_TRUE(c.flush());
    auto r = redis.connect();
    EXPECT_EQ(await_get(*r, "short_total", "1"), "1");

    const auto began = std::chrono::steady_clock::now();
    EXPECT_EQ(d.stop(), 0);
    const auto took = std::chrono::steady_clock::now() - began;
    EXPECT_LT(took, 1s) << "SIGTERM took "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms";
    EXPECT_EQ(d.process().log().find("shutdown deadline passed"), std::string::npos)
        << d.process().log();
}

// Two daemons declare one family name differently: the first record stays, each daemon
// exports its own declaration (the other's fields do not fit it and are skipped), and the
// daemon that found the other record counts the conflict.
TEST_F(redis_backend, conflicting_declarations_keep_the_first_record) {
    auto& redis = start_redis();
    daemon_process a(dir_, redis_flags(redis.url()), "a");
    daemon_process b(dir_, redis_flags(redis.url()), "b");
    auto r = redis.connect();
    metricsd::client ca(options_for(a));
    ca.counter("conf_total", "Declared by A.", {"a"}).labels("1").inc();
    ASSERT_TRUE(ca.flush());
    const std::string record_a =
        R"({"type": "counter", "mode": "livesum", "help": "Declared by A.", "labels": ["a"], )"
        R"("buckets": []})";
    EXPECT_TRUE(eventually([&] { return r->hash("metricsd:meta")["conf_total"] == record_a; }));
    metricsd::client cb(options_for(b));
    cb.counter("conf_total", "Declared by B.", {"b"}).labels("2").inc(2);
    ASSERT_TRUE(cb.flush());

    const field_map both = {{field("a", "1"), "1"}, {field("b", "2"), "2"}};
    EXPECT_EQ(await_hash(*r, "conf_total", both), both);
    EXPECT_EQ(r->hash("metricsd:meta").at("conf_total"), record_a);
    const auto body_a = scrape_until(a, {{"conf_total{a=\"1\"}", 1}});
    const auto body_b = scrape_until(b, {{"conf_total{b=\"2\"}", 2}});
    EXPECT_EQ(sample_value(body_a, "conf_total{a=\"1\"}"), 1) << body_a;
    EXPECT_FALSE(has_sample(body_a, "conf_total{b=")) << body_a;
    EXPECT_EQ(sample_value(body_b, "conf_total{b=\"2\"}"), 2) << body_b;
    EXPECT_FALSE(has_sample(body_b, "conf_total{a=")) << body_b;
    EXPECT_EQ(sample_value(body_a, "metricsd_redis_meta_conflicts_total"), 0) << body_a;
    EXPECT_GT(sample_value(body_b, "metricsd_redis_meta_conflicts_total"), 0) << body_b;
    EXPECT_EQ(a.stop(), 0);
    EXPECT_EQ(b.stop(), 0);
}

// Redis restarts without persistence and forgets everything: the daemon writes its metadata
// again on reconnect, so its families stay exported with what is flushed from then on.
TEST_F(redis_backend, metadata_is_written_again_after_redis_lost_its_data) {
    auto& redis = start_redis(); // no AOF: a restart starts empty
    daemon_process d(dir_, redis_flags(redis.url()));
    metricsd::client c(options_for(d));
    const auto total = c.counter("kept_total", "Kept.", {"k"}).labels("v");
    total.inc(5);
    ASSERT_TRUE(c.flush());
    {
        auto r = redis.connect();
        EXPECT_EQ(await_hash(*r, "kept_total", {{field("k", "v"), "5"}}),
                  (field_map{{field("k", "v"), "5"}}));
    }
    redis.restart();
    EXPECT_TRUE(eventually([&] { return status_of(d, "/readyz") == 200; }));
    total.inc(2);
    ASSERT_TRUE(c.flush());
    auto r = redis.connect();
    EXPECT_EQ(await_hash(*r, "kept_total", {{field("k", "v"), "2"}}),
              (field_map{{field("k", "v"), "2"}}));
    EXPECT_EQ(
        await_value([&] { return r->hash("metricsd:meta").count("kept_total"); }, std::size_t{1}),
        1u);
    expect_samples(scrape_until(d, {{"kept_total{k=\"v\"}", 2}}), {{"kept_total{k=\"v\"}", 2}});
    EXPECT_EQ(d.stop(), 0);
}

// Credentials from the URL: an ACL user with its password (AUTH user pass), a wrong password
// (the daemon stays up, unready, and says why), and the classic requirepass (AUTH pass). The
// scrape of every family type on this backend also passes promtool.
TEST_F(redis_backend, credentials_in_the_url_authenticate_and_a_wrong_password_is_reported) {
    auto& redis = start_redis();
    auto admin = redis.connect();
    admin->command({"ACL", "SETUSER", "app", "on", ">s3cret", "~*", "+@all"});
    const std::string host = "127.0.0.1:" + std::to_string(redis.port());

    daemon_process wrong(dir_, redis_flags("redis://app:nope@" + host + "/0"), "wrong");
    daemon_process user(dir_, redis_flags("redis://app:s3cret@" + host + "/0"), "user");
    metricsd::client c(options_for(user));
    c.counter("auth_total", "Sent through an ACL user.", {}).inc(3);
    c.histogram("auth_seconds", "Latency.", {"route"}, std::vector<std::string>{"0.1", "1.0"})
        .labels("/a")
        .observe(0.5);
    c.summary("auth_bytes", "Sizes.").observe(512);
    c.gauge("auth_rss", "Per process.", {}, gauge_mode::liveall).set(7);
    ASSERT_TRUE(c.flush());
    EXPECT_EQ(await_get(*admin, "auth_total", "3"), "3");
    const std::string body = scrape_until(user, {{"auth_total", 3}});
    const auto file = dir_.file("redis_scrape.prom");
    std::ofstream(file) << body;
    std::string out;
    EXPECT_EQ(run_command("promtool check metrics < " + file, out), 0) << out << body;

    EXPECT_EQ(status_of(wrong, "/readyz"), 503);
    EXPECT_EQ(status_of(wrong, "/metrics"), 503);
    EXPECT_TRUE(eventually([&] {
        return wrong.process().log().find("refused the handshake") != std::string::npos;
    })) << wrong.process().log();
    EXPECT_EQ(wrong.process().log().find("nope"), std::string::npos) << "passwords stay secret";

    admin->command({"CONFIG", "SET", "requirepass", "pw"});
    daemon_process classic(dir_, redis_flags("redis://:pw@" + host + "/0"), "classic");
    EXPECT_TRUE(eventually([&] { return status_of(classic, "/readyz") == 200; }));
    EXPECT_EQ(sample_value(classic.scrape(), "auth_total"), 3);
    EXPECT_EQ(classic.stop(), 0);
    EXPECT_EQ(user.stop(), 0);
    EXPECT_EQ(wrong.stop(), 0);
}

// Issue 11: a wrong-typed metadata hash (someone SET it: every flush's HSETNX then fails with
// WRONGTYPE) made every scrape 503 while /readyz said 200. A write error must not take reads
// down: the scrape exports this daemon's own declarations and counts the wrong-typed key;
// readiness agrees with the scrape. When reads do fail while Redis stays connected (here an
// ACL that denies HGETALL), /readyz says 503 as the scrape does, and 200 again once reads work.
// A family's metadata is written by the first flush after its declaration and then only every
// expire_key_time / 3 (20 min here), so the write error is caused on purpose: jobs_total's record
// is in Redis before the hash is overwritten, and a family declared afterwards (retries_total)
// makes exactly one HSETNX fail. (Waiting for jobs_total's own record to fail raced with the
// first flush: it failed only if that flush came after the SET.)
TEST_F(redis_backend, readiness_agrees_with_scrapes_and_write_errors_keep_reads_up) {
    auto& redis = start_redis();
    auto admin = redis.connect();
    admin->command({"ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all"});
    const std::string url = "redis://app:pw@127.0.0.1:" + std::to_string(redis.port()) + "/0";
    daemon_process d(dir_, redis_flags(url));
    metricsd::client c(options_for(d));
    c.counter("jobs_total", "Jobs.").inc(3);
    ASSERT_TRUE(c.flush());
    expect_samples(scrape_until(d, {{"jobs_total", 3}}), {{"jobs_total", 3}});
    EXPECT_EQ(status_of(d, "/readyz"), 200);
    ASSERT_TRUE(eventually([&] {
        return admin->integer({"HEXISTS", "metricsd:meta", "jobs_total"}) == 1;
    })) << "the first flush writes jobs_total's metadata";

    admin->command({"DEL", "metricsd:meta"});
    admin->command({"SET", "metricsd:meta", "not a hash"});
    c.counter("jobs_total", "Jobs.").inc(2);
    c.counter("retries_total", "Retries.").inc(1);
    ASSERT_TRUE(c.flush());
    const std::string body = scrape_until(d, {{"jobs_total", 5}, {"retries_total", 1}});
    EXPECT_EQ(sample_value(body, "jobs_total"), 5) << body;
    EXPECT_EQ(sample_value(body, "retries_total"), 1) << body;
    EXPECT_GE(sample_value(body, "metricsd_redis_skipped_total{what=\"wrong_type_key\"}"), 1);
    EXPECT_EQ(status_of(d, "/readyz"), 200);
    EXPECT_EQ(await_get(*admin, "retries_total", "1"), "1");
    EXPECT_EQ(await_get(*admin, "jobs_total", "5"), "5");
    EXPECT_TRUE(eventually([&] {
        return sample_value(d.scrape(), "metricsd_redis_write_errors_total") >= 1;
    })) << "the failed HSETNX is counted";
    EXPECT_EQ(sample_value(d.scrape(), "metricsd_redis_write_errors_total"), 1);
    EXPECT_EQ(admin->text({"GET", "metricsd:meta"}), "not a hash");

    // Reads fail, the connection stays: both say 503, then both 200 again.
    admin->command({"ACL", "SETUSER", "app", "-hgetall"});
    EXPECT_EQ(status_of(d, "/metrics"), 503);
    EXPECT_TRUE(eventually([&] { return status_of(d, "/readyz") == 503; }));
    EXPECT_EQ(status_of(d, "/metrics"), 503);
    admin->command({"ACL", "SETUSER", "app", "+hgetall"});
    EXPECT_TRUE(eventually([&] { return status_of(d, "/readyz") == 200; }));
    EXPECT_EQ(status_of(d, "/metrics"), 200);
    EXPECT_EQ(d.stop(), 0);
}

// An idle daemon sleeps between its periodic writes (key refreshes every expire_key_time / 3,
// lease renewals every live_lease / 3): it neither spins nor stops renewing.
TEST_F(redis_backend, an_idle_daemon_sleeps_and_keeps_its_keys_alive) {
    auto& redis = start_redis();
    daemon_process d(dir_, redis_flags(redis.url(), {"--redis-expire-key-time", "1",
                                                     "--redis-live-lease-ms", "600"}));
    metricsd::client c(options_for(d));
    c.counter("idle_total", "Counted once.").inc(1);
    c.gauge("idle_busy", "Held while the client is connected.").inc(1);
    ASSERT_TRUE(c.flush());
    auto r = redis.connect();
    EXPECT_EQ(await_get(*r, "idle_total", "1"), "1");
    const double before = cpu_seconds(d.process().pid());
    std::this_thread::sleep_for(3s); // three key lifetimes, five leases
    const double used = cpu_seconds(d.process().pid()) - before;
    EXPECT_LT(used, 0.5) << "an idle daemon must not spin";
    EXPECT_EQ(r->text({"GET", "idle_total"}), "1") << "the key was refreshed, not expired";
    EXPECT_EQ(live_values(*r), (field_map{{"idle_busy {}", "1"}})) << "the lease was renewed";
    EXPECT_EQ(d.stop(), 0);
}

} // namespace
} // namespace metricsd::test

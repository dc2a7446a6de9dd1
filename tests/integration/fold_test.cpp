// Issue 12 item 1: no client drops an op while its series fit in memory. The real daemon is
// stopped (SIGSTOP: its socket is not read) while a client sends 6 million ops over six series
// of every type; the client folds what its buffer cannot hold, its memory stays bounded, and
// after SIGCONT the scrape shows exactly what was sent. The C++ client and the C ABI; the
// Python client has the same test in client/python/tests/test_client.py. Also: the FOLD frame
// from a raw client, and an old (pre-FOLD) client's byte stream, against the real daemon.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"
#include "redis_server.hpp"

#include <metricsd/client.hpp>
#include <metricsd/protocol/encoder.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <fstream>
#include <functional>
#include <metricsd.h>
#include <string>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

namespace metricsd::test {
namespace {

constexpr int rounds = 1'000'000; // six ops each
constexpr std::size_t buffer_bytes = 64 * 1024;

/// Resident bytes of this process, from /proc/self/statm (pages).
long resident_bytes() {
    std::ifstream in("/proc/self/statm");
    long size = 0, resident = 0;
    in >> size >> resident;
    return resident * ::sysconf(_SC_PAGESIZE);
}

/// The ops of one round; each client binds them to its own series.
struct scenario {
    std::function<void(double)> inc_a, inc_b, level_inc, level_set, observe_seconds, observe_bytes;

    void run() const {
        for (int i = 0; i < rounds; ++i) {
            inc_a(1);
            inc_b(0.25);
            level_inc(2);
            if (i == rounds / 2)
                level_set(-5); // the incs before it are overwritten, those after it count
            observe_seconds((i % 4) * 0.75); // 0, 0.75, 1.5, 2.25: one per bucket
            observe_bytes(i % 3);
        }
    }
};

/// What the scrape must show after the scenario (and nothing dropped, nothing rejected).
void expect_exact(const std::string& text) {
    constexpr double n = rounds;
    EXPECT_EQ(sample_value(text, "fold_requests_total{k=\"a\"}"), n) << text;
    EXPECT_EQ(sample_value(text, "fold_requests_total{k=\"b\"}"), n / 4) << text;
    EXPECT_EQ(sample_value(text, "fold_level"), -5 + 2 * (n - n / 2 - 1)) << text;
    EXPECT_EQ(sample_value(text, "fold_seconds_bucket{le=\"0.5\"}"), n / 4) << text;
    EXPECT_EQ(sample_value(text, "fold_seconds_bucket{le=\"1.0\"}"), n / 2) << text;
    EXPECT_EQ(sample_value(text, "fold_seconds_bucket{le=\"2.0\"}"), 3 * n / 4) << text;
    EXPECT_EQ(sample_value(text, "fold_seconds_bucket{le=\"+Inf\"}"), n) << text;
    EXPECT_EQ(sample_value(text, "fold_seconds_count"), n) << text;
    EXPECT_EQ(sample_value(text, "fold_seconds_sum"), 4.5 * n / 4) << text;
    EXPECT_EQ(sample_value(text, "fold_bytes_count"), n) << text;
    EXPECT_EQ(sample_value(text, "fold_bytes_sum"), 999'999.0) << text; // 333 333 x (1 + 2)
}

/// Stops the daemon for the lifetime of this object; SIGCONT even when an assertion fails.
class stopped {
public:
    explicit stopped(pid_t pid) : pid_(pid) { ::kill(pid_, SIGSTOP); }
    ~stopped() { resume(); }
    void resume() {
        if (pid_ > 0)
            ::kill(pid_, SIGCONT);
        pid_ = 0;
    }

private:
    pid_t pid_;
};

/// The C++ client's half of the scenario against `d`: everything up to the final flush.
void run_cpp_client_with_daemon_stopped(daemon_process& d) {
    client_options o;
    o.socket_path = d.socket_path();
    o.max_buffer_bytes = buffer_bytes;
    client c(o);
    auto requests = c.counter("fold_requests_total", "", {"k"});
    auto a = requests.labels("a");
    auto b = requests.labels("b");
    auto level = c.gauge("fold_level", "", {}, gauge_mode::sum).labels();
    auto seconds = c.histogram("fold_seconds", "", {}, {"0.5", "1", "2"}).labels();
    auto bytes = c.summary("fold_bytes", "").labels();
    ASSERT_TRUE(c.flush(std::chrono::seconds(10))); // connected, everything declared

    stopped pause(d.process().pid());
    const long before = resident_bytes();
    scenario{[&](double v) { a.inc(v); },           [&](double v) { b.inc(v); },
             [&](double v) { level.inc(v); },       [&](double v) { level.set(v); },
             [&](double v) { seconds.observe(v); }, [&](double v) { bytes.observe(v); }}
        .run();
    const long grown = resident_bytes() - before;
    // 6 M ops are 96 MB of records; folded, the client holds its 64 KiB buffer, a batch in
    // flight and six accumulators.
    EXPECT_LT(grown, 8L << 20) << "resident memory grew by " << grown << " bytes";
    EXPECT_EQ(c.dropped_ops(), 0u);
    pause.resume();

    ASSERT_TRUE(c.flush(std::chrono::seconds(20)));
    EXPECT_EQ(c.rejected(), 0u) << c.last_error();
    EXPECT_EQ(c.dropped_ops(), 0u);
}

TEST(fold, cpp_client_keeps_every_op_while_the_daemon_is_stopped) {
    temp_dir dir;
    daemon_process d(dir);
    run_cpp_client_with_daemon_stopped(d);
    expect_exact(d.scrape());
}

// The Redis backend flushes cells from the store, so folded observations reach Redis like
// observed ones; its scrape reads them back from Redis.
TEST(fold, redis_backend_holds_exactly_what_was_folded) {
    temp_dir dir;
    redis_server redis;
    daemon_process d(
        dir, {"--backend", "redis", "--redis-url", redis.url(), "--redis-flush-interval-ms", "20"});
    run_cpp_client_with_daemon_stopped(d);
    std::string text;
    EXPECT_TRUE(eventually([&] {
        text = d.scrape();
        return sample_value(text, "fold_seconds_count") == rounds &&
               sample_value(text, "fold_bytes_count") == rounds &&
               sample_value(text, "fold_requests_total{k=\"a\"}") == rounds;
    })) << text;
    expect_exact(text);
}

TEST(fold, c_client_keeps_every_op_while_the_daemon_is_stopped) {
    temp_dir dir;
    daemon_process d(dir);
    metricsd_options o;
    metricsd_options_init(&o);
    o.socket_path = d.socket_path().c_str();
    o.max_buffer_bytes = buffer_bytes;
    metricsd_client* c = nullptr;
    ASSERT_EQ(metricsd_client_new(&o, &c), METRICSD_OK) << metricsd_error_detail();
    const char* k[] = {"k"};
    const char* va[] = {"a"};
    const char* vb[] = {"b"};
    const char* bounds[] = {"0.5", "1", "2"};
    metricsd_family *requests, *level_f, *seconds_f, *bytes_f;
    metricsd_series *a, *b, *level, *seconds, *bytes;
    ASSERT_EQ(metricsd_counter(c, "fold_requests_total", "", k, 1, &requests), METRICSD_OK);
    ASSERT_EQ(metricsd_gauge(c, "fold_level", "", nullptr, 0, METRICSD_GAUGE_SUM, &level_f),
              METRICSD_OK);
    ASSERT_EQ(metricsd_histogram(c, "fold_seconds", "", nullptr, 0, bounds, 3, &seconds_f),
              METRICSD_OK);
    ASSERT_EQ(metricsd_summary(c, "fold_bytes", "", nullptr, 0, &bytes_f), METRICSD_OK);
    ASSERT_EQ(metricsd_labels(requests, va, 1, &a), METRICSD_OK);
    ASSERT_EQ(metricsd_labels(requests, vb, 1, &b), METRICSD_OK);
    ASSERT_EQ(metricsd_labels(level_f, nullptr, 0, &level), METRICSD_OK);
    ASSERT_EQ(metricsd_labels(seconds_f, nullptr, 0, &seconds), METRICSD_OK);
    ASSERT_EQ(metricsd_labels(bytes_f, nullptr, 0, &bytes), METRICSD_OK);
    ASSERT_EQ(metricsd_flush(c, 10'000), METRICSD_OK);

    {
        stopped pause(d.process().pid());
        const long before = resident_bytes();
        scenario{[&](double v) { metricsd_inc(a, v); },
                 [&](double v) { metricsd_inc(b, v); },
                 [&](double v) { metricsd_inc(level, v); },
                 [&](double v) { metricsd_set(level, v); },
                 [&](double v) { metricsd_observe(seconds, v); },
                 [&](double v) { metricsd_observe(bytes, v); }}
            .run();
        const long grown = resident_bytes() - before;
        EXPECT_LT(grown, 8L << 20) << "resident memory grew by " << grown << " bytes";
        EXPECT_EQ(metricsd_dropped_ops(c), 0u);
    }
    EXPECT_EQ(metricsd_flush(c, 20'000), METRICSD_OK);
    EXPECT_EQ(metricsd_rejected(c), 0u);
    EXPECT_EQ(metricsd_dropped_ops(c), 0u);
    metricsd_client_free(c);
    expect_exact(d.scrape());
}

// A FOLD frame from a client that speaks the wire protocol by hand, beside observe ops on the
// same series; and a frame the daemon must refuse (bucket count not the family's).
TEST(fold, fold_frames_add_to_observed_series_and_bad_ones_are_refused) {
    temp_dir dir;
    daemon_process d(dir);
    raw_client r(d.socket_path());
    using protocol::metric_type;
    using protocol::op_code;
    std::string bytes = hello() + family(0, "raw_seconds", metric_type::histogram, {}, {}, {"1"}) +
                        series(0, 0) + family(1, "raw_bytes", metric_type::summary) + series(1, 1) +
                        ops({{op_code::observe, 0, 0.5}});
    const std::uint64_t counts[] = {2, 1};
    protocol::encode_fold(bytes, 0, 3, 4.5, counts);      // 2 x <= 1, 1 x +Inf
    protocol::encode_fold(bytes, 1, 1'000'000, 12.5, {}); // a summary: no buckets
    // Refused: one bucket count where the family has two (bound 1 and +Inf).
    protocol::encode_fold(bytes, 0, 2, 1.0, std::span<const std::uint64_t>(counts, 1));
    r.send(bytes);
    const auto replies = r.sync(1);
    const std::string text = d.scrape();
    EXPECT_EQ(sample_value(text, "raw_seconds_bucket{le=\"1.0\"}"), 3) << text;
    EXPECT_EQ(sample_value(text, "raw_seconds_bucket{le=\"+Inf\"}"), 4) << text;
    EXPECT_EQ(sample_value(text, "raw_seconds_count"), 4) << text;
    EXPECT_EQ(sample_value(text, "raw_seconds_sum"), 5) << text;
    EXPECT_EQ(sample_value(text, "raw_bytes_count"), 1'000'000) << text;
    EXPECT_EQ(sample_value(text, "raw_bytes_sum"), 12.5) << text;
    std::vector<reply> errors;
    for (const auto& rep : replies)
        if (rep.type == protocol::frame_type::error)
            errors.push_back(rep);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].code, protocol::error_code::invalid_value);
    EXPECT_EQ(errors[0].handle, 0u);
    EXPECT_EQ(errors[0].message, "FOLD rejected: 1 bucket count(s) and sum 1.000000 of 2 "
                                 "observation(s) do not fit series handle 0");
}

} // namespace
} // namespace metricsd::test

// The C++ client against a real peer: the daemon's store and ingest handler behind a real Unix
// socket. Every assertion is on values the store ended up with.
#include "client_test_util.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/client.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace metricsd::test {
namespace {

class client_delivery : public ::testing::Test {
protected:
    std::string path() const { return dir_.path() + "/ingest.sock"; }
    temp_dir dir_;
};

TEST_F(client_delivery, exact_totals_from_many_threads) {
    test_peer peer(path());
    auto o = options_for(path());
    o.max_buffer_bytes = 64u << 20; // this test is about exactness, not about the bound
    client c(o);
    auto requests = c.counter("http_requests_total", "Requests.", {"method", "code"});
    auto shared = requests.labels("GET", "200");
    constexpr int threads = 4;
    constexpr int per_thread = 100'000;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            auto own = requests.labels("POST", std::to_string(t));
            for (int i = 0; i < per_thread; ++i) {
                shared.inc();
                own.inc(0.5);
            }
        });
    for (auto& w : workers)
        w.join();
    ASSERT_TRUE(c.flush(std::chrono::seconds(10)));
    EXPECT_EQ(c.dropped_ops(), 0u);
    EXPECT_EQ(c.rejected(), 0u) << c.last_error();
    EXPECT_EQ(peer.value("http_requests_total", {"GET", "200"}), threads * per_thread);
    for (int t = 0; t < threads; ++t)
        EXPECT_EQ(peer.value("http_requests_total", {"POST", std::to_string(t)}), per_thread * 0.5);
}

TEST_F(client_delivery, flush_fails_without_daemon) {
    client c(options_for(path()));
    c.counter("c_total", "").inc();
    EXPECT_FALSE(c.flush(std::chrono::seconds(5)));
    EXPECT_FALSE(c.connected());
}

TEST_F(client_delivery, bounded_buffer_then_late_delivery) {
    auto o = options_for(path());
    o.max_buffer_bytes = 16 * 1024; // about 1000 ops; the rest fold into the series
    client c(o);
    auto s = c.counter("late_total", "").labels();
    constexpr int ops = 5000;
    for (int i = 0; i < ops; ++i)
        s.inc();
    EXPECT_EQ(c.dropped_ops(), 0u);

    test_peer peer(path()); // the daemon comes up later
    ASSERT_TRUE(c.flush(std::chrono::seconds(10)));
    EXPECT_TRUE(c.connected());
    EXPECT_EQ(peer.value("late_total"), static_cast<double>(ops));
    EXPECT_EQ(c.dropped_ops(), 0u);
}

// With the daemon down, a 16 KiB buffer holds 1000 ops; the other 200 k of every type fold
// into per-series accumulators and arrive exactly, in order (a set between incs stays there).
TEST_F(client_delivery, ops_beyond_a_full_buffer_fold_exactly_for_every_type) {
    auto o = options_for(path());
    o.max_buffer_bytes = 16 * 1024;
    client c(o);
    auto counter = c.counter("folded_total", "", {"k"});
    auto a = counter.labels("a");
    auto b = counter.labels("b");
    auto summed = c.gauge("folded_sum", "", {}, gauge_mode::sum).labels();
    auto shared = c.gauge("folded_shared", "", {}, gauge_mode::shared).labels();
    auto live = c.gauge("folded_live", "").labels();
    auto h = c.histogram("folded_seconds", "", {}, {"0.5", "1", "2"}).labels();
    auto m = c.summary("folded_bytes", "").labels();
    constexpr int n = 50'000;
    for (int i = 0; i < n; ++i) {
        a.inc();
        b.inc(0.5);
        summed.inc(2);
        shared.dec();
        live.inc();
        h.observe((i % 4) * 0.75); // 0, 0.75, 1.5, 2.25: one per bucket
        m.observe(i % 3);
        if (i == n / 2) {
            shared.set(1000); // everything before it is overwritten
            summed.set(-5);
        }
    }
    EXPECT_EQ(c.dropped_ops(), 0u);

    test_peer peer(path());
    ASSERT_TRUE(c.flush(std::chrono::seconds(10)));
    EXPECT_EQ(c.rejected(), 0u) << c.last_error();
    EXPECT_EQ(c.dropped_ops(), 0u);
    EXPECT_EQ(peer.value("folded_total", {"a"}), double{n});
    EXPECT_EQ(peer.value("folded_total", {"b"}), n * 0.5);
    const int after = n - n / 2 - 1; // ops after the set at i == n / 2
    EXPECT_EQ(peer.value("folded_sum"), -5.0 + 2.0 * after);
    EXPECT_EQ(peer.value("folded_shared"), 1000.0 - after);
    EXPECT_EQ(peer.value("folded_live"), double{n});
    peer.with_store([](const daemon::store& s) {
        const auto& hist = s.families().at("folded_seconds")->all_series().begin()->second;
        EXPECT_EQ(hist.histogram().counts, (std::vector<double>{n / 4, n / 4, n / 4, n / 4}));
        EXPECT_EQ(hist.histogram().count, double{n});
        EXPECT_EQ(hist.histogram().sum, (0 + 0.75 + 1.5 + 2.25) * (n / 4));
        const auto& sum = s.families().at("folded_bytes")->all_series().begin()->second;
        EXPECT_EQ(sum.summary().count, double{n});
        EXPECT_EQ(sum.summary().sum, double{(0 + 1 + 2) * (n / 3) + 0 + 1}); // n = 3k + 2
    });
}

// An op the daemon would refuse is not folded into the series (it would spoil the total); it
// is counted as dropped since no ERROR will name it.
TEST_F(client_delivery, refused_ops_do_not_spoil_a_fold) {
    auto o = options_for(path());
    o.max_buffer_bytes = 16 * 1024;
    client c(o);
    auto s = c.counter("guarded_total", "").labels();
    for (int i = 0; i < 3000; ++i)
        s.inc();
    s.inc(-1);
    s.inc(std::numeric_limits<double>::quiet_NaN());
    s.inc();
    EXPECT_EQ(c.dropped_ops(), 2u);
    test_peer peer(path());
    ASSERT_TRUE(c.flush(std::chrono::seconds(10)));
    EXPECT_EQ(peer.value("guarded_total"), 3001.0);
}

TEST_F(client_delivery, reconnects_and_declares_again) {
    test_peer peer(path());
    client c(options_for(path()));
    auto requests = c.counter("rq_total", "", {"route"}).labels("/a");
    auto in_flight = c.gauge("in_flight", "", {}, gauge_mode::livesum).labels();
    auto total = c.gauge("bytes_sum", "", {}, gauge_mode::sum).labels();
    requests.inc(5);
    in_flight.inc(3);
    total.inc(10);
    ASSERT_TRUE(c.flush(std::chrono::seconds(5)));

    peer.stop(); // the daemon restarts; its store (memory backend) survives in this test
    ASSERT_TRUE(eventually([&] { return !c.connected(); }));
    EXPECT_EQ(peer.value("in_flight"), 0.0); // livesum forgot the disconnected worker
    peer.start();

    requests.inc(7);
    in_flight.inc();
    total.inc(1);
    ASSERT_TRUE(c.flush(std::chrono::seconds(5)));
    EXPECT_EQ(peer.connections(), 2u);
    EXPECT_EQ(c.rejected(), 0u) << c.last_error();
    EXPECT_EQ(peer.value("rq_total", {"/a"}), 12.0);
    // The client re-sent its livesum value, so the gauge healed; the sum-mode gauge kept the
    // retired connection's value and was not re-sent (that would double it).
    EXPECT_EQ(peer.value("in_flight"), 4.0);
    EXPECT_EQ(peer.value("bytes_sum"), 11.0);
}

TEST_F(client_delivery, gauges_summaries_and_unlabelled_shorthands) {
    test_peer peer(path());
    client c(options_for(path()));
    auto g = c.gauge("temperature", "", {"room"}, gauge_mode::mostrecent);
    g.labels("kitchen").set(21.5);
    g.labels("kitchen").dec(0.5);
    auto q = c.gauge("queue", "");
    q.inc(4);
    q.dec();
    auto m = c.summary("payload_bytes", "Sizes.");
    m.observe(100);
    m.labels().observe(50);
    c.counter("plain_total", "").inc(2);
    ASSERT_TRUE(c.flush(std::chrono::seconds(5)));
    EXPECT_EQ(peer.value("temperature", {"kitchen"}), 21.0);
    EXPECT_EQ(peer.value("queue"), 3.0);
    EXPECT_EQ(peer.value("plain_total"), 2.0);
    peer.with_store([](const daemon::store& s) {
        const auto& cell = s.families().at("payload_bytes")->all_series().begin()->second;
        EXPECT_EQ(cell.summary().count, 2.0);
        EXPECT_EQ(cell.summary().sum, 150.0);
    });
}

TEST_F(client_delivery, histogram_buckets_kept_verbatim) {
    test_peer peer(path());
    client c(options_for(path()));
    auto h = c.histogram("latency_seconds", "Latency.", {"route"}, {"0.005", "0.01", "0.1", "1"});
    auto x = h.labels("/x");
    x.observe(0.02);
    x.observe(0.005);
    x.observe(5);
    auto sizes = c.histogram("sizes", "", {}, std::vector<double>{1e-05, 0.1, 1, 2.5});
    sizes.observe(0.5);
    ASSERT_TRUE(c.flush(std::chrono::seconds(5)));
    EXPECT_EQ(c.rejected(), 0u) << c.last_error();
    peer.with_store([](const daemon::store& s) {
        const auto& f = *s.families().at("latency_seconds");
        EXPECT_EQ(f.spec().bucket_texts, (std::vector<std::string>{"0.005", "0.01", "0.1", "1"}));
        const auto& cell = f.all_series().at({"/x"}).histogram();
        // Per-bucket counts (not cumulative): 0.005 <= 0.005, 0.02 <= 0.1, 5 in +Inf.
        EXPECT_EQ(cell.counts, (std::vector<double>{1, 0, 1, 0, 1}));
        EXPECT_EQ(cell.count, 3.0);
        EXPECT_DOUBLE_EQ(cell.sum, 5.025);
        const auto& g = *s.families().at("sizes");
        EXPECT_EQ(g.spec().bucket_texts, (std::vector<std::string>{"1e-05", "0.1", "1", "2.5"}));
        EXPECT_EQ(g.all_series().begin()->second.histogram().counts,
                  (std::vector<double>{0, 0, 1, 0, 0}));
    });
}

TEST_F(client_delivery, daemon_errors_are_counted_not_thrown) {
    test_peer peer(path());
    client first(options_for(path()));
    first.counter("conflicted_total", "", {"a"}).labels("x").inc();
    ASSERT_TRUE(first.flush(std::chrono::seconds(5)));

    std::mutex m;
    std::vector<std::string> seen;
    auto o = options_for(path());
    o.on_error = [&](const std::string& e) {
        std::lock_guard g(m);
        seen.push_back(e);
    };
    client second(o);
    second.gauge("conflicted_total", "", {"a"}).labels("x").set(1); // its ops are dropped
    ASSERT_TRUE(second.flush(std::chrono::seconds(5)));       // the ACK follows the ERROR
    EXPECT_EQ(second.rejected(), 1u);
    EXPECT_NE(second.last_error().find("family_conflict"), std::string::npos)
        << second.last_error();
    EXPECT_EQ(first.rejected(), 0u);
    EXPECT_TRUE(first.last_error().empty());
    std::lock_guard g(m);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], second.last_error());
    EXPECT_EQ(peer.value("conflicted_total", {"x"}), 1.0);
}

TEST_F(client_delivery, destructor_flushes) {
    test_peer peer(path());
    {
        client c(options_for(path()));
        c.counter("bye_total", "").inc(3);
    }
    EXPECT_EQ(peer.value("bye_total"), 3.0);
}

} // namespace
} // namespace metricsd::test

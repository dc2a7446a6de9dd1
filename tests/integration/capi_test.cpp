// The C API (libmetricsd.so, <metricsd.h>) end to end against the real daemon: exact totals
// from several threads, all four types, error codes, flush without a daemon, the daemon's
// errors through metricsd_last_error(), fork. The code under test is called through the C header
// only.
#include "daemon_fixture.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <metricsd.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using metricsd::test::daemon_process;
using metricsd::test::sample_value;
using metricsd::test::temp_dir;

struct client_deleter {
    void operator()(metricsd_client* c) const { metricsd_client_free(c); }
};
using client_ptr = std::unique_ptr<metricsd_client, client_deleter>;

client_ptr make_client(const std::string& socket, std::size_t max_buffer_bytes = 0) {
    metricsd_options o;
    metricsd_options_init(&o);
    o.socket_path = socket.c_str();
    if (max_buffer_bytes)
        o.max_buffer_bytes = max_buffer_bytes;
    metricsd_client* c = nullptr;
    EXPECT_EQ(metricsd_client_new(&o, &c), METRICSD_OK) << metricsd_error_detail();
    return client_ptr(c);
}

metricsd_series* series_of(metricsd_family* f, std::vector<const char*> values = {}) {
    metricsd_series* s = nullptr;
    EXPECT_EQ(metricsd_labels(f, values.data(), values.size(), &s), METRICSD_OK)
        << metricsd_error_detail();
    return s;
}

std::string last_error(const metricsd_client* c) {
    std::string text(metricsd_last_error(c, nullptr, 0), '\0');
    metricsd_last_error(c, text.data(), text.size() + 1);
    return text;
}

class capi : public ::testing::Test {
protected:
    temp_dir dir;
    daemon_process daemon{dir};
};

TEST_F(capi, four_threads_give_exact_totals) {
    // 64 MiB of buffer: the test is about exactness, so no op may be dropped.
    auto c = make_client(daemon.socket_path(), 64u << 20);
    const char* labels[] = {"thread"};
    metricsd_family* f = nullptr;
    ASSERT_EQ(metricsd_counter(c.get(), "capi_ops_total", "Ops.", labels, 1, &f), METRICSD_OK);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([f, t] {
            const std::string own = "t" + std::to_string(t);
            metricsd_series* shared = series_of(f, {"shared"});
            metricsd_series* mine = series_of(f, {own.c_str()});
            for (int i = 0; i < 100000; ++i) {
                metricsd_inc(shared, 1);
                metricsd_inc(mine, 1);
            }
        });
    for (auto& t : threads)
        t.join();
    ASSERT_EQ(metricsd_flush(c.get(), 10000), METRICSD_OK);
    EXPECT_EQ(metricsd_dropped_ops(c.get()), 0u);
    EXPECT_EQ(metricsd_rejected(c.get()), 0u) << last_error(c.get());
    const auto text = daemon.scrape();
    EXPECT_EQ(sample_value(text, "capi_ops_total{thread=\"shared\"}"), 400000);
    for (int t = 0; t < 4; ++t)
        EXPECT_EQ(sample_value(text, "capi_ops_total{thread=\"t" + std::to_string(t) + "\"}"),
                  100000);
}

TEST_F(capi, all_four_types_reach_the_scrape) {
    auto c = make_client(daemon.socket_path());
    const char* labels[] = {"method", "code"};
    const char* buckets[] = {"0.1", "1", "10"};
    metricsd_family *cf, *gf, *hf, *sf;
    ASSERT_EQ(metricsd_counter(c.get(), "capi_req_total", "R.", labels, 2, &cf), METRICSD_OK);
    ASSERT_EQ(
        metricsd_gauge(c.get(), "capi_in_flight", "G.", nullptr, 0, METRICSD_GAUGE_LIVESUM, &gf),
        METRICSD_OK);
    ASSERT_EQ(metricsd_histogram(c.get(), "capi_latency", "H.", nullptr, 0, buckets, 3, &hf),
              METRICSD_OK);
    ASSERT_EQ(metricsd_summary(c.get(), "capi_size", "S.", nullptr, 0, &sf), METRICSD_OK);
    auto* get_ok = series_of(cf, {"GET", "200"});
    EXPECT_EQ(metricsd_inc(get_ok, 2.5), METRICSD_OK);
    EXPECT_EQ(metricsd_inc(get_ok, 1.5), METRICSD_OK);
    auto* g = series_of(gf);
    EXPECT_EQ(metricsd_set(g, 10), METRICSD_OK);
    EXPECT_EQ(metricsd_inc(g, 5), METRICSD_OK);
    EXPECT_EQ(metricsd_dec(g, 3), METRICSD_OK);
    auto* h = series_of(hf);
    for (const double v : {0.0625, 0.5, 4.0, 32.0}) // exact in binary: the sum is exact too
        EXPECT_EQ(metricsd_observe(h, v), METRICSD_OK);
    auto* s = series_of(sf);
    EXPECT_EQ(metricsd_observe(s, 1.5), METRICSD_OK);
    EXPECT_EQ(metricsd_observe(s, 2.5), METRICSD_OK);
    ASSERT_EQ(metricsd_flush(c.get(), 5000), METRICSD_OK);
    EXPECT_EQ(metricsd_rejected(c.get()), 0u) << last_error(c.get());

    const auto text = daemon.scrape();
    EXPECT_EQ(sample_value(text, "capi_req_total{method=\"GET\",code=\"200\"}"), 4);
    EXPECT_EQ(sample_value(text, "capi_in_flight"), 12);
    EXPECT_EQ(sample_value(text, "capi_latency_bucket{le=\"0.1\"}"), 1);
    EXPECT_EQ(sample_value(text, "capi_latency_bucket{le=\"1.0\"}"), 2);
    EXPECT_EQ(sample_value(text, "capi_latency_bucket{le=\"10.0\"}"), 3);
    EXPECT_EQ(sample_value(text, "capi_latency_bucket{le=\"+Inf\"}"), 4);
    EXPECT_EQ(sample_value(text, "capi_latency_sum"), 36.5625);
    EXPECT_EQ(sample_value(text, "capi_latency_count"), 4);
    EXPECT_EQ(sample_value(text, "capi_size_sum"), 4);
    EXPECT_EQ(sample_value(text, "capi_size_count"), 2);
}

TEST_F(capi, invalid_declarations_and_ops_return_error_codes) {
    auto c = make_client(daemon.socket_path());
    const char* two[] = {"a", "b"};
    const char* dup[] = {"a", "a"};
    const char* inf[] = {"1", "+Inf"};
    metricsd_family* f = nullptr;
    EXPECT_EQ(metricsd_counter(c.get(), "bad-name", "", nullptr, 0, &f),
              METRICSD_E_INVALID_ARGUMENT);
    EXPECT_EQ(f, nullptr);
    EXPECT_NE(std::string(metricsd_error_detail()).find("bad-name"), std::string::npos);
    EXPECT_EQ(metricsd_counter(c.get(), "x_total", "", dup, 2, &f), METRICSD_E_INVALID_ARGUMENT);
    EXPECT_EQ(metricsd_histogram(c.get(), "x_h", "", nullptr, 0, inf, 2, &f),
              METRICSD_E_INVALID_ARGUMENT);
    EXPECT_EQ(metricsd_histogram(c.get(), "x_h", "", nullptr, 0, nullptr, 0, &f),
              METRICSD_E_INVALID_ARGUMENT);

    ASSERT_EQ(metricsd_counter(c.get(), "capi_two_total", "", two, 2, &f), METRICSD_OK);
    metricsd_series* s = nullptr;
    const char* one_value[] = {"x"};
    EXPECT_EQ(metricsd_labels(f, one_value, 1, &s), METRICSD_E_INVALID_ARGUMENT);
    EXPECT_NE(std::string(metricsd_error_detail()).find("label"), std::string::npos)
        << metricsd_error_detail();
    const char* not_utf8[] = {"x", "\xff"};
    EXPECT_EQ(metricsd_labels(f, not_utf8, 2, &s), METRICSD_E_INVALID_ARGUMENT);
    EXPECT_EQ(metricsd_summary(c.get(), "capi_two_total", "", two, 2, &f),
              METRICSD_E_INVALID_ARGUMENT); // this client declared it as a counter

    // A value the daemon refuses is sent (as from C++) and reported asynchronously.
    ASSERT_EQ(metricsd_counter(c.get(), "capi_neg_total", "", nullptr, 0, &f), METRICSD_OK);
    s = series_of(f);
    EXPECT_EQ(metricsd_dec(s, 1), METRICSD_E_INVALID_OP);
    EXPECT_EQ(metricsd_inc(s, -1), METRICSD_OK);
    ASSERT_EQ(metricsd_flush(c.get(), 5000), METRICSD_OK);
    EXPECT_EQ(metricsd_rejected(c.get()), 1u);
    EXPECT_EQ(last_error(c.get()).rfind("invalid_value: ", 0), 0u) << last_error(c.get());
}

TEST(capi_no_daemon, flush_times_out_at_once) {
    temp_dir dir;
    auto c = make_client(dir.file("nobody-listens.sock"));
    metricsd_family* f = nullptr;
    ASSERT_EQ(metricsd_counter(c.get(), "capi_lost_total", "", nullptr, 0, &f), METRICSD_OK);
    metricsd_inc(series_of(f), 1);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(metricsd_flush(c.get(), 10000), METRICSD_E_TIMEOUT);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
    EXPECT_EQ(metricsd_connected(c.get()), 0);
    c.reset(); // the final flush fails as fast
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(capi, last_error_reports_a_conflicting_declaration) {
    auto first = make_client(daemon.socket_path());
    auto second = make_client(daemon.socket_path());
    metricsd_family *cf, *gf;
    ASSERT_EQ(metricsd_counter(first.get(), "capi_conflict_total", "", nullptr, 0, &cf), METRICSD_OK);
    metricsd_inc(series_of(cf), 3);
    ASSERT_EQ(metricsd_flush(first.get(), 5000), METRICSD_OK);
    // Valid on its own, so accepted client-side; the daemon refuses it.
    ASSERT_EQ(
        metricsd_gauge(second.get(), "capi_conflict_total", "", nullptr, 0, METRICSD_GAUGE_SHARED,
                       &gf),
        METRICSD_OK);
    metricsd_set(series_of(gf), 100);
    ASSERT_EQ(metricsd_flush(second.get(), 5000), METRICSD_OK);
    EXPECT_GE(metricsd_rejected(second.get()), 1u);
    const auto text = last_error(second.get());
    EXPECT_EQ(text.rfind("family_conflict: ", 0), 0u) << text;
    char small[8];
    EXPECT_EQ(metricsd_last_error(second.get(), small, sizeof small), text.size());
    EXPECT_EQ(std::string(small), text.substr(0, 7));
    EXPECT_EQ(metricsd_rejected(first.get()), 0u);
    EXPECT_EQ(sample_value(daemon.scrape(), "capi_conflict_total"), 3);
}

TEST_F(capi, default_options_read_METRICSD_SOCKET) {
    ::setenv("METRICSD_SOCKET", daemon.socket_path().c_str(), 1);
    metricsd_client* raw = nullptr;
    const auto status = metricsd_client_new(nullptr, &raw);
    ::unsetenv("METRICSD_SOCKET");
    ASSERT_EQ(status, METRICSD_OK);
    client_ptr c(raw);
    metricsd_family* f = nullptr;
    ASSERT_EQ(metricsd_summary(c.get(), "capi_env", "", nullptr, 0, &f), METRICSD_OK);
    metricsd_observe(series_of(f), 2);
    ASSERT_EQ(metricsd_flush(c.get(), 5000), METRICSD_OK);
    EXPECT_EQ(sample_value(daemon.scrape(), "capi_env_count"), 1);
}

TEST_F(capi, a_forked_child_sends_its_own_ops_only) {
    auto c = make_client(daemon.socket_path());
    metricsd_family* f = nullptr;
    ASSERT_EQ(metricsd_counter(c.get(), "capi_fork_total", "", nullptr, 0, &f), METRICSD_OK);
    auto* s = series_of(f);
    metricsd_inc(s, 10);
    ASSERT_EQ(metricsd_flush(c.get(), 5000), METRICSD_OK);
    metricsd_inc(s, 7); // possibly still buffered at fork(): the child must not send it again
    const pid_t pid = ::fork();
    if (pid == 0) {
        metricsd_inc(s, 1); // the handle obtained before fork() stays valid
        ::_exit(metricsd_flush(c.get(), 5000) == METRICSD_OK ? 0 : 1);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_EQ(metricsd_flush(c.get(), 5000), METRICSD_OK);
    EXPECT_EQ(sample_value(daemon.scrape(), "capi_fork_total"), 18);
}

} // namespace

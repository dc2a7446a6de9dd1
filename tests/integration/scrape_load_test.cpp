// Issue 11 items 5 and 7, issue 12 item 2, against the real daemon with real HTTP clients: a
// store of 150 k series (~12 MB of text), scraped back to back by 8 clients, must not hold a
// worker's SYNC for long; clients that request /metrics and never read must not pin bodies.
// Before: one render of 200 k series blocked the loop for ~1 s, 8 scrape loops pushed a SYNC
// round trip to 1.8 s, and each unread response pinned its whole body (~63 MB at 200 k).
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using protocol::metric_type;
using protocol::op_code;

constexpr int counter_series = 130'000;
constexpr int histogram_series = 20'000;

/// Declares the load: counters `load_total{path}` and histograms `load_seconds{path}` with 8
/// buckets, one op each, over several connections (series stay when a worker leaves).
void fill(const std::string& socket) {
    const std::vector<std::string_view> buckets{"0.001", "0.01", "0.1", "0.5",
                                                "1",     "2",    "5",   "10"};
    constexpr int per_connection = 25'000;
    int made = 0;
    for (int total = counter_series + histogram_series; made < total;) {
        raw_client c(socket);
        std::string out = hello() + family(0, "load_total", metric_type::counter, {"path"}) +
                          family(1, "load_seconds", metric_type::histogram, {"path"},
                                 protocol::gauge_mode::livesum, buckets);
        std::vector<protocol::op_record> records;
        for (std::uint32_t h = 0; h < per_connection && made < total; ++h, ++made) {
            const bool counter = made < counter_series;
            const std::string path = "/item/" + std::to_string(made);
            out += series(h, counter ? 0 : 1, {path});
            records.push_back({counter ? op_code::inc : op_code::observe, h, 0.25});
            if (records.size() == 2000) {
                out += ops(records);
                records.clear();
                c.send(out);
                out.clear();
            }
        }
        if (!records.empty())
            out += ops(records);
        c.send(out);
        const auto r = c.sync(1);
        ASSERT_FALSE(r.empty());
        ASSERT_EQ(r.back().type, protocol::frame_type::ack);
    }
}

std::vector<std::string> daemon_flags() {
    return {"--max-series", "200000", "--max-series-per-family", "200000"};
}

TEST(scrape_load, a_worker_sync_stays_fast_while_eight_clients_scrape_back_to_back) {
    temp_dir dir;
    daemon_process d(dir, daemon_flags());
    fill(d.socket_path());
    const std::string first = d.scrape();
    ASSERT_GT(first.size(), 8'000'000u);

    raw_client worker(d.socket_path());
    worker.send(hello() + family(0, "probe_total", metric_type::counter) + series(0, 0));
    ASSERT_FALSE(worker.sync(1).empty());

    std::atomic<bool> stop{false};
    std::atomic<int> scrapes{0};
    std::atomic<int> bad{0};
    std::vector<std::thread> loops;
    for (int i = 0; i < 8; ++i)
        loops.emplace_back([&] {
            while (!stop) {
                const auto r = http_get(d.port(), "/metrics");
                // Whole, with the daemon's own families last.
                if (r.status != 200 || r.body.find("\nmetricsd_scrape_response_bytes ") ==
                                           std::string::npos ||
                    r.body.find("load_total{path=\"/item/129999\"} 0.25\n") == std::string::npos)
                    ++bad;
                ++scrapes;
            }
        });
    std::vector<double> rtt_ms;
    const auto deadline = clock_type::now() + 60s;
    for (std::uint64_t token = 2; scrapes < 16 && clock_type::now() < deadline; ++token) {
        const auto t0 = clock_type::now();
        worker.send(ops({{op_code::inc, 0, 1}}));
        const auto r = worker.sync(token);
        ASSERT_FALSE(r.empty());
        rtt_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    }
    stop = true;
    for (auto& t : loops)
        t.join();
    ASSERT_GE(scrapes, 16) << "scrapes did not complete within 60 s";
    EXPECT_EQ(bad, 0);
    std::sort(rtt_ms.begin(), rtt_ms.end());
    ASSERT_GE(rtt_ms.size(), 10u);
    const double p50 = rtt_ms[rtt_ms.size() / 2];
    const double worst = rtt_ms.back();
    // Each SYNC waits for at most one slice (~64 KiB, well under 10 ms even on a loaded
    // machine) plus the writes of one slice to 8 clients; before, a render of the whole store.
    EXPECT_LT(p50, 50.0) << "worst " << worst << " ms over " << rtt_ms.size();
    EXPECT_LT(worst, 1000.0) << "p50 " << p50 << " ms over " << rtt_ms.size();
    // Every scrape was counted exactly; concurrent ones shared renders.
    const std::string after = d.scrape();
    EXPECT_EQ(sample_value(after, "probe_total"), static_cast<double>(rtt_ms.size()));
    const double renders = sample_value(after, "metricsd_scrape_renders_total");
    const double served = sample_value(after, "metricsd_scrapes_total");
    EXPECT_GE(served, scrapes + 1.0);
    EXPECT_LT(renders, served);
    std::printf("scrape_load: %d scrapes, %.0f renders, SYNC p50 %.2f ms, worst %.2f ms\n",
                scrapes.load(), renders, p50, worst);
}

/// A TCP client that sends one request and never reads.
int unread_request(int port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int small = 4096; // a small receive window: the daemon's writes stall soon
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw std::runtime_error("connect failed");
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size()))
        throw std::runtime_error("send failed");
    return fd;
}

TEST(scrape_load, unread_responses_pin_one_slice_and_are_dropped_after_the_progress_timeout) {
    temp_dir dir;
    ::setenv("METRICSD_HTTP_SCRAPE_PROGRESS_TIMEOUT_S", "2", 1);
    daemon_process d(dir, daemon_flags());
    ::unsetenv("METRICSD_HTTP_SCRAPE_PROGRESS_TIMEOUT_S");
    fill(d.socket_path());
    // OpenMetrics for our own scrapes: another kind of render, never queued behind the
    // stalled text render.
    const std::map<std::string, std::string> om{{"Accept", "application/openmetrics-text"}};
    const std::size_t body = d.scrape().size();
    ASSERT_GT(body, 8'000'000u);
    const long before = rss_kib(d.process().pid());

    constexpr int unread = 10; // before: 10 whole bodies pinned, > 80 MB
    std::vector<int> fds;
    for (int i = 0; i < unread; ++i)
        fds.push_back(unread_request(d.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    long peak = before;
    const auto deadline = clock_type::now() + 30s;
    double cut = 0;
    while (clock_type::now() < deadline) {
        peak = std::max(peak, rss_kib(d.process().pid()));
        cut = sample_value(d.scrape(om), "metricsd_scrapes_cut_total");
        if (cut >= unread)
            break;
    }
    EXPECT_EQ(cut, unread);
    const long growth_kib = peak - before;
    EXPECT_LT(growth_kib, 16 * 1024) << "body " << body << " bytes";
    // The text render is free again: a reader gets a whole body.
    const std::string text = d.scrape();
    EXPECT_NE(text.find("\nmetricsd_scrapes_cut_total 10\n"), std::string::npos);
    for (int fd : fds)
        ::close(fd);
    std::printf("scrape_load: body %zu bytes, %d unread readers, RSS growth %ld KiB\n", body,
                unread, growth_kib);
}

} // namespace
} // namespace metricsd::test

// Issue 11 items 3 and 8 and issue 12's memory per connection, against the real daemon:
// connections that never complete the handshake, or complete it and fall silent, must not lock
// real workers out; an idle connection costs at most 16 KiB; an incomplete large frame costs
// about its size, not twice; a connection past its byte budget is refused and nothing else.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"
#include "sanitizer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using protocol::error_code;
using protocol::frame_type;
using protocol::metric_type;
using protocol::op_code;

/// Scrape until `series` has `value` (the daemon closes and counts asynchronously); returns
/// the last scrape.
std::string scrape_until(const daemon_process& d, const std::string& series, double value) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::string text = d.scrape();
    while (sample_value(text, series) != value && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        text = d.scrape();
    }
    return text;
}

/// `n` inc-by-1 records on series handle `h`.
std::vector<protocol::op_record> incs(std::uint32_t h, std::size_t n) {
    return std::vector<protocol::op_record>(n, protocol::op_record{op_code::inc, h, 1});
}

/// A worker's whole life: handshake, declare, `n` incs, SYNC; returns the replies.
std::vector<reply> work(raw_client& c, std::size_t n) {
    c.send(hello() + family(0, "jobs_total", metric_type::counter) + series(0, 0) +
           ops(incs(0, n)));
    return c.sync(1);
}

TEST(connection_limits, half_open_connections_cannot_lock_a_worker_out) {
    constexpr std::size_t idle = 1024; // the default connection cap
    constexpr std::size_t pending_cap = 64;
    temp_dir dir;
    daemon_process d(dir, {"--handshake-timeout-ms", "2000"});

    // Half of them send nothing, half send half a handshake.
    std::vector<std::unique_ptr<raw_client>> attackers;
    for (std::size_t i = 0; i < idle; ++i) {
        attackers.push_back(std::make_unique<raw_client>(d.socket_path()));
        if (i % 2 == 1)
            attackers.back()->send("MTRD\x01");
    }

    // A real worker gets in at once, long before any handshake times out.
    const auto start = std::chrono::steady_clock::now();
    raw_client worker(d.socket_path());
    const auto r = work(worker, 1000);
    const auto waited = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].type, frame_type::welcome);
    EXPECT_EQ(r[1].type, frame_type::ack);
    EXPECT_LT(waited, 2s);

    // Every half-open connection is closed with its reason: the oldest ones as newer ones
    // (the worker included) took their place, the last pending_cap - 1 at the timeout.
    std::size_t evicted = 0, timed_out = 0;
    for (std::size_t i = 0; i < idle; ++i) {
        const auto e = attackers[i]->read_until(frame_type::error);
        ASSERT_EQ(e.size(), 1u) << "connection " << i;
        if (e[0].code == error_code::too_many_connections) {
            ++evicted;
            EXPECT_EQ(e[0].message, "too many connections awaiting the handshake (64)");
        } else {
            ++timed_out;
            EXPECT_EQ(e[0].code, error_code::handshake_timeout) << "connection " << i;
            EXPECT_EQ(e[0].message, "no handshake within 2000 ms");
        }
        EXPECT_TRUE(attackers[i]->closed_by_peer()) << "connection " << i;
    }
    EXPECT_EQ(evicted, idle - pending_cap + 1);
    EXPECT_EQ(timed_out, pending_cap - 1);

    const std::string text = scrape_until(d, "metricsd_ingest_connections_open", 1);
    EXPECT_EQ(sample_value(text, "metricsd_ingest_connections_open"), 1) << text;
    EXPECT_EQ(sample_value(text, "metricsd_ingest_errors_total{code=\"too_many_connections\"}"),
              static_cast<double>(evicted));
    EXPECT_EQ(sample_value(text, "metricsd_ingest_errors_total{code=\"handshake_timeout\"}"),
              static_cast<double>(timed_out));
    EXPECT_EQ(sample_value(text, "jobs_total"), 1000) << text;
    // Logged once each (the interval is 10 s), not once per connection.
    const std::string log = d.process().log();
    EXPECT_EQ(occurrences(log, "closed before its handshake"), 1u) << log;
    EXPECT_EQ(occurrences(log, "closed: no handshake within 2000 ms"), 1u) << log;

    // The worker is still served, and counted exactly.
    worker.send(ops(incs(0, 500)));
    EXPECT_EQ(worker.sync(2).back().type, frame_type::ack);
    EXPECT_EQ(sample_value(d.scrape(), "jobs_total"), 1500);
    EXPECT_EQ(d.stop(), 0);
}

TEST(connection_limits, idle_connections_yield_their_slots_only_at_the_cap_and_after_the_timeout) {
    constexpr std::size_t cap = 1024;
    temp_dir dir;
    daemon_process d(dir, {"--idle-timeout", "3"});

    // Every slot taken by a connection that completes the handshake and then says nothing.
    std::vector<std::unique_ptr<raw_client>> idle;
    for (std::size_t i = 0; i < cap; ++i) {
        idle.push_back(std::make_unique<raw_client>(d.socket_path()));
        idle.back()->send(hello());
    }
    for (std::size_t i = 0; i < cap; ++i)
        ASSERT_EQ(idle[i]->read_until(frame_type::welcome).size(), 1u) << "connection " << i;
    const auto all_idle_since = std::chrono::steady_clock::now();

    // Within the idle timeout the daemon is simply full.
    {
        raw_client early(d.socket_path());
        const auto e = early.read_until(frame_type::error);
        ASSERT_EQ(e.size(), 1u);
        EXPECT_EQ(e[0].code, error_code::too_many_connections);
        ASSERT_LT(std::chrono::steady_clock::now() - all_idle_since, 3s)
            << "the host is too slow for this check";
    }

    // Past it, a worker takes the slot of the connection idle the longest (the first).
    std::this_thread::sleep_until(all_idle_since + 3s);
    raw_client worker(d.socket_path());
    const auto r = work(worker, 1000);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].type, frame_type::welcome);
    EXPECT_EQ(r[1].type, frame_type::ack);

    const auto e = idle[0]->read_until(frame_type::error);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].code, error_code::idle_timeout);
    EXPECT_TRUE(e[0].message.starts_with("idle for ")) << e[0].message;
    EXPECT_TRUE(e[0].message.ends_with(" s while the daemon is at its connection limit"));
    EXPECT_TRUE(idle[0]->closed_by_peer());
    // The other idle connections are untouched and still served.
    EXPECT_EQ(idle[1]->sync(7).back().type, frame_type::ack);
    EXPECT_EQ(idle[cap - 1]->sync(7).back().type, frame_type::ack);

    const std::string text = d.scrape();
    EXPECT_EQ(sample_value(text, "metricsd_ingest_errors_total{code=\"idle_timeout\"}"), 1);
    EXPECT_EQ(sample_value(text, "metricsd_ingest_errors_total{code=\"too_many_connections\"}"),
              1);
    EXPECT_EQ(sample_value(text, "metricsd_ingest_connections_open"), cap);
    EXPECT_EQ(sample_value(text, "jobs_total"), 1000);
    EXPECT_EQ(occurrences(d.process().log(), " s idle: pid "), 1u) << d.process().log();
    EXPECT_EQ(d.stop(), 0);
}

TEST(connection_limits, an_idle_connection_costs_at_most_16_kib) {
    constexpr std::size_t connections = 1000;
    temp_dir dir;
    daemon_process d(dir);
    const pid_t pid = d.process().pid();
    // Warm up: the allocator's arenas and Asio's per-descriptor state, so the baseline holds
    // what any daemon that served connections holds.
    {
        std::vector<std::unique_ptr<raw_client>> warm;
        for (std::size_t i = 0; i < 100; ++i) {
            warm.push_back(std::make_unique<raw_client>(d.socket_path()));
            ASSERT_EQ(work(*warm.back(), 10).back().type, frame_type::ack);
        }
    }
    scrape_until(d, "metricsd_ingest_connections_open", 0);
    const long before = rss_kib(pid);

    // Real workers, each having declared a series and sent a batch, then gone quiet.
    std::vector<std::unique_ptr<raw_client>> idle;
    for (std::size_t i = 0; i < connections; ++i) {
        idle.push_back(std::make_unique<raw_client>(d.socket_path()));
        ASSERT_EQ(work(*idle.back(), 100).back().type, frame_type::ack) << i;
    }
    if (address_sanitizer) {
        // Served exactly, and ASan found nothing; the RSS bound means nothing in this build.
        EXPECT_EQ(sample_value(d.scrape(), "jobs_total"), 100 * 10 + connections * 100);
        EXPECT_EQ(d.stop(), 0);
        GTEST_SKIP() << "the 16 KiB RSS bound is checked without ASan only: its quarantine "
                        "keeps the freed input buffers resident, and redzones and shadow "
                        "memory add to every allocation";
    }
    // Input buffers are freed once a connection has been idle for a second or two.
    const auto per_connection_now = [&] {
        return static_cast<double>(rss_kib(pid) - before) * 1024 / connections;
    };
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    double per_connection = per_connection_now();
    while (per_connection > 16 * 1024 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
        per_connection = per_connection_now();
    }
    std::printf("VmRSS %ld KiB before: %.0f bytes per idle connection\n", before,
                per_connection);
    EXPECT_LE(per_connection, 16 * 1024);
    EXPECT_EQ(sample_value(d.scrape(), "jobs_total"), 100 * 10 + connections * 100);
    EXPECT_EQ(d.stop(), 0);
}

TEST(connection_limits, an_incomplete_large_frame_costs_about_its_size) {
    constexpr std::size_t connections = 8;
    constexpr std::size_t records = protocol::limits::max_frame_payload / protocol::op_record_size;
    temp_dir dir;
    daemon_process d(dir);
    const pid_t pid = d.process().pid();

    std::vector<std::unique_ptr<raw_client>> clients;
    for (std::size_t i = 0; i < connections; ++i) {
        clients.push_back(std::make_unique<raw_client>(d.socket_path()));
        ASSERT_EQ(work(*clients.back(), 1).back().type, frame_type::ack);
    }
    const long before = rss_kib(pid);
    const double bytes_before = sample_value(d.scrape(), "metricsd_ingest_bytes_total");

    // One largest frame (1 MiB of inc records) per connection, all but its last record.
    const std::string frame = ops(incs(0, records));
    const std::size_t held = frame.size() - protocol::op_record_size;
    for (auto& c : clients)
        c->send(frame.substr(0, held));
    const std::string text = scrape_until(d, "metricsd_ingest_bytes_total",
                                          bytes_before + static_cast<double>(connections * held));
    ASSERT_EQ(sample_value(text, "metricsd_ingest_bytes_total"),
              bytes_before + static_cast<double>(connections * held));
    const long after = rss_kib(pid);
    const double per_connection = static_cast<double>(after - before) * 1024 / connections;
    std::printf("VmRSS %ld KiB -> %ld KiB: %.0f bytes per incomplete %zu-byte frame\n", before,
                after, per_connection, frame.size());
    // It used to be ~2 MiB (the buffer doubled past the frame and was zero-filled).
    if (!address_sanitizer) {
        EXPECT_LE(per_connection, 1.15 * static_cast<double>(frame.size()));
    }

    // Completed, every record counts.
    for (auto& c : clients) {
        c->send(frame.substr(held));
        EXPECT_EQ(c->sync(2).back().type, frame_type::ack);
    }
    EXPECT_EQ(sample_value(d.scrape(), "jobs_total"),
              static_cast<double>(connections * (1 + records)));
    EXPECT_EQ(d.stop(), 0);
    if (address_sanitizer)
        GTEST_SKIP() << "the 1.15 x frame size RSS bound is checked without ASan only: the "
                        "frame's buffer carries 1/8 of its size as shadow memory, and the "
                        "smaller buffers it replaced stay resident in ASan's quarantine";
}

TEST(connection_limits, a_connection_over_its_byte_budget_is_refused_and_nothing_else) {
    temp_dir dir;
    daemon_process d(dir, {"--max-connection-bytes", "65536"});
    raw_client worker(d.socket_path());
    ASSERT_EQ(work(worker, 10).back().type, frame_type::ack);

    // 4 096 series handles bound on one connection: a handle table far over 64 KiB.
    raw_client greedy(d.socket_path());
    std::string decls = hello() + family(0, "greedy_total", metric_type::counter, {"i"});
    for (std::uint32_t h = 0; h < 4096; ++h)
        decls += series(h, 0, {std::to_string(h)});
    greedy.send_until_closed(decls); // refused part-way: the rest may meet a closed socket
    const auto r = greedy.read_until(frame_type::error);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].type, frame_type::welcome);
    EXPECT_EQ(r[1].code, error_code::connection_memory_limit);
    EXPECT_TRUE(r[1].message.starts_with("this connection would hold ")) << r[1].message;
    EXPECT_TRUE(r[1].message.ends_with(" bytes (input, output, handles); the limit is 65536"))
        << r[1].message;
    EXPECT_TRUE(greedy.closed_by_peer());

    // A frame that alone needs more than the budget is refused before it is buffered.
    raw_client big(d.socket_path());
    big.send_until_closed(hello() + ops(incs(0, 8192))); // 128 KiB payload
    const auto b = big.read_until(frame_type::error);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[1].code, error_code::connection_memory_limit);
    EXPECT_TRUE(big.closed_by_peer());

    // The worker is unaffected and exact.
    worker.send(ops(incs(0, 5)));
    EXPECT_EQ(worker.sync(2).back().type, frame_type::ack);
    const std::string text = d.scrape();
    EXPECT_EQ(sample_value(text, "jobs_total"), 15);
    EXPECT_EQ(
        sample_value(text, "metricsd_ingest_errors_total{code=\"connection_memory_limit\"}"), 2);
    EXPECT_EQ(occurrences(d.process().log(), "limit of 65536 bytes"), 1u) << d.process().log();
    EXPECT_EQ(d.stop(), 0);
}

} // namespace
} // namespace metricsd::test

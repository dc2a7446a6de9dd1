#include "daemon/store/gauge.hpp"
#include "daemon/ingest/ingest_handler.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/protocol/decoder.hpp>
#include <metricsd/protocol/encoder.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <optional>
#include <string>
#include <vector>

namespace metricsd::daemon {
namespace {

using protocol::error_code;
using protocol::gauge_mode;
using protocol::metric_type;
using protocol::op_code;

/// What the client would read back.
std::vector<protocol::message> replies(std::string& bytes, std::vector<std::string>& texts) {
    protocol::decoder d(protocol::role::client);
    d.feed(bytes);
    bytes.clear();
    std::vector<protocol::message> out;
    for (;;) {
        auto r = d.next();
        if (r.state != protocol::decode_result::status::message)
            break;
        if (auto* e = std::get_if<protocol::error>(&r.msg))
            texts.emplace_back(e->message);
        out.push_back(r.msg);
    }
    // Views into the decoder die with it; keep only what tests compare (texts copied above).
    return out;
}

struct client_bytes {
    std::string b;
    client_bytes& hello() {
        protocol::encode(b, protocol::handshake{});
        return *this;
    }
    client_bytes& family(std::uint32_t h, std::string_view name, metric_type t,
                         std::vector<std::string_view> labels = {},
                         std::vector<std::string_view> buckets = {},
                         gauge_mode mode = gauge_mode::livesum) {
        protocol::family_decl d{h, t, mode, name, "help", labels, buckets};
        protocol::encode(b, d);
        return *this;
    }
    client_bytes& series(std::uint32_t h, std::uint32_t fam, std::vector<std::string_view> v = {}) {
        protocol::encode(b, protocol::series_decl{h, fam, v});
        return *this;
    }
    client_bytes& ops(std::vector<protocol::op_record> r) {
        protocol::encode_ops(b, r);
        return *this;
    }
    client_bytes& fold(std::uint32_t h, std::uint64_t count, double sum,
                       std::vector<std::uint64_t> buckets) {
        protocol::encode_fold(b, h, count, sum, buckets);
        return *this;
    }
    client_bytes& client_stats(std::uint64_t dropped) {
        protocol::encode(b, protocol::client_stats{dropped});
        return *this;
    }
    client_bytes& sync(std::uint64_t t) {
        protocol::encode(b, protocol::sync{t});
        return *this;
    }
};

double counter_value(const store& s, std::string_view name, std::vector<std::string> labels = {}) {
    const auto& fam = *s.families().find(name)->second;
    return fam.all_series().find(labels)->second.value;
}

struct ingest : ::testing::Test {
    store s;
    std::vector<std::string> texts;

    std::vector<protocol::message> run(ingest_handler& h, const std::string& bytes,
                                       bool expect_open = true) {
        h.feed(bytes);
        EXPECT_EQ(h.process(), expect_open);
        return replies(h.output(), texts);
    }
};

TEST_F(ingest, handshake_declare_ops_sync_ack) {
    ingest_handler h(s, 4242);
    client_bytes c;
    c.hello()
        .family(0, "jobs_total", metric_type::counter, {"queue"})
        .series(0, 0, {"mail"})
        .series(1, 0, {"sms"})
        .ops({{op_code::inc, 0, 1}, {op_code::inc, 0, 2}, {op_code::inc, 1, 5}})
        .sync(77);
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 2u);
    ASSERT_TRUE(std::holds_alternative<protocol::welcome>(r[0]));
    EXPECT_EQ(std::get<protocol::welcome>(r[0]).max_frame_payload,
              protocol::limits::max_frame_payload);
    ASSERT_TRUE(std::holds_alternative<protocol::ack>(r[1]));
    EXPECT_EQ(std::get<protocol::ack>(r[1]).token, 77u);
    EXPECT_EQ(counter_value(s, "jobs_total", {"mail"}), 3);
    EXPECT_EQ(counter_value(s, "jobs_total", {"sms"}), 5);
    EXPECT_EQ(h.stats().ops_applied, 3u);
    EXPECT_EQ(h.stats().frames, 5u);
    EXPECT_EQ(h.stats().syncs, 1u);
}

TEST_F(ingest, every_split_point_gives_the_same_result) {
    client_bytes c;
    c.hello().family(0, "c_total", metric_type::counter).series(0, 0);
    for (int i = 0; i < 10; ++i)
        c.ops({{op_code::inc, 0, 1}, {op_code::inc, 0, 1}});
    c.sync(1);
    for (std::size_t cut = 0; cut <= c.b.size(); ++cut) {
        store st;
        ingest_handler h(st, 1);
        h.feed(std::string_view(c.b).substr(0, cut));
        ASSERT_TRUE(h.process());
        h.feed(std::string_view(c.b).substr(cut));
        ASSERT_TRUE(h.process());
        std::vector<std::string> t;
        auto r = replies(h.output(), t);
        ASSERT_EQ(r.size(), 2u) << cut;
        EXPECT_EQ(counter_value(st, "c_total"), 20) << cut;
    }
}

TEST_F(ingest, bad_magic_is_fatal_with_error_frame) {
    ingest_handler h(s, 1);
    auto r = run(h, "GET /metrics HTTP/1.1\r\n\r\n", false);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(std::get<protocol::error>(r[0]).code, error_code::bad_magic);
    EXPECT_EQ(h.stats().errors[static_cast<int>(error_code::bad_magic)], 1u);
}

TEST_F(ingest, unknown_series_ops_are_rejected_once_per_frame_and_others_apply) {
    ingest_handler h(s, 1);
    client_bytes c;
    c.hello()
        .family(0, "c_total", metric_type::counter)
        .series(0, 0)
        .ops({{op_code::inc, 0, 1},
              {op_code::inc, 9, 1},
              {op_code::inc, 12, 1},
              {op_code::inc, 0, 1}});
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 2u);
    const auto& e = std::get<protocol::error>(r[1]);
    EXPECT_EQ(e.code, error_code::unknown_series);
    EXPECT_EQ(e.handle, 9u);
    EXPECT_EQ(e.frame, 2u);
    EXPECT_EQ(texts[0],
              "2 op(s) in this frame rejected; first: series handle 9 was never declared");
    EXPECT_EQ(counter_value(s, "c_total"), 2);
    EXPECT_EQ(h.stats().ops_rejected, 2u);
}

TEST_F(ingest, invalid_ops_and_values_are_reported) {
    ingest_handler h(s, 1);
    client_bytes c;
    c.hello().family(0, "c_total", metric_type::counter).series(0, 0);
    c.ops({{op_code::dec, 0, 1}}).ops({{op_code::inc, 0, -1}});
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(std::get<protocol::error>(r[1]).code, error_code::invalid_op);
    EXPECT_EQ(std::get<protocol::error>(r[2]).code, error_code::invalid_value);
    EXPECT_EQ(counter_value(s, "c_total"), 0);
}

TEST_F(ingest, counter_overflow_is_refused_with_invalid_value_and_counted) {
    // Issue 11: inc(1.7e308) twice made the counter +Inf. The second op is refused now: the
    // client gets an ERROR frame, the op counts as rejected, the counter keeps its value.
    ingest_handler h(s, 1);
    client_bytes c;
    c.hello().family(0, "c_total", metric_type::counter).series(0, 0);
    c.ops({{op_code::inc, 0, 1.7e308}}).ops({{op_code::inc, 0, 1.7e308}});
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 2u);
    const auto& e = std::get<protocol::error>(r[1]);
    EXPECT_EQ(e.code, error_code::invalid_value);
    EXPECT_EQ(e.handle, 0u);
    EXPECT_EQ(counter_value(s, "c_total"), 1.7e308);
    EXPECT_EQ(h.stats().ops_rejected, 1u);
}

TEST_F(ingest, rejected_declaration_reports_once_and_drops_its_ops_silently) {
    ingest_handler h(s, 1);
    client_bytes c;
    c.hello()
        .family(0, "bad-name", metric_type::counter)
        .series(0, 0)
        .ops({{op_code::inc, 0, 1}, {op_code::inc, 0, 1}})
        .family(1, "ok_total", metric_type::counter, {"k"})
        .series(1, 1, {"\xff"})
        .ops({{op_code::inc, 1, 1}})
        .sync(5);
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(std::get<protocol::error>(r[1]).code, error_code::invalid_metric_name);
    EXPECT_EQ(std::get<protocol::error>(r[1]).handle, 0u);
    EXPECT_EQ(std::get<protocol::error>(r[2]).code, error_code::invalid_label_value);
    EXPECT_EQ(std::get<protocol::ack>(r[3]).token, 5u);
    EXPECT_EQ(h.stats().ops_dropped, 3u);
    EXPECT_EQ(s.series_count(), 0u);
}

// FOLD adds to what observe ops put in the same series; each refusal is one op-level ERROR
// naming the handle, and a FOLD on a rejected handle is dropped silently like an op.
TEST_F(ingest, fold_frames_apply_like_their_observations_and_refusals_are_op_errors) {
    ingest_handler h(s, 1);
    client_bytes c;
    c.hello()
        .family(0, "h_seconds", metric_type::histogram, {}, {"1", "2"})
        .series(0, 0)
        .family(1, "s_bytes", metric_type::summary)
        .series(1, 1)
        .family(2, "c_total", metric_type::counter)
        .series(2, 2)
        .family(3, "bad-name", metric_type::summary)
        .series(3, 3)
        .ops({{op_code::observe, 0, 1.5}, {op_code::observe, 1, 7}})
        .fold(0, 6, 9.5, {3, 2, 1})                              // frame 9
        .fold(1, 1'000'000, 2.5, {})                             // frame 10
        .fold(0, 1, 0.5, {1})                                    // 11: two buckets short
        .fold(1, 1, 0.5, {1})                                    // 12: a summary has none
        .fold(2, 1, 0.5, {})                                     // 13: not a histogram
        .fold(9, 1, 0.5, {})                                     // 14: never declared
        .fold(1, 1, std::numeric_limits<double>::quiet_NaN(), {}) // 15: NaN from one value
        .fold(1, 2, std::numeric_limits<double>::quiet_NaN(), {}) // 16: +Inf and -Inf: fine
        .fold(3, 4, 1, {})                                       // 17: rejected handle
        .sync(1);
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 8u); // WELCOME, 1 declaration error, 5 FOLD errors, ACK
    EXPECT_EQ(std::get<protocol::error>(r[1]).code, error_code::invalid_metric_name);
    const std::vector<std::pair<error_code, std::uint64_t>> want = {
        {error_code::invalid_value, 11}, {error_code::invalid_value, 12},
        {error_code::invalid_op, 13},    {error_code::unknown_series, 14},
        {error_code::invalid_value, 15}};
    for (std::size_t i = 0; i < want.size(); ++i) {
        const auto& e = std::get<protocol::error>(r[2 + i]);
        EXPECT_EQ(e.code, want[i].first) << i;
        EXPECT_EQ(e.frame, want[i].second) << i;
    }
    EXPECT_EQ(texts[1], "FOLD rejected: 1 bucket count(s) and sum 0.500000 of 1 observation(s) "
                        "do not fit series handle 0");
    EXPECT_EQ(std::get<protocol::ack>(r[7]).token, 1u);
    const auto& hist = s.families().at("h_seconds")->all_series().begin()->second.histogram();
    EXPECT_EQ(hist.counts, (std::vector<double>{3, 3, 1}));
    EXPECT_EQ(hist.count, 7);
    EXPECT_EQ(hist.sum, 11);
    const auto& sum = s.families().at("s_bytes")->all_series().begin()->second.summary();
    EXPECT_EQ(sum.count, 1'000'003);
    EXPECT_TRUE(std::isnan(sum.sum));
    EXPECT_EQ(h.stats().ops_applied, 5u); // 2 observe ops, 3 FOLD frames
    EXPECT_EQ(h.stats().ops_rejected, 5u);
    EXPECT_EQ(h.stats().ops_dropped, 1u);
}

// WELCOME announces revision 2, so clients know CLIENT_STATS is taken; the connection keeps the
// last count, refuses one that goes down (the exported counter must not) and keeps the old one.
TEST_F(ingest, client_stats_keep_the_last_count_and_refuse_one_that_goes_down) {
    ingest_handler h(s, 1);
    client_bytes c;
    c.hello().client_stats(0).client_stats(3).client_stats(7).client_stats(7).sync(1);
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(std::get<protocol::welcome>(r[0]).version, 2);
    EXPECT_EQ(std::get<protocol::ack>(r[1]).token, 1u);
    EXPECT_EQ(h.stats().client_dropped_ops, 7u);

    client_bytes more;
    more.client_stats(6).client_stats(9).sync(2); // frames 5, 6, 7
    r = run(h, more.b);
    ASSERT_EQ(r.size(), 2u);
    const auto& e = std::get<protocol::error>(r[0]);
    EXPECT_EQ(e.code, error_code::invalid_value);
    EXPECT_EQ(e.handle, protocol::no_handle);
    EXPECT_EQ(e.frame, 5u);
    EXPECT_EQ(texts.back(), "CLIENT_STATS rejected: dropped ops 6 is below the 7 this connection "
                            "reported before; the count is cumulative");
    EXPECT_EQ(std::get<protocol::ack>(r[1]).token, 2u);
    EXPECT_EQ(h.stats().client_dropped_ops, 9u);
    EXPECT_EQ(h.stats().frames, 8u);
    EXPECT_EQ(h.stats().ops_applied, 0u) << "a report is not an op";
    EXPECT_EQ(h.stats().errors[static_cast<std::size_t>(error_code::invalid_value)], 1u);
}

TEST_F(ingest, series_of_undeclared_family_and_handle_conflicts) {
    ingest_handler h(s, 1);
    client_bytes c;
    c.hello()
        .series(0, 3)
        .family(0, "a_total", metric_type::counter)
        .family(0, "a_total", metric_type::counter) // identical: idempotent
        .family(0, "b_total", metric_type::counter) // other family on a bound handle
        .series(1, 0)
        .series(1, 0); // identical: idempotent
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(std::get<protocol::error>(r[1]).code, error_code::unknown_family);
    EXPECT_EQ(std::get<protocol::error>(r[2]).code, error_code::handle_conflict);
    EXPECT_EQ(texts[1], "family handle 0 is bound to 'a_total'");
}

TEST_F(ingest, type_conflict_between_connections) {
    ingest_handler a(s, 1), b(s, 2);
    client_bytes ca, cb;
    ca.hello().family(0, "x_total", metric_type::counter);
    cb.hello().family(0, "x_total", metric_type::gauge);
    run(a, ca.b);
    auto r = run(b, cb.b);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(std::get<protocol::error>(r[1]).code, error_code::family_conflict);
    EXPECT_EQ(texts.back(), "'x_total' is already declared as a counter, not a gauge");
}

// Issue 13 item 12: a counter is `x_total` whichever spelling a client declares, so every client
// exports one name; both spellings are one family. Other types keep their names.
TEST_F(ingest, a_counter_is_named_with_total_whichever_spelling_declares_it) {
    ingest_handler a(s, 1), b(s, 2);
    client_bytes ca, cb;
    ca.hello().family(0, "backups", metric_type::counter).series(0, 0).ops(
        {{op_code::inc, 0, 2}});
    cb.hello().family(0, "backups_total", metric_type::counter).series(0, 0).ops(
        {{op_code::inc, 0, 3}});
    EXPECT_EQ(run(a, ca.b).size(), 1u);
    EXPECT_EQ(run(b, cb.b).size(), 1u);
    EXPECT_EQ(s.families().count("backups"), 0u);
    ASSERT_EQ(s.families().count("backups_total"), 1u);
    EXPECT_EQ(counter_value(s, "backups_total"), 5);
    client_bytes cg;
    ingest_handler g(s, 3);
    cg.hello().family(0, "queue_depth", metric_type::gauge);
    EXPECT_EQ(run(g, cg.b).size(), 1u);
    EXPECT_EQ(s.families().count("queue_depth"), 1u);
}

TEST_F(ingest, disconnect_retires_the_worker) {
    client_bytes c;
    c.hello().family(0, "in_flight", metric_type::gauge).series(0, 0).ops({{op_code::inc, 0, 3}});
    c.family(1, "done_total", metric_type::counter).series(1, 1).ops({{op_code::inc, 1, 4}});
    {
        ingest_handler keep(s, 10);
        client_bytes k;
        k.hello()
            .family(0, "in_flight", metric_type::gauge)
            .series(0, 0)
            .ops({{op_code::inc, 0, 1}});
        run(keep, k.b);
        {
            ingest_handler gone(s, 11);
            run(gone, c.b);
            const auto& fam = *s.families().find("in_flight")->second;
            EXPECT_EQ(*combined_value(fam.all_series().begin()->second, gauge_mode::livesum), 4);
        }
        const auto& fam = *s.families().find("in_flight")->second;
        EXPECT_EQ(*combined_value(fam.all_series().begin()->second, gauge_mode::livesum), 1);
        EXPECT_EQ(counter_value(s, "done_total"), 4);
    }
    EXPECT_EQ(s.live_workers(), 0u);
}

TEST_F(ingest, handle_above_daemon_limit) {
    ingest_limits limits;
    limits.max_series_handle = 100;
    ingest_handler h(s, 1, limits);
    client_bytes c;
    c.hello().family(0, "c_total", metric_type::counter).series(101, 0);
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(std::get<protocol::welcome>(r[0]).max_series_handle, 100u);
    EXPECT_EQ(std::get<protocol::error>(r[1]).code, error_code::handle_out_of_range);
}

TEST_F(ingest, garbage_after_good_frames_keeps_what_was_applied) {
    ingest_handler h(s, 1);
    client_bytes c;
    c.hello().family(0, "c_total", metric_type::counter).series(0, 0).ops({{op_code::inc, 0, 7}});
    c.b += std::string("\x10\x00\x00\x00\x03\x00\xff\xff", 8); // reserved header bytes set
    auto r = run(h, c.b, false);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(std::get<protocol::error>(r[1]).code, error_code::bad_frame_header);
    EXPECT_EQ(counter_value(s, "c_total"), 7);
}

// Issue 11 item 1: a 44-byte DECLARE_SERIES naming the largest series handle for a family never
// declared used to grow the series table to 1 048 576 slots (32 MiB) before the family was
// checked. Now it is one ERROR and one sparse entry (the handle becomes rejected).
TEST_F(ingest, largest_series_handle_on_undeclared_family_errors_and_stays_small) {
    ingest_handler h(s, 1);
    const auto before = h.handle_table_bytes();
    client_bytes c;
    c.hello()
        .series(protocol::limits::max_series_handle, 7)
        .ops({{op_code::inc, protocol::limits::max_series_handle, 1}})
        .sync(1);
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 3u);
    ASSERT_TRUE(std::holds_alternative<protocol::error>(r[1]));
    EXPECT_EQ(std::get<protocol::error>(r[1]).code, error_code::unknown_family);
    EXPECT_EQ(std::get<protocol::error>(r[1]).handle, protocol::limits::max_series_handle);
    EXPECT_EQ(texts[0], "family handle 7 was never declared");
    EXPECT_EQ(std::get<protocol::ack>(r[2]).token, 1u);
    // The handle is rejected (section 5): its op is dropped silently, not unknown_series.
    EXPECT_EQ(h.stats().ops_dropped, 1u);
    EXPECT_EQ(h.declared_handles(), 1u);
    EXPECT_EQ(before, 0u);
    EXPECT_LT(h.handle_table_bytes(), 1024u);
}

TEST_F(ingest, largest_family_and_series_handles_bind_without_dense_tables) {
    ingest_handler h(s, 1);
    client_bytes c;
    c.hello()
        .family(protocol::limits::max_family_handle, "top_total", metric_type::counter)
        .series(protocol::limits::max_series_handle, protocol::limits::max_family_handle)
        .ops({{op_code::inc, protocol::limits::max_series_handle, 5}})
        .sync(2);
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(std::get<protocol::ack>(r[1]).token, 2u);
    EXPECT_EQ(counter_value(s, "top_total"), 5);
    EXPECT_EQ(h.declared_handles(), 2u);
    EXPECT_LT(h.handle_table_bytes(), 1024u);
}

// Sparse handles cost per declared handle; dense ones stay in the vector (the OPS fast path).
TEST_F(ingest, handle_table_memory_follows_declared_handles_not_their_values) {
    constexpr std::uint32_t n = 2000;
    for (const std::uint32_t stride : {1u, 3u, 500u}) {
        store st;
        ingest_handler h(st, 1);
        client_bytes c;
        c.hello().family(0, "spread_total", metric_type::counter, {"i"});
        std::vector<std::string> values(n);
        std::vector<protocol::op_record> ops;
        for (std::uint32_t i = 0; i < n; ++i) {
            values[i] = std::to_string(i);
            c.series(i * stride, 0, {values[i]});
            ops.push_back({op_code::inc, i * stride, 1});
        }
        c.ops(ops).ops(ops).sync(3);
        auto r = run(h, c.b);
        ASSERT_EQ(r.size(), 2u) << stride;
        EXPECT_EQ(std::get<protocol::ack>(r[1]).token, 3u);
        EXPECT_EQ(h.stats().ops_applied, 2u * n) << stride;
        for (std::uint32_t i = 0; i < n; i += 97)
            EXPECT_EQ(counter_value(st, "spread_total", {values[i]}), 2) << stride << " " << i;
        EXPECT_EQ(h.declared_handles(), n + 1);
        // The bound documented in the README: <= 8 KiB + 208 B per declared series handle,
        // <= 4 KiB + 128 B per declared family handle.
        EXPECT_LE(h.handle_table_bytes(), 8192u + 4096u + 208u * n + 128u) << stride;
    }
}

// A handle first stored sparsely moves into the vector when the vector grows past it, and
// keeps its binding (and rejected handles keep theirs).
TEST_F(ingest, sparse_handles_survive_the_dense_table_growing_over_them) {
    ingest_handler h(s, 1);
    client_bytes c;
    c.hello()
        .family(0, "m_total", metric_type::counter, {"i"})
        .series(900, 0, {"high"})
        .series(901, 5); // rejected: family 5 never declared
    std::vector<std::string> values(600);
    for (std::uint32_t i = 0; i < 600; ++i) {
        values[i] = std::to_string(i);
        c.series(i, 0, {values[i]});
    }
    c.ops({{op_code::inc, 900, 4}, {op_code::inc, 901, 1}, {op_code::inc, 599, 2}}).sync(4);
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(std::get<protocol::error>(r[1]).code, error_code::unknown_family);
    EXPECT_EQ(std::get<protocol::ack>(r[2]).token, 4u);
    EXPECT_EQ(counter_value(s, "m_total", {"high"}), 4);
    EXPECT_EQ(counter_value(s, "m_total", {"599"}), 2);
    EXPECT_EQ(h.stats().ops_dropped, 1u);
    EXPECT_EQ(h.stats().ops_rejected, 0u);
    EXPECT_EQ(h.declared_handles(), 603u);
}

// Issue 11 item 8: the per-value limit alone lets 32 long values make one series cost tens of
// KiB; their total is limited before the store is asked.
TEST_F(ingest, series_over_the_label_bytes_limit_is_refused_before_the_store) {
    ingest_limits limits;
    limits.max_series_label_bytes = 100;
    ingest_handler h(s, 1, limits);
    const std::string fifty(50, 'a');
    const std::string fifty_one(51, 'b');
    client_bytes c;
    c.hello()
        .family(0, "paths_total", metric_type::counter, {"a", "b"})
        .series(0, 0, {fifty, fifty})      // 100 bytes: at the limit
        .series(1, 0, {fifty, fifty_one})  // 101 bytes: over it
        .ops({{op_code::inc, 0, 1}, {op_code::inc, 1, 1}})
        .sync(3);
    auto r = run(h, c.b);
    ASSERT_EQ(r.size(), 3u);
    const auto& e = std::get<protocol::error>(r[1]);
    EXPECT_EQ(e.code, error_code::invalid_label_value);
    EXPECT_EQ(e.handle, 1u);
    EXPECT_EQ(texts[0], "label values of series handle 1 total 101 bytes; the limit is 100");
    EXPECT_EQ(std::get<protocol::ack>(r[2]).token, 3u);
    EXPECT_EQ(s.series_count(), 1u);
    EXPECT_EQ(h.stats().ops_applied, 1u);
    EXPECT_EQ(h.stats().ops_dropped, 1u); // the refused handle's op, as for any refused series
}

// Issue 11 item 8: a connection's handle tables stop at its byte budget; the client is told
// and the connection closes; what it sent before stays applied.
TEST_F(ingest, handle_tables_stop_at_the_connection_budget) {
    ingest_limits limits;
    limits.max_connection_bytes = 64 * 1024;
    ingest_handler h(s, 1, limits);
    client_bytes c;
    c.hello().family(0, "many_total", metric_type::counter, {"i"});
    run(h, c.b);
    // In reads of 100 declarations (~2 KiB), as a socket would deliver them.
    std::vector<std::string> values(8192);
    std::vector<protocol::message> r;
    for (std::uint32_t i = 0; i < values.size() && r.empty(); i += 100) {
        client_bytes part;
        for (std::uint32_t k = i; k < i + 100; ++k) {
            values[k] = std::to_string(k);
            part.series(k, 0, {values[k]});
        }
        h.feed(part.b);
        if (!h.process())
            r = replies(h.output(), texts);
    }
    ASSERT_EQ(r.size(), 1u);
    const auto& e = std::get<protocol::error>(r[0]);
    EXPECT_EQ(e.code, error_code::connection_memory_limit);
    EXPECT_TRUE(texts[0].ends_with(" bytes (input, output, handles); the limit is 65536"))
        << texts[0];
    // Refused once the tables passed the budget: more than a thousand handles, not all.
    EXPECT_GT(h.declared_handles(), 1000u);
    EXPECT_LT(h.declared_handles(), values.size());
    EXPECT_GT(h.handle_table_bytes(), 32 * 1024u);
    EXPECT_EQ(s.series_count() + 1, h.declared_handles()); // + the family
    EXPECT_EQ(h.stats().errors[static_cast<std::size_t>(error_code::connection_memory_limit)],
              1u);
}

} // namespace
} // namespace metricsd::daemon

namespace metricsd::daemon {
namespace {

// What a connection's bindings cost the store (a gauge slot, its place in the bound-series
// set) is the connection's to pay: counted in memory_bytes, so max_connection_bytes and
// max_ingest_bytes bound it, and the store's byte budget holds only the series themselves.
TEST_F(ingest, bindings_charge_the_connection_for_what_they_cost_the_store) {
    ingest_handler h(s, 1);
    const auto store_side = [&] {
        return h.memory_bytes() - h.input_capacity() - h.output().capacity() -
               h.handle_table_bytes();
    };
    client_bytes c;
    c.hello()
        .family(0, "c_total", metric_type::counter, {"k"})
        .family(1, "g", metric_type::gauge, {"k"})
        .series(0, 0, {"a"})
        .series(1, 0, {"b"})
        .sync(1);
    ASSERT_EQ(run(h, c.b).size(), 2u);
    EXPECT_EQ(store_side(), 21u + 21);
    client_bytes g;
    g.series(2, 1, {"a"}).series(2, 1, {"a"}).sync(2); // the same binding again: nothing more
    ASSERT_EQ(run(h, g.b).size(), 1u);
    EXPECT_EQ(store_side(), 21u + 21 + 125);
}

} // namespace
} // namespace metricsd::daemon

// The pure middle of the Redis backend: changed series -> deltas against what earlier flushes
// wrote (per type and gauge mode), settling a flush either way, and the scrape view that merges
// a snapshot with the deltas not flushed yet.
#include "daemon/redis/redis_flush_ledger.hpp"
#include "daemon/redis/redis_view.hpp"
#include "redis_support.hpp"
#include "store_fixture.hpp"

#include <gtest/gtest.h>

namespace metricsd::daemon {
namespace {

using protocol::gauge_mode;
using protocol::metric_type;
using protocol::op_code;
using strings = std::vector<std::string>;
using kind = series_delta::kind;

struct delta_view {
    std::string family;
    strings labels;
    kind op;
    double value;
    bool live = false;
};

std::vector<delta_view> summarize(const std::vector<series_delta>& deltas) {
    std::vector<delta_view> out;
    for (const auto& d : deltas)
        out.push_back({d.family->name, d.label_values, d.op, d.value, d.live});
    return out;
}

bool operator==(const delta_view& a, const delta_view& b) {
    return a.family == b.family && a.labels == b.labels && a.op == b.op && a.value == b.value &&
           a.live == b.live;
}
void PrintTo(const delta_view& d, std::ostream* os) {
    *os << d.family << " op " << static_cast<int>(d.op) << " " << d.value
        << (d.live ? " live" : "");
}

constexpr std::int64_t now_ms = 1'700'000'000'000;

class redis_delta : public ::testing::Test {
protected:
    const family* declare(test::family_args a) { return test::declare(st, a).value(); }
    flush_batch flush() {
        flush_batch b;
        ledger.collect(b, now_ms);
        return b;
    }
    store st;
    flush_ledger ledger{st};
    worker_id w1 = st.add_worker(101);
    worker_id w2 = st.add_worker(102);
};

TEST_F(redis_delta, counter_sends_the_increase_since_the_last_applied_flush) {
    const auto* f = declare({"jobs_total", metric_type::counter, "", {"q"}});
    const auto b = test::bind(st, f, {"a"}, w1);
    // A new series is written once even at zero, so it exists in Redis.
    auto batch = flush();
    EXPECT_EQ(summarize(batch.deltas),
              (std::vector<delta_view>{{"jobs_total", {"a"}, kind::add, 0}}));
    ledger.settle_applied(batch);
    st.apply(b, op_code::inc, 2);
    st.apply(b, op_code::inc, 3);
    batch = flush();
    EXPECT_EQ(summarize(batch.deltas),
              (std::vector<delta_view>{{"jobs_total", {"a"}, kind::add, 5}}));
    // Ops while the flush is in flight are not lost; a failed flush goes out again whole.
    st.apply(b, op_code::inc, 1);
    ledger.settle_failed(batch);
    batch = flush();
    EXPECT_EQ(summarize(batch.deltas),
              (std::vector<delta_view>{{"jobs_total", {"a"}, kind::add, 6}}));
    st.apply(b, op_code::inc, 4);
    ledger.settle_applied(batch);
    EXPECT_EQ(summarize(flush().deltas),
              (std::vector<delta_view>{{"jobs_total", {"a"}, kind::add, 4}}));
}

TEST_F(redis_delta, nothing_changed_nothing_sent) {
    const auto* f = declare({"jobs_total", metric_type::counter, "", {}});
    test::bind(st, f, {}, w1);
    auto batch = flush();
    ledger.settle_applied(batch);
    EXPECT_TRUE(flush().empty());
}

TEST_F(redis_delta, histogram_sends_per_bucket_sum_and_count_deltas) {
    const auto* f = declare({"lat", metric_type::histogram, "", {}, {"0.1", "1.0"}});
    const auto b = test::bind(st, f, {}, w1);
    auto batch = flush();
    ledger.settle_applied(batch);
    st.apply(b, op_code::observe, 0.5);
    st.apply(b, op_code::observe, 7);
    batch = flush();
    ASSERT_EQ(batch.deltas.size(), 1u);
    EXPECT_EQ(batch.deltas[0].bucket_deltas, (std::vector<double>{0, 1, 1}));
    EXPECT_EQ(batch.deltas[0].sum, 7.5);
    EXPECT_EQ(batch.deltas[0].count, 2);
}

TEST_F(redis_delta, sum_gauge_adds_the_change_of_this_daemons_contribution) {
    const auto* f = declare({"queued", metric_type::gauge, "", {}, {}, gauge_mode::sum});
    const auto b1 = test::bind(st, f, {}, w1);
    const auto b2 = test::bind(st, f, {}, w2);
    st.apply(b1, op_code::set, 3);
    st.apply(b2, op_code::inc, 4);
    auto batch = flush();
    EXPECT_EQ(summarize(batch.deltas), (std::vector<delta_view>{{"queued", {}, kind::add, 7}}));
    ledger.settle_applied(batch);
    st.retire_worker(w2); // sum keeps a retired worker's value
    st.apply(b1, op_code::dec, 1);
    EXPECT_EQ(summarize(flush().deltas), (std::vector<delta_view>{{"queued", {}, kind::add, -1}}));
}

TEST_F(redis_delta, livesum_sets_this_daemons_own_live_contribution) {
    const auto* f = declare({"inflight", metric_type::gauge, "", {}, {}, gauge_mode::livesum});
    const auto b1 = test::bind(st, f, {}, w1);
    const auto b2 = test::bind(st, f, {}, w2);
    st.apply(b1, op_code::set, 3);
    st.apply(b2, op_code::inc, 4);
    auto batch = flush();
    EXPECT_EQ(summarize(batch.deltas),
              (std::vector<delta_view>{{"inflight", {}, kind::set, 7, true}}));
    ledger.settle_applied(batch);
    st.retire_worker(w2);
    batch = flush();
    EXPECT_EQ(summarize(batch.deltas),
              (std::vector<delta_view>{{"inflight", {}, kind::set, 3, true}}));
    ledger.settle_applied(batch);
    st.retire_worker(w1); // nothing in flight is a value: 0, not gone
    EXPECT_EQ(summarize(flush().deltas),
              (std::vector<delta_view>{{"inflight", {}, kind::set, 0, true}}));
}

TEST_F(redis_delta, livemostrecent_stamps_a_value_when_it_changes_not_when_rewritten) {
    const auto* f = declare({"last", metric_type::gauge, "", {}, {}, gauge_mode::livemostrecent});
    const auto b = test::bind(st, f, {}, w1);
    st.apply(b, op_code::set, 5);
    flush_batch batch;
    ledger.collect(batch, 1000);
    ASSERT_EQ(batch.deltas.size(), 1u);
    EXPECT_EQ(batch.deltas[0].stamp_ms, 1000);
    ledger.settle_applied(batch);
    ledger.mark_live_series(); // a lease renewal rewrites it
    ledger.collect(batch, 2000);
    ASSERT_EQ(batch.deltas.size(), 1u);
    EXPECT_EQ(batch.deltas[0].stamp_ms, 1000);
    ledger.settle_applied(batch);
    st.apply(b, op_code::set, 6);
    ledger.collect(batch, 3000);
    ASSERT_EQ(batch.deltas.size(), 1u);
    EXPECT_EQ(batch.deltas[0].stamp_ms, 3000);
}

TEST_F(redis_delta, shared_gauge_sets_after_a_set_and_adds_otherwise) {
    const auto* f = declare({"temp", metric_type::gauge, "", {}, {}, gauge_mode::shared});
    const auto b = test::bind(st, f, {}, w1);
    st.apply(b, op_code::set, 20);
    st.apply(b, op_code::inc, 1.5);
    auto batch = flush();
    EXPECT_EQ(summarize(batch.deltas), (std::vector<delta_view>{{"temp", {}, kind::set, 21.5}}));
    ledger.settle_applied(batch);
    st.apply(b, op_code::dec, 0.5);
    batch = flush();
    EXPECT_EQ(summarize(batch.deltas), (std::vector<delta_view>{{"temp", {}, kind::add, -0.5}}));
    // A failed flush that owed a SET still owes it.
    ledger.settle_applied(batch);
    st.apply(b, op_code::set, 5);
    batch = flush();
    ledger.settle_failed(batch);
    EXPECT_EQ(summarize(flush().deltas), (std::vector<delta_view>{{"temp", {}, kind::set, 5}}));
}

TEST_F(redis_delta, livemax_sets_the_combined_value_and_removes_it_when_nobody_is_left) {
    const auto* f = declare({"peak", metric_type::gauge, "", {}, {}, gauge_mode::livemax});
    const auto b1 = test::bind(st, f, {}, w1);
    const auto b2 = test::bind(st, f, {}, w2);
    st.apply(b1, op_code::set, 3);
    st.apply(b2, op_code::set, 9);
    auto batch = flush();
    EXPECT_EQ(summarize(batch.deltas), (std::vector<delta_view>{{"peak", {}, kind::set, 9, true}}));
    ledger.settle_applied(batch);
    st.retire_worker(w2);
    batch = flush();
    EXPECT_EQ(summarize(batch.deltas), (std::vector<delta_view>{{"peak", {}, kind::set, 3, true}}));
    ledger.settle_applied(batch);
    st.retire_worker(w1);
    EXPECT_EQ(summarize(flush().deltas),
              (std::vector<delta_view>{{"peak", {}, kind::remove, 0, true}}));
}

TEST_F(redis_delta, liveall_writes_one_field_per_pid_and_deletes_the_pid_that_left) {
    const auto* f = declare({"rss", metric_type::gauge, "", {"app"}, {}, gauge_mode::liveall});
    const auto b1 = test::bind(st, f, {"x"}, w1);
    const auto b2 = test::bind(st, f, {"x"}, w2);
    st.apply(b1, op_code::set, 10);
    st.apply(b2, op_code::set, 20);
    auto batch = flush();
    EXPECT_EQ(summarize(batch.deltas),
              (std::vector<delta_view>{{"rss", {"x", "101"}, kind::set, 10, true},
                                       {"rss", {"x", "102"}, kind::set, 20, true}}));
    ledger.settle_applied(batch);
    st.retire_worker(w1);
    EXPECT_EQ(summarize(flush().deltas),
              (std::vector<delta_view>{{"rss", {"x", "101"}, kind::remove, 0, true},
                                       {"rss", {"x", "102"}, kind::set, 20, true}}));
}

TEST_F(redis_delta, every_changed_series_is_listed_once) {
    const auto* f = declare({"c_total", metric_type::counter, "", {"i"}});
    std::vector<binding> bs;
    for (int i = 0; i < 1000; ++i)
        bs.push_back(test::bind(st, f, {std::to_string(i)}, w1));
    auto batch = flush();
    ledger.settle_applied(batch);
    const auto capacity = st.dirty_series().size();
    for (int round = 0; round < 3; ++round)
        for (const auto& b : bs)
            st.apply(b, op_code::inc, 1);
    EXPECT_EQ(st.dirty_series().size(), 1000u);
    EXPECT_EQ(capacity, 0u);
    batch = flush();
    ASSERT_EQ(batch.deltas.size(), 1000u);
    EXPECT_EQ(batch.deltas[999].value, 3);
}

TEST_F(redis_delta, a_flush_takes_at_most_its_limit_and_leaves_the_rest_changed) {
    const auto* f = declare({"c_total", metric_type::counter, "", {"i"}});
    for (int i = 0; i < 5; ++i)
        test::bind(st, f, {std::to_string(i)}, w1);
    flush_batch batch;
    ledger.collect(batch, now_ms, 3);
    EXPECT_EQ(batch.deltas.size(), 3u);
    EXPECT_EQ(st.dirty_series().size(), 2u);
    ledger.settle_applied(batch);
    ledger.collect(batch, now_ms, 3);
    EXPECT_EQ(batch.deltas.size(), 2u);
    EXPECT_TRUE(st.dirty_series().empty());
}

TEST_F(redis_delta, expiry_keeps_a_series_until_its_flush_settles_then_drops_its_record) {
    series_ttl_policy ttl;
    ttl.default_ttl = std::chrono::seconds(10);
    st.set_series_ttl(ttl);
    const auto* f = declare({"c_total", metric_type::counter, "", {"k"}});
    test::bind(st, f, {"a"}, w1);
    auto batch = flush(); // in flight: the store holds the series for the ledger
    EXPECT_EQ(ledger.size(), 1u);
    st.retire_worker(w1);
    const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    st.expire_idle_series(t0);
    EXPECT_EQ(st.expire_idle_series(t0 + std::chrono::seconds(10)), 0u);
    EXPECT_EQ(st.series_count(), 1u);
    ledger.settle_applied(batch);
    EXPECT_EQ(st.expire_idle_series(t0 + std::chrono::seconds(20)), 1u);
    EXPECT_EQ(st.series_count(), 0u);
    EXPECT_EQ(ledger.size(), 0u); // the erase hook dropped its record
}

TEST_F(redis_delta, early_flush_alarm_fires_at_the_threshold) {
    const auto* f = declare({"c_total", metric_type::counter, "", {"i"}});
    int alarms = 0;
    st.set_dirty_alarm(3, [&]() noexcept { ++alarms; });
    for (int i = 0; i < 5; ++i)
        test::bind(st, f, {std::to_string(i)}, w1);
    EXPECT_EQ(alarms, 1);
    st.set_dirty_alarm(0, {});
}

/// Empty snapshot tables for the families selected (of their live keys with `live`).
std::vector<series_table> tables(const scrape_selection& selected, bool live = false) {
    std::vector<series_table> out;
    for (const auto* spec : selected.families)
        out.push_back(table_for(*spec, live));
    return out;
}

/// One series' numbers (a row's columns) in a hand-made snapshot table.
void put(series_table& t, const strings& labels, std::initializer_list<double> cells,
         std::int64_t stamp_ms = 0) {
    const auto row = t.row_of_labels(labels);
    std::size_t column = 0;
    for (const double v : cells)
        t.set(row, column++, v);
    if (t.kind() == series_table::layout::live)
        t.stamp(row) = stamp_ms;
}

TEST_F(redis_delta, view_merges_snapshot_and_pending_and_keeps_remote_families) {
    const auto* f = declare({"jobs_total", metric_type::counter, "Jobs.", {"q"}});
    const auto b = test::bind(st, f, {"a"}, w1);
    auto batch = flush();
    ledger.settle_applied(batch);
    st.apply(b, op_code::inc, 2); // not flushed yet
    meta_read meta;
    meta.ok = true;
    meta.families.push_back(test_support::make("remote_total", metric_type::counter, {}));
    // A record that disagrees with our declaration: reported, ours is exported.
    meta.families.push_back(test_support::make("jobs_total", metric_type::counter, {"other"}));
    const auto selected = select_families(st, meta);
    ASSERT_EQ(selected.families.size(), 2u);
    ASSERT_EQ(selected.conflicts.size(), 1u);
    EXPECT_TRUE(selected.conflicts[0].starts_with("jobs_total: ")) << selected.conflicts[0];
    scrape_result snap;
    snap.ok = true;
    snap.families = tables(selected);
    put(snap.families[0], {"a"}, {40}); // jobs_total (ordered by name)
    put(snap.families[1], {}, {7});     // remote_total
    std::vector<series_delta> pending;
    ledger.pending_deltas(now_ms, pending);
    const redis_view view(selected, std::move(snap), pending);
    std::string out;
    view.render(exposition_format::text, out);
    EXPECT_EQ(out, "# HELP jobs_total Jobs.\n"
                   "# TYPE jobs_total counter\n"
                   "jobs_total{q=\"a\"} 42\n"
                   "# HELP remote_total help\n"
                   "# TYPE remote_total counter\n"
                   "remote_total 7\n");
}

TEST_F(redis_delta, view_combines_live_gauges_over_daemons_by_mode) {
    const auto* sum = declare({"inflight", metric_type::gauge, "", {}, {}, gauge_mode::livesum});
    declare({"peak", metric_type::gauge, "", {}, {}, gauge_mode::livemax});
    declare({"recent", metric_type::gauge, "", {}, {}, gauge_mode::livemostrecent});
    const auto b = test::bind(st, sum, {}, w1);
    st.apply(b, op_code::set, 2); // pending: our contribution is 2, not the 9 Redis still has
    meta_read meta;
    meta.ok = true;
    const auto selected = select_families(st, meta); // inflight, peak, recent
    scrape_result snap;
    snap.ok = true;
    snap.families = tables(selected);
    put(snap.families[0], {}, {1}); // a pytheus-style writer in the data key
    snap.live.resize(2);
    snap.live[0] = {"me", true, tables(selected, true)};
    put(snap.live[0].families[0], {}, {9}, 1);
    put(snap.live[0].families[1], {}, {4}, 1);
    snap.live[1] = {"other", true, tables(selected, true)};
    put(snap.live[1].families[0], {}, {5}, 1);
    put(snap.live[1].families[1], {}, {7}, 1);
    put(snap.live[1].families[2], {}, {8}, 50);
    std::vector<series_delta> pending;
    ledger.pending_deltas(now_ms, pending);
    const redis_view view(selected, std::move(snap), pending, "me");
    std::string out;
    view.render(exposition_format::text, out);
    EXPECT_EQ(out, "# TYPE inflight gauge\n"
                   "inflight 8\n"
                   "# TYPE peak gauge\n"
                   "peak 7\n"
                   "# TYPE recent gauge\n"
                   "recent 8\n");
}

TEST_F(redis_delta, view_renders_histograms_from_cumulative_cells_and_gauges_per_pid) {
    declare({"lat", metric_type::histogram, "", {}, {"0.1", "1.0"}});
    declare({"rss", metric_type::gauge, "", {}, {}, gauge_mode::liveall});
    meta_read meta;
    meta.ok = true;
    const auto selected = select_families(st, meta);
    scrape_result snap;
    snap.ok = true;
    snap.families = tables(selected);
    put(snap.families[0], {}, {1, 3, 4, 9.5, 4}); // cumulative buckets, +Inf, sum, count
    put(snap.families[1], {"77"}, {5});
    const redis_view view(selected, std::move(snap), {});
    std::string out;
    view.render(exposition_format::text, out);
    EXPECT_EQ(out, "# TYPE lat histogram\n"
                   "lat_bucket{le=\"0.1\"} 1\n"
                   "lat_bucket{le=\"1.0\"} 3\n"
                   "lat_bucket{le=\"+Inf\"} 4\n"
                   "lat_sum 9.5\n"
                   "lat_count 4\n"
                   "# TYPE rss gauge\n"
                   "rss{pid=\"77\"} 5\n");
}

} // namespace
} // namespace metricsd::daemon

// Series expiry (series_ttl): which series a sweep erases, resets or keeps, what the exposition
// shows afterwards, the limits and the dirty list; the policy's text form and sweep period; the
// config key in the file, the environment and the flags; the self-metric.
#include "daemon/exposition/store_exposition.hpp"
#include "daemon/store/series_expiry.hpp"
#include "daemon/store/store.hpp"
#include "series_expiry_fixture.hpp"
#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace metricsd::test {
namespace {

using daemon::series_ttl_policy;
using protocol::error_code;
using protocol::gauge_mode;
using protocol::metric_type;
using protocol::op_code;
using std::chrono::seconds;

series_ttl_policy ttl(int default_s, std::map<std::string, seconds, std::less<>> families = {}) {
    return {seconds(default_s), std::move(families)};
}

void apply(daemon::store& s, const daemon::binding& b, op_code op, double v) {
    ASSERT_EQ(s.apply(b, op, v), daemon::apply_status::ok);
}

/// True when every pointer on the dirty list is a series the store holds.
bool dirty_list_is_sound(const daemon::store& s) {
    for (const daemon::series* d : s.dirty_series()) {
        bool found = false;
        for (const auto& [name, f] : s.families())
            for (const auto& [values, ser] : f->all_series())
                found = found || &ser == d;
        if (!found)
            return false;
    }
    return true;
}

TEST(series_ttl_store, idle_unbound_series_is_erased_after_its_ttl) {
    daemon::store s;
    s.set_series_ttl(ttl(10));
    const auto w = s.add_worker(100);
    const auto* c = must_declare(s, {"jobs_total", metric_type::counter, "", {"queue"}});
    apply(s, bind(s, c, {"mail"}, w), op_code::inc, 5);
    s.retire_worker(w);
    EXPECT_EQ(s.expire_idle_series(at(0)), 0u); // the op happened by now: idle from here
    EXPECT_EQ(s.expire_idle_series(at(9)), 0u);
    EXPECT_EQ(samples(s, "jobs_total"), "jobs_total{queue=\"mail\"} 5\n");
    EXPECT_EQ(s.expire_idle_series(at(10)), 1u);
    EXPECT_EQ(s.series_count(), 0u);
    EXPECT_TRUE(c->all_series().empty());
    EXPECT_EQ(samples(s, "jobs_total"), "");
    EXPECT_EQ(s.expired_series_total(), 1u);
    // A new op re-creates it from zero.
    const auto w2 = s.add_worker(101);
    apply(s, bind(s, c, {"mail"}, w2), op_code::inc, 1);
    EXPECT_EQ(samples(s, "jobs_total"), "jobs_total{queue=\"mail\"} 1\n");
}

TEST(series_ttl_store, ops_keep_a_series_and_the_ttl_runs_from_the_sweep_after_the_last_op) {
    daemon::store s;
    s.set_series_ttl(ttl(10));
    const auto w = s.add_worker(100);
    const auto* c = must_declare(s, {"jobs_total", metric_type::counter});
    const auto b = bind(s, c, {}, w);
    for (int t = 0; t <= 60; t += 5) {
        apply(s, b, op_code::inc, 1);
        EXPECT_EQ(s.expire_idle_series(at(t)), 0u) << t;
    }
    // Last op before the sweep at 60: still there at 69, gone at 70 (once unbound).
    s.retire_worker(w);
    EXPECT_EQ(s.expire_idle_series(at(69)), 0u);
    EXPECT_EQ(samples(s, "jobs_total"), "jobs_total 13\n");
    EXPECT_EQ(s.expire_idle_series(at(70)), 1u);
    EXPECT_EQ(s.series_count(), 0u);
}

TEST(series_ttl_store, a_new_series_counts_as_active_until_the_first_sweep) {
    daemon::store s;
    s.set_series_ttl(ttl(10));
    const auto w = s.add_worker(100);
    const auto* c = must_declare(s, {"c_total", metric_type::counter});
    bind(s, c, {}, w);
    s.retire_worker(w);
    EXPECT_EQ(s.expire_idle_series(at(100)), 0u); // declared, never written: idle from 100
    EXPECT_EQ(s.expire_idle_series(at(109)), 0u);
    EXPECT_EQ(s.expire_idle_series(at(110)), 1u);
}

TEST(series_ttl_store, per_family_ttl_overrides_the_default) {
    daemon::store s;
    const auto w = s.add_worker(100);
    // Declared before the policy is set: the policy reaches existing families too.
    const auto* fast = must_declare(s, {"fast_total", metric_type::counter});
    s.set_series_ttl(ttl(10, {{"keep_total", seconds(0)}, {"slow_total", seconds(100)}}));
    const auto* keep = must_declare(s, {"keep_total", metric_type::counter});
    const auto* slow = must_declare(s, {"slow_total", metric_type::counter});
    EXPECT_EQ(fast->ttl(), seconds(10));
    EXPECT_EQ(keep->ttl(), seconds(0));
    EXPECT_EQ(slow->ttl(), seconds(100));
    for (const auto* f : {fast, keep, slow})
        apply(s, bind(s, f, {}, w), op_code::inc, 1);
    s.retire_worker(w);
    EXPECT_EQ(s.expire_idle_series(at(0)), 0u);
    EXPECT_EQ(s.expire_idle_series(at(10)), 1u);
    EXPECT_TRUE(fast->all_series().empty());
    EXPECT_EQ(s.expire_idle_series(at(99)), 0u);
    EXPECT_EQ(s.expire_idle_series(at(100)), 1u);
    EXPECT_TRUE(slow->all_series().empty());
    EXPECT_EQ(s.expire_idle_series(at(1'000'000)), 0u);
    EXPECT_EQ(keep->all_series().size(), 1u);
}

TEST(series_ttl_store, bound_series_is_reset_and_hidden_then_back_with_only_new_values) {
    daemon::store s;
    s.set_series_ttl(ttl(10));
    const auto w = s.add_worker(100);
    const auto* c = must_declare(s, {"c_total", metric_type::counter, "", {"k"}});
    const auto* h = must_declare(s, {"h", metric_type::histogram, "", {}, {"0.5", "1", "5"}});
    const auto* sm = must_declare(s, {"sm", metric_type::summary});
    const auto bc = bind(s, c, {"a"}, w);
    const auto bh = bind(s, h, {}, w);
    const auto bs = bind(s, sm, {}, w);
    apply(s, bc, op_code::inc, 5);
    apply(s, bh, op_code::observe, 0.7);
    apply(s, bs, op_code::observe, 2);
    EXPECT_EQ(s.expire_idle_series(at(0)), 0u);
    EXPECT_EQ(s.expire_idle_series(at(10)), 3u);
    EXPECT_EQ(s.series_count(), 3u); // still held by the worker: kept, but hidden
    EXPECT_EQ(samples(s, "c_total") + samples(s, "h") + samples(s, "sm"), "");
    EXPECT_NE(render(s).find("# TYPE c_total counter\n"), std::string::npos);
    EXPECT_EQ(s.expire_idle_series(at(20)), 0u); // hidden already: not counted again
    EXPECT_EQ(s.expired_series_total(), 3u);

    apply(s, bc, op_code::inc, 2);
    apply(s, bh, op_code::observe, 3);
    apply(s, bs, op_code::observe, 4);
    EXPECT_EQ(samples(s, "c_total"), "c_total{k=\"a\"} 2\n");
    EXPECT_EQ(samples(s, "h"), "h_bucket{le=\"0.5\"} 0\nh_bucket{le=\"1.0\"} 0\n"
                               "h_bucket{le=\"5.0\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\n"
                               "h_count 1\n");
    EXPECT_EQ(samples(s, "sm"), "sm_sum 4\nsm_count 1\n");

    // Idle again: expires again (a second expiry); once the worker is gone, it is erased
    // without being counted a third time.
    EXPECT_EQ(s.expire_idle_series(at(21)), 0u);
    EXPECT_EQ(s.expire_idle_series(at(31)), 3u);
    s.retire_worker(w);
    EXPECT_EQ(s.expire_idle_series(at(32)), 0u);
    EXPECT_EQ(s.series_count(), 0u);
    EXPECT_EQ(s.expired_series_total(), 6u);
}

TEST(series_ttl_store, gauge_slots_and_retired_values_are_reset_too) {
    daemon::store s;
    s.set_series_ttl(ttl(10));
    const auto w1 = s.add_worker(100);
    const auto w2 = s.add_worker(200);
    const auto w3 = s.add_worker(300);
    const auto* live = must_declare(s, {"in_flight", metric_type::gauge});
    const auto* sum = must_declare(s, {"total", metric_type::gauge, "", {}, {}, gauge_mode::sum});
    const auto* all = must_declare(s, {"per", metric_type::gauge, "", {}, {}, gauge_mode::all});
    const auto* shared =
        must_declare(s, {"shared", metric_type::gauge, "", {}, {}, gauge_mode::shared});
    const auto l1 = bind(s, live, {}, w1), l2 = bind(s, live, {}, w2);
    const auto s1 = bind(s, sum, {}, w1), s3 = bind(s, sum, {}, w3);
    const auto a1 = bind(s, all, {}, w1), a3 = bind(s, all, {}, w3);
    const auto sh = bind(s, shared, {}, w1);
    apply(s, l1, op_code::inc, 3);
    apply(s, l2, op_code::inc, 4);
    apply(s, s1, op_code::set, 10);
    apply(s, s3, op_code::set, 20);
    apply(s, a1, op_code::set, 1);
    apply(s, a3, op_code::set, 3);
    apply(s, sh, op_code::set, 9);
    s.retire_worker(w3); // its values stay in `total` and `per` as retired ones
    EXPECT_EQ(samples(s, "total"), "total 30\n");
    EXPECT_EQ(s.expire_idle_series(at(0)), 0u);
    EXPECT_EQ(s.expire_idle_series(at(10)), 4u);
    EXPECT_EQ(samples(s, "in_flight") + samples(s, "total") + samples(s, "per") +
                  samples(s, "shared"),
              "");
    apply(s, l2, op_code::inc, 1);
    apply(s, s1, op_code::inc, 2);
    apply(s, a1, op_code::set, 5);
    apply(s, sh, op_code::inc, 1);
    EXPECT_EQ(samples(s, "in_flight"), "in_flight 1\n");
    EXPECT_EQ(samples(s, "total"), "total 2\n");
    EXPECT_EQ(samples(s, "per"), "per{pid=\"100\"} 5\n");
    EXPECT_EQ(samples(s, "shared"), "shared 1\n");
}

TEST(series_ttl_store, expired_series_free_the_limits) {
    daemon::store_limits limits;
    limits.max_series_total = 2;
    limits.max_series_per_family = 2;
    daemon::store s(limits);
    s.set_series_ttl(ttl(10));
    const auto w = s.add_worker(100);
    const auto* c = must_declare(s, {"c_total", metric_type::counter, "", {"k"}});
    bind(s, c, {"a"}, w);
    bind(s, c, {"b"}, w);
    const std::vector<std::string_view> third{"c"};
    auto refused = s.declare_series(c, third, w);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, error_code::family_series_limit);
    s.retire_worker(w);
    s.expire_idle_series(at(0));
    EXPECT_EQ(s.expire_idle_series(at(10)), 2u);
    const auto w2 = s.add_worker(101);
    EXPECT_TRUE(s.declare_series(c, third, w2));
    const std::vector<std::string_view> fourth{"d"};
    EXPECT_TRUE(s.declare_series(c, fourth, w2));
    EXPECT_EQ(s.series_count(), 2u);
}

TEST(series_ttl_store, dirty_list_keeps_no_pointer_to_an_erased_series) {
    daemon::store s; // memory backend: nobody takes the dirty list
    s.set_series_ttl(ttl(10, {{"kept_total", seconds(0)}}));
    const auto w = s.add_worker(100);
    const auto* gone = must_declare(s, {"gone_total", metric_type::counter, "", {"k"}});
    const auto* kept = must_declare(s, {"kept_total", metric_type::counter, "", {"k"}});
    for (const char* v : {"a", "b", "c"}) {
        apply(s, bind(s, gone, {v}, w), op_code::inc, 1);
        apply(s, bind(s, kept, {v}, w), op_code::inc, 1);
    }
    s.retire_worker(w);
    EXPECT_EQ(s.dirty_series().size(), 6u);
    s.expire_idle_series(at(0));
    EXPECT_EQ(s.expire_idle_series(at(10)), 3u);
    EXPECT_EQ(s.dirty_series().size(), 3u);
    EXPECT_TRUE(dirty_list_is_sound(s));
    // New series and ops after the erasure land on the list as before.
    const auto w2 = s.add_worker(101);
    apply(s, bind(s, gone, {"d"}, w2), op_code::inc, 1);
    EXPECT_EQ(s.dirty_series().size(), 4u);
    EXPECT_TRUE(dirty_list_is_sound(s));
}

TEST(series_ttl_store, a_worker_bound_twice_to_a_series_counts_once) {
    daemon::store s;
    s.set_series_ttl(ttl(10));
    const auto w = s.add_worker(100);
    const auto* c = must_declare(s, {"c_total", metric_type::counter});
    const auto b1 = bind(s, c, {}, w);
    const auto b2 = bind(s, c, {}, w); // a second handle to the same series
    EXPECT_EQ(b1.target, b2.target);
    EXPECT_EQ(b1.target->bound_workers, 1u);
    const auto other = s.add_worker(200);
    bind(s, c, {}, other);
    EXPECT_EQ(b1.target->bound_workers, 2u);
    s.retire_worker(w);
    s.retire_worker(other);
    s.expire_idle_series(at(0));
    EXPECT_EQ(s.expire_idle_series(at(10)), 1u);
    EXPECT_EQ(s.series_count(), 0u);
}

TEST(series_ttl_store, changes_consumed_keeps_changed_in_flight_and_bound_series) {
    daemon::store s;
    s.set_changes_consumed(true); // the Redis backend
    s.set_series_ttl(ttl(10));
    const auto w = s.add_worker(100);
    const auto holder = s.add_worker(200);
    const auto* c = must_declare(s, {"c_total", metric_type::counter, "", {"k"}});
    const auto changed = bind(s, c, {"changed"}, w);
    const auto inflight = bind(s, c, {"inflight"}, w);
    const auto held = bind(s, c, {"held"}, holder);
    for (const auto& b : {changed, inflight, held})
        apply(s, b, op_code::inc, 1);
    s.retire_worker(w);
    std::vector<daemon::series_change> taken;
    s.take_dirty(taken);      // a flush takes everything...
    s.hold(*inflight.target); // ...and one series' flush is still unanswered
    apply(s, held, op_code::inc, 1);
    s.take_dirty(taken);
    s.mark_dirty(*changed.target); // e.g. a failed flush gave it back
    EXPECT_EQ(s.expire_idle_series(at(0)), 0u);
    EXPECT_EQ(s.expire_idle_series(at(10)), 0u);
    EXPECT_EQ(s.series_count(), 3u);
    EXPECT_EQ(held.target->value, 2); // bound: never reset (that would be a negative delta)
    EXPECT_TRUE(daemon::is_visible(*held.target));

    s.take_dirty(taken);
    EXPECT_EQ(s.expire_idle_series(at(20)), 1u); // clean now: goes
    s.release(*inflight.target);                 // settled
    EXPECT_EQ(s.expire_idle_series(at(21)), 1u);
    EXPECT_EQ(s.series_count(), 1u);
    EXPECT_EQ(samples(s, "c_total"), "c_total{k=\"held\"} 2\n");
    s.retire_worker(holder);
    s.take_dirty(taken);
    EXPECT_EQ(s.expire_idle_series(at(22)), 1u);
    EXPECT_EQ(s.series_count(), 0u);
    EXPECT_TRUE(s.dirty_series().empty());
}

TEST(series_ttl_store, a_dirty_alarm_means_changes_are_consumed) {
    daemon::store s;
    s.set_dirty_alarm(100, [] {}); // what the Redis backend does
    s.set_series_ttl(ttl(10));
    const auto w = s.add_worker(100);
    const auto* c = must_declare(s, {"c_total", metric_type::counter});
    const auto b = bind(s, c, {}, w);
    apply(s, b, op_code::inc, 1);
    s.expire_idle_series(at(0));
    EXPECT_EQ(s.expire_idle_series(at(10)), 0u); // bound: neither reset nor hidden
    EXPECT_EQ(samples(s, "c_total"), "c_total 1\n");
}

TEST(series_ttl_store, families_without_ttl_are_never_swept) {
    daemon::store s; // no policy
    const auto w = s.add_worker(100);
    const auto* c = must_declare(s, {"c_total", metric_type::counter});
    bind(s, c, {}, w);
    s.retire_worker(w);
    EXPECT_EQ(s.expire_idle_series(at(0)), 0u);
    EXPECT_EQ(s.expire_idle_series(at(1'000'000)), 0u);
    EXPECT_EQ(s.series_count(), 1u);
    // Turned on later: the series' idle time starts at the first sweep that sees it.
    s.set_series_ttl(ttl(10));
    EXPECT_EQ(s.expire_idle_series(at(1'000'001)), 0u);
    EXPECT_EQ(s.expire_idle_series(at(1'000'011)), 1u);
}

TEST(series_ttl_policy, text_form_round_trips) {
    const auto p = daemon::parse_series_ttl(" http_requests_total=600, jobs:done=60 ,*=3600");
    EXPECT_EQ(p.default_ttl, seconds(3600));
    EXPECT_EQ(p.families.size(), 2u);
    EXPECT_EQ(p.ttl_for("http_requests_total"), seconds(600));
    EXPECT_EQ(p.ttl_for("jobs:done"), seconds(60));
    EXPECT_EQ(p.ttl_for("other"), seconds(3600));
    EXPECT_EQ(to_string(p), "http_requests_total=600,jobs:done=60,*=3600");
    EXPECT_EQ(daemon::parse_series_ttl(to_string(p)), p);
    EXPECT_EQ(daemon::parse_series_ttl(""), series_ttl_policy{});
    EXPECT_EQ(to_string(series_ttl_policy{}), "");
    EXPECT_EQ(to_string(daemon::parse_series_ttl("a=0,*=0")), "a=0");
    EXPECT_TRUE(p.enabled());
    EXPECT_FALSE(daemon::parse_series_ttl("a=0").enabled());
}

TEST(series_ttl_policy, text_form_errors_say_what_is_wrong) {
    auto error = [](std::string_view text) -> std::string {
        try {
            daemon::parse_series_ttl(text);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    };
    EXPECT_EQ(error("a"), "entry \"a\": expected NAME=SECONDS, or *=SECONDS for the default");
    EXPECT_EQ(error("a=1,"), "entry \"\": expected NAME=SECONDS, or *=SECONDS for the default");
    EXPECT_EQ(error("a=x"), "entry \"a=x\": seconds must be an integer from 0 to 31536000");
    EXPECT_EQ(error("a=-1"), "entry \"a=-1\": seconds must be an integer from 0 to 31536000");
    EXPECT_EQ(error("a=31536001"),
              "entry \"a=31536001\": seconds must be an integer from 0 to 31536000");
    EXPECT_EQ(error("1a=5"), "entry \"1a=5\": \"1a\" is not a valid metric name");
    EXPECT_EQ(error("a=1,a=2"), "family \"a\" is given twice");
    EXPECT_EQ(error("*=1,*=2"), "the default (*) is given twice");
}

TEST(series_ttl_policy, sweep_period_is_a_quarter_of_the_shortest_ttl_at_least_a_second) {
    EXPECT_EQ(daemon::sweep_period(ttl(0)), seconds(0));
    EXPECT_EQ(daemon::sweep_period(ttl(0, {{"a", seconds(0)}})), seconds(0));
    EXPECT_EQ(daemon::sweep_period(ttl(600)), seconds(150));
    EXPECT_EQ(daemon::sweep_period(ttl(3600, {{"a", seconds(60)}, {"b", seconds(0)}})),
              seconds(15));
    EXPECT_EQ(daemon::sweep_period(ttl(0, {{"a", seconds(2)}})), seconds(1));
}

} // namespace
} // namespace metricsd::test

#include "daemon/store/store.hpp"
#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace metricsd::test {
namespace {

using daemon::apply_status;
using protocol::error_code;
using protocol::gauge_mode;
using protocol::metric_type;
using protocol::op_code;

error_code declare_error(daemon::store& s, const family_args& a) {
    auto r = declare(s, a);
    EXPECT_FALSE(r) << a.name << " was accepted";
    return r ? error_code::internal : r.error().code;
}

TEST(store_declare, rejects_invalid_metric_names) {
    daemon::store s;
    for (const char* name : {"", "1abc", "a-b", "a b", "caf\xc3\xa9", "a.b"})
        EXPECT_EQ(declare_error(s, {name}), error_code::invalid_metric_name) << name;
    EXPECT_TRUE(declare(s, {"a:b_c9"}));
    EXPECT_TRUE(declare(s, {"_x"}));
}

TEST(store_declare, rejects_invalid_and_reserved_label_names) {
    daemon::store s;
    EXPECT_EQ(declare_error(s, {"a", metric_type::counter, "", {"1x"}}),
              error_code::invalid_label_name);
    EXPECT_EQ(declare_error(s, {"a", metric_type::counter, "", {"a:b"}}),
              error_code::invalid_label_name);
    EXPECT_EQ(declare_error(s, {"a", metric_type::counter, "", {"le"}}),
              error_code::invalid_label_name);
    EXPECT_EQ(declare_error(s, {"a", metric_type::counter, "", {"quantile"}}),
              error_code::invalid_label_name);
    EXPECT_EQ(declare_error(s, {"a", metric_type::counter, "", {"__name"}}),
              error_code::invalid_label_name);
    EXPECT_EQ(declare_error(s, {"a", metric_type::counter, "", {"x", "x"}}),
              error_code::invalid_label_name);
    EXPECT_EQ(declare_error(s, {"a", metric_type::gauge, "", {"pid"}, {}, gauge_mode::all}),
              error_code::invalid_label_name);
    EXPECT_EQ(declare_error(s, {"a", metric_type::gauge, "", {"pid"}, {}, gauge_mode::liveall}),
              error_code::invalid_label_name);
    // pid is an ordinary label everywhere else
    EXPECT_TRUE(declare(s, {"a", metric_type::gauge, "", {"pid"}, {}, gauge_mode::livesum}));
}

TEST(store_declare, rejects_bad_buckets) {
    daemon::store s;
    auto h = [](std::vector<std::string_view> b) {
        return family_args{"h", metric_type::histogram, "", {}, std::move(b)};
    };
    EXPECT_EQ(declare_error(s, h({})), error_code::invalid_buckets);
    EXPECT_EQ(declare_error(s, h({"abc"})), error_code::invalid_buckets);
    EXPECT_EQ(declare_error(s, h({"1", "nan"})), error_code::invalid_buckets);
    EXPECT_EQ(declare_error(s, h({"1", "+Inf"})), error_code::invalid_buckets);
    EXPECT_EQ(declare_error(s, h({"1", "1.0"})), error_code::invalid_buckets);
    EXPECT_EQ(declare_error(s, h({"2", "1"})), error_code::invalid_buckets);
    EXPECT_EQ(declare_error(s, h({"1x"})), error_code::invalid_buckets);
    // Buckets on a non-histogram: too_many_buckets, the code the frame decoder has always sent
    // for it (PROTOCOL.md section 8); the store used to say invalid_buckets, which no client saw.
    EXPECT_EQ(declare_error(s, {"c", metric_type::counter, "", {}, {"1"}}),
              error_code::too_many_buckets);
    auto ok = declare(s, h({"-1", "1e-05", ".5", "+3", "10"}));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok.value()->spec().bucket_texts,
              (std::vector<std::string>{"-1", "1e-05", ".5", "+3", "10"}));
    EXPECT_EQ(ok.value()->spec().le_labels,
              (std::vector<std::string>{"-1.0", "1e-05", "0.5", "3.0", "10.0", "+Inf"}));
}

// The limits the frame decoder enforces hold for declarations that did not come off the wire
// too (Redis metadata, the state file): the store applies the same family rules.
TEST(store_declare, enforces_the_wire_limits_and_modes) {
    daemon::store s;
    const std::string long_name(256, 'n');
    EXPECT_EQ(declare_error(s, {long_name}), error_code::string_too_long);
    EXPECT_TRUE(declare(s, {long_name.substr(1)}));
    const std::string long_help(4097, 'h');
    EXPECT_EQ(declare_error(s, {"x", metric_type::counter, long_help}),
              error_code::string_too_long);
    EXPECT_EQ(declare_error(s, {"c", metric_type::counter, "", {}, {}, gauge_mode::sum}),
              error_code::invalid_gauge_mode);
    std::vector<std::string_view> many(33, "l");
    EXPECT_EQ(declare_error(s, {"l", metric_type::counter, "", many}), error_code::too_many_labels);
}

TEST(store_declare, same_definition_returns_same_family_and_help_may_differ) {
    daemon::store s;
    auto a = declare(s, {"x", metric_type::counter, "first", {"a"}});
    auto b = declare(s, {"x", metric_type::counter, "reworded", {"a"}});
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a.value(), b.value());
    EXPECT_EQ(b.value()->spec().help, "first");
    // Same bucket values written differently are the same histogram.
    auto h1 = declare(s, {"h", metric_type::histogram, "", {}, {"1", "2.5"}});
    auto h2 = declare(s, {"h", metric_type::histogram, "", {}, {"1.0", "2.50"}});
    ASSERT_TRUE(h1 && h2);
    EXPECT_EQ(h1.value(), h2.value());
}

TEST(store_declare, conflicting_redeclarations_are_rejected) {
    daemon::store s;
    ASSERT_TRUE(declare(s, {"x", metric_type::counter, "", {"a"}}));
    auto r = declare(s, {"x", metric_type::gauge, "", {"a"}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, error_code::family_conflict);
    EXPECT_EQ(r.error().message, "'x' is already declared as a counter, not a gauge");
    EXPECT_EQ(declare_error(s, {"x", metric_type::counter, "", {"b"}}),
              error_code::family_conflict);
    EXPECT_EQ(declare_error(s, {"x", metric_type::counter, "", {"a", "b"}}),
              error_code::family_conflict);
    ASSERT_TRUE(declare(s, {"h", metric_type::histogram, "", {}, {"1", "2"}}));
    EXPECT_EQ(declare_error(s, {"h", metric_type::histogram, "", {}, {"1", "3"}}),
              error_code::family_conflict);
    ASSERT_TRUE(declare(s, {"g", metric_type::gauge, "", {}, {}, gauge_mode::max}));
    EXPECT_EQ(declare_error(s, {"g", metric_type::gauge, "", {}, {}, gauge_mode::min}),
              error_code::family_conflict);
}

TEST(store_declare, generated_sample_names_must_not_collide) {
    daemon::store s;
    ASSERT_TRUE(declare(s, {"h", metric_type::histogram, "", {}, {"1"}}));
    EXPECT_EQ(declare_error(s, {"h_count", metric_type::gauge}), error_code::name_collision);
    EXPECT_EQ(declare_error(s, {"h_bucket", metric_type::counter}), error_code::name_collision);
    ASSERT_TRUE(declare(s, {"jobs", metric_type::counter}));
    auto r = declare(s, {"jobs_total", metric_type::counter});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, error_code::name_collision);
    EXPECT_EQ(r.error().message,
              "'jobs_total' would expose 'jobs_total', which family 'jobs' already exposes");
    ASSERT_TRUE(declare(s, {"errors_total", metric_type::counter}));
    EXPECT_EQ(declare_error(s, {"errors", metric_type::gauge}), error_code::name_collision);
}

TEST(store_declare, metricsd_prefix_is_reserved_for_self_metrics) {
    daemon::store s;
    auto r = declare(s, {"metricsd_series", metric_type::gauge});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, error_code::name_collision);
    EXPECT_EQ(r.error().message,
              "metric name 'metricsd_series': the metricsd_ prefix is reserved for the daemon's "
              "own metrics");
    EXPECT_EQ(declare_error(s, {"metricsd_anything_total", metric_type::counter}),
              error_code::name_collision);
    EXPECT_TRUE(declare(s, {"metricsd", metric_type::gauge})); // only the prefix is reserved
    EXPECT_TRUE(declare(s, {"my_metricsd_total", metric_type::counter}));
}

TEST(store_series, validates_label_values_and_counts) {
    daemon::store_limits limits;
    limits.max_label_value_length = 8;
    daemon::store s(limits);
    const auto w = s.add_worker(1);
    auto f = declare(s, {"x", metric_type::counter, "", {"a", "b"}});
    ASSERT_TRUE(f);
    auto series = [&](std::vector<std::string_view> v) {
        return s.declare_series(f.value(), v, w);
    };
    EXPECT_EQ(series({"1"}).error().code, error_code::label_count_mismatch);
    EXPECT_EQ(series({"1", "2", "3"}).error().code, error_code::label_count_mismatch);
    EXPECT_EQ(series({"\xff", "2"}).error().code, error_code::invalid_label_value);
    EXPECT_EQ(series({"\xed\xa0\x80", "2"}).error().code, error_code::invalid_label_value);
    EXPECT_EQ(series({"123456789", "2"}).error().code, error_code::invalid_label_value);
    EXPECT_TRUE(series({"12345678", "\xe6\x97\xa5"}));
    EXPECT_TRUE(series({"", ""}));
    EXPECT_EQ(s.series_count(), 2u);
}

TEST(store_series, enforces_per_family_and_total_limits) {
    daemon::store_limits limits;
    limits.max_series_per_family = 3;
    limits.max_series_total = 5;
    daemon::store s(limits);
    const auto w = s.add_worker(1);
    auto a = declare(s, {"a", metric_type::counter, "", {"k"}});
    auto b = declare(s, {"b", metric_type::counter, "", {"k"}});
    ASSERT_TRUE(a && b);
    for (std::string_view v : {"1", "2", "3"}) {
        std::vector<std::string_view> vals{v};
        ASSERT_TRUE(s.declare_series(a.value(), vals, w));
    }
    std::vector<std::string_view> four{"4"};
    auto r = s.declare_series(a.value(), four, w);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, error_code::family_series_limit);
    EXPECT_EQ(r.error().message, "'a' already has 3 series, the per-family limit");
    std::vector<std::string_view> again{"2"};
    EXPECT_TRUE(s.declare_series(a.value(), again, w)) << "existing series stay bindable";
    for (std::string_view v : {"1", "2"}) {
        std::vector<std::string_view> vals{v};
        ASSERT_TRUE(s.declare_series(b.value(), vals, w));
    }
    std::vector<std::string_view> three{"3"};
    EXPECT_EQ(s.declare_series(b.value(), three, w).error().code, error_code::total_series_limit);
    EXPECT_EQ(s.series_count(), 5u);
}

TEST(store_ops, counter_refuses_an_increment_that_would_overflow_to_infinity) {
    // Issue 11: inc(1.7e308) twice made the counter +Inf, for ever, and the state file kept it.
    daemon::store s;
    const auto w = s.add_worker(1);
    auto f = declare(s, {"c"});
    auto b = bind(s, f.value(), {}, w);
    EXPECT_EQ(s.apply(b, op_code::inc, 1.7e308), apply_status::ok);
    EXPECT_EQ(s.apply(b, op_code::inc, 1.7e308), apply_status::invalid_value);
    EXPECT_EQ(b.target->value, 1.7e308) << "a refused op leaves the counter as it was";
    const double max = std::numeric_limits<double>::max();
    EXPECT_EQ(s.apply(b, op_code::inc, max - 1.7e308), apply_status::ok) << "up to max is fine";
    EXPECT_EQ(b.target->value, max);
    EXPECT_EQ(s.apply(b, op_code::inc, 0), apply_status::ok);
    EXPECT_EQ(s.apply(b, op_code::inc, max), apply_status::invalid_value);
    EXPECT_EQ(b.target->value, max);
}

TEST(store_ops, counter_accepts_only_non_negative_finite_increments) {
    daemon::store s;
    const auto w = s.add_worker(1);
    auto f = declare(s, {"c"});
    auto b = bind(s, f.value(), {}, w);
    EXPECT_EQ(s.apply(b, op_code::inc, 1), apply_status::ok);
    EXPECT_EQ(s.apply(b, op_code::inc, 0), apply_status::ok);
    EXPECT_EQ(s.apply(b, op_code::inc, 2.5), apply_status::ok);
    EXPECT_EQ(s.apply(b, op_code::inc, -1), apply_status::invalid_value);
    EXPECT_EQ(s.apply(b, op_code::inc, std::nan("")), apply_status::invalid_value);
    EXPECT_EQ(s.apply(b, op_code::inc, HUGE_VAL), apply_status::invalid_value);
    EXPECT_EQ(s.apply(b, op_code::dec, 1), apply_status::invalid_op);
    EXPECT_EQ(s.apply(b, op_code::set, 1), apply_status::invalid_op);
    EXPECT_EQ(s.apply(b, op_code::observe, 1), apply_status::invalid_op);
    EXPECT_EQ(b.target->value, 3.5);
}

TEST(store_ops, gauge_histogram_summary_op_rules) {
    daemon::store s;
    const auto w = s.add_worker(1);
    auto g = bind(s, declare(s, {"g", metric_type::gauge}).value(), {}, w);
    EXPECT_EQ(s.apply(g, op_code::inc, 5), apply_status::ok);
    EXPECT_EQ(s.apply(g, op_code::dec, 7), apply_status::ok);
    EXPECT_EQ(g.slot->value, -2);
    EXPECT_EQ(s.apply(g, op_code::inc, HUGE_VAL), apply_status::invalid_value);
    EXPECT_EQ(s.apply(g, op_code::dec, std::nan("")), apply_status::invalid_value);
    EXPECT_EQ(s.apply(g, op_code::observe, 1), apply_status::invalid_op);
    EXPECT_EQ(s.apply(g, op_code::set, std::nan("")), apply_status::ok);
    EXPECT_TRUE(std::isnan(g.slot->value));

    auto h = bind(s, declare(s, {"h", metric_type::histogram, "", {}, {"1"}}).value(), {}, w);
    EXPECT_EQ(s.apply(h, op_code::inc, 1), apply_status::invalid_op);
    EXPECT_EQ(s.apply(h, op_code::set, 1), apply_status::invalid_op);
    EXPECT_EQ(s.apply(h, op_code::observe, std::nan("")), apply_status::invalid_value);
    auto m = bind(s, declare(s, {"m", metric_type::summary}).value(), {}, w);
    EXPECT_EQ(s.apply(m, op_code::dec, 1), apply_status::invalid_op);
    EXPECT_EQ(s.apply(m, op_code::observe, -2.5), apply_status::ok);
    EXPECT_EQ(s.apply(m, op_code::observe, 4), apply_status::ok);
    EXPECT_EQ(m.target->summary().sum, 1.5);
    EXPECT_EQ(m.target->summary().count, 2);
}

TEST(store_ops, histogram_buckets_are_inclusive_upper_bounds) {
    daemon::store s;
    const auto w = s.add_worker(1);
    auto f = declare(s, {"h", metric_type::histogram, "", {}, {"0.5", "1", "2"}});
    auto b = bind(s, f.value(), {}, w);
    for (double v : {-1.0, 0.5, 0.50000001, 1.0, 2.0, 2.0000001, HUGE_VAL})
        ASSERT_EQ(s.apply(b, op_code::observe, v), apply_status::ok);
    EXPECT_EQ(b.target->histogram().counts, (std::vector<double>{2, 2, 1, 2}));
    EXPECT_EQ(b.target->histogram().count, 7);
}

TEST(store_workers, counters_keep_retired_contributions_without_growing) {
    daemon::store s;
    auto f = declare(s, {"c", metric_type::counter, "", {"k"}});
    auto g = declare(s, {"g", metric_type::gauge, "", {}, {}, gauge_mode::sum});
    for (int i = 0; i < 1000; ++i) {
        const auto w = s.add_worker(10'000 + i);
        ASSERT_EQ(s.apply(bind(s, f.value(), {"x"}, w), op_code::inc, 2), apply_status::ok);
        ASSERT_EQ(s.apply(bind(s, g.value(), {}, w), op_code::inc, 1), apply_status::ok);
        s.retire_worker(w);
    }
    EXPECT_EQ(s.live_workers(), 0u);
    EXPECT_EQ(s.series_count(), 2u);
    const auto& cs = f.value()->all_series().begin()->second;
    EXPECT_EQ(cs.value, 2000);
    const auto& gs = g.value()->all_series().begin()->second;
    EXPECT_TRUE(gs.gauge().live.empty());
    EXPECT_EQ(gs.gauge().retired, 1000);
    s.retire_worker(12345); // unknown worker: ignored
}

TEST(store_workers, one_slot_per_worker_and_series_whatever_the_handles) {
    daemon::store s;
    const auto w = s.add_worker(7);
    auto f = declare(s, {"g", metric_type::gauge});
    auto b1 = bind(s, f.value(), {}, w);
    auto b2 = bind(s, f.value(), {}, w);
    EXPECT_EQ(b1.slot, b2.slot);
    EXPECT_EQ(f.value()->all_series().begin()->second.gauge().live.size(), 1u);
}

TEST(store_workers, unknown_worker_cannot_bind) {
    daemon::store s;
    auto f = declare(s, {"c"});
    std::vector<std::string_view> none;
    auto r = s.declare_series(f.value(), none, 99);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, error_code::internal);
}

} // namespace
} // namespace metricsd::test

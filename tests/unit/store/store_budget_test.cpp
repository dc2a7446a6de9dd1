// The store's byte budget (max_store_bytes): what each family, series and label value costs by
// the model in store_cost.hpp, and what happens at the budget.
#include "daemon/store/store.hpp"
#include "daemon/store/store_cost.hpp"
#include "series_expiry_fixture.hpp"
#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <string>

namespace metricsd::test {
namespace {

using daemon::apply_status;
using protocol::error_code;
using protocol::metric_type;
using protocol::op_code;

TEST(store_cost, a_counter_with_two_short_labels_costs_112_bytes_and_its_new_values) {
    daemon::store s;
    const auto w = s.add_worker(1);
    const auto* f = must_declare(s, {"req", metric_type::counter, "", {"method", "path"}});
    const std::size_t family = s.bytes();
    EXPECT_EQ(family, daemon::store_cost::family_bytes(f->spec()));
    bind(s, f, {"GET", "/a"}, w);
    EXPECT_EQ(s.bytes() - family, 112u + 51 + 51) << "the series and two new values";
    bind(s, f, {"GET", "/b"}, w);
    EXPECT_EQ(s.bytes() - family, 214u + 112 + 51) << "GET is interned once";
    bind(s, f, {"GET", "/b"}, w);
    EXPECT_EQ(s.bytes() - family, 377u) << "an existing series costs nothing more";
    bind(s, f, {"GET", "/a-path-over-15-bytes"}, w); // 21 bytes: a 32-byte heap block
    EXPECT_EQ(s.bytes() - family, 377u + 112 + 51 + 32);
}

TEST(store_cost, cells_follow_the_type) {
    daemon::store s;
    const auto w = s.add_worker(1);
    const auto add = [&](const family_args& a) {
        const auto* f = must_declare(s, a);
        const std::size_t before = s.bytes();
        bind(s, f, {}, w);
        return s.bytes() - before;
    };
    EXPECT_EQ(add({"c", metric_type::counter}), 96u);
    EXPECT_EQ(add({"g", metric_type::gauge, "", {}, {}, protocol::gauge_mode::shared}), 96u);
    EXPECT_EQ(add({"s", metric_type::summary}), 96u + 32);
    // sizeof(histogram_cell) 40 -> 48; 5 bounds + Inf = 6 doubles, 48 -> 64.
    EXPECT_EQ(add({"h", metric_type::histogram, "", {}, {"1", "2", "3", "4", "5"}}),
              96u + 48 + 64);
    // The worker record of a livesum gauge (its live slots are the connection's to pay).
    EXPECT_EQ(add({"l", metric_type::gauge}),
              96u + daemon::store_cost::heap_block(sizeof(daemon::gauge_workers)));
}

TEST(store_budget, a_series_over_the_budget_is_refused_and_the_others_keep_working) {
    daemon::store_limits limits;
    daemon::store probe;
    must_declare(probe, {"req", metric_type::counter, "", {"method", "path"}});
    const std::size_t family = probe.bytes();
    limits.max_store_bytes = family + 214 + 163; // room for exactly two series
    daemon::store s(limits);
    const auto w = s.add_worker(1);
    const auto* f = must_declare(s, {"req", metric_type::counter, "", {"method", "path"}});
    const auto a = bind(s, f, {"GET", "/a"}, w);
    const auto b = bind(s, f, {"GET", "/b"}, w);
    EXPECT_EQ(s.bytes(), limits.max_store_bytes);

    std::vector<std::string_view> third{"GET", "/c"};
    const auto refused = s.declare_series(f, third, w);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, error_code::total_series_limit);
    EXPECT_EQ(refused.error().message,
              "a new series of 'req' needs 163 bytes; the store holds " +
                  std::to_string(limits.max_store_bytes) + " of its " +
                  std::to_string(limits.max_store_bytes) + " (max_store_bytes)");
    EXPECT_EQ(s.budget_refusals(), 1u);
    EXPECT_EQ(s.series_count(), 2u);
    EXPECT_EQ(s.bytes(), limits.max_store_bytes) << "a refusal takes nothing";

    // Existing series: ops and re-binding work, by this worker and a new one.
    EXPECT_EQ(s.apply(a, op_code::inc, 2), apply_status::ok);
    EXPECT_EQ(s.apply(b, op_code::inc, 3), apply_status::ok);
    const auto w2 = s.add_worker(2);
    const auto a2 = bind(s, f, {"GET", "/a"}, w2);
    EXPECT_EQ(s.apply(a2, op_code::inc, 5), apply_status::ok);
    EXPECT_EQ(samples(s, "req"), "req{method=\"GET\",path=\"/a\"} 7\n"
                                 "req{method=\"GET\",path=\"/b\"} 3\n");

    // A new family does not fit either.
    const auto g = declare(s, {"other"});
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().code, error_code::total_series_limit);
    EXPECT_TRUE(g.error().message.starts_with("family 'other' needs ")) << g.error().message;
    EXPECT_EQ(s.budget_refusals(), 2u);
}

TEST(store_budget, series_expiry_gives_the_bytes_back) {
    daemon::store s;
    daemon::series_ttl_policy ttl;
    ttl.default_ttl = std::chrono::seconds(10);
    s.set_series_ttl(ttl);
    const auto* f = must_declare(s, {"req", metric_type::counter, "", {"method", "path"}});
    const std::size_t family = s.bytes();
    {
        const auto w = s.add_worker(1);
        bind(s, f, {"GET", "/a"}, w);
        bind(s, f, {"GET", "/b"}, w);
        bind(s, f, {"PUT", "/a-path-over-15-bytes"}, w);
        s.retire_worker(w);
    }
    EXPECT_EQ(s.bytes(), family + 214 + 163 + 112 + 51 + 51 + 32);
    s.expire_idle_series(at(0));
    EXPECT_EQ(s.expire_idle_series(at(11)), 3u);
    EXPECT_EQ(s.series_count(), 0u);
    EXPECT_EQ(s.bytes(), family) << "series and their interned values are given back";
}

} // namespace
} // namespace metricsd::test

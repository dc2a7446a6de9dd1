// Every gauge mode with three workers joining and retiring, then a fourth joining.
#include "daemon/store/gauge.hpp"
#include "daemon/store/store.hpp"
#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

namespace metricsd::test {
namespace {

using protocol::gauge_mode;
using protocol::metric_type;
using protocol::op_code;

/// What a gauge shows: one value, nothing, or one value per pid.
struct shown {
    std::optional<double> value;
    std::map<std::int64_t, double> per_pid;
    bool operator==(const shown&) const = default;
};

shown one(double v) {
    return {v, {}};
}
shown none() {
    return {};
}
shown pids(std::map<std::int64_t, double> m) {
    return {std::nullopt, std::move(m)};
}

std::ostream& operator<<(std::ostream& os, const shown& s) {
    if (s.value)
        os << *s.value;
    for (auto [p, v] : s.per_pid)
        os << " pid" << p << "=" << v;
    return os << (s.value || !s.per_pid.empty() ? "" : "(nothing)");
}

shown observe(const daemon::series& s, gauge_mode m) {
    shown r;
    if (daemon::is_per_pid(m)) {
        std::vector<std::pair<std::int64_t, double>> v;
        daemon::per_pid_values(s, m, v);
        r.per_pid.insert(v.begin(), v.end());
    } else {
        r.value = daemon::combined_value(s, m);
    }
    return r;
}

struct mode_case {
    gauge_mode mode;
    shown all_live;    // A=5, B=7, C=3 (C written last)
    shown b_retired;   // B (pid 102) gone
    shown c_retired;   // A set 4 (now newest), then C gone
    shown all_retired; // A gone too
    shown d_joined;    // D (pid 104) joins and incs 2
    shown pid_reused;  // E reuses pid 102 and sets 9
};

class gauge_modes : public ::testing::TestWithParam<mode_case> {};

TEST_P(gauge_modes, three_workers_join_and_retire) {
    const auto& c = GetParam();
    daemon::store s;
    auto f = declare(s, {"g", metric_type::gauge, "", {}, {}, c.mode});
    ASSERT_TRUE(f);
    const auto a = s.add_worker(101), b = s.add_worker(102), w3 = s.add_worker(103);
    const auto ba = bind(s, f.value(), {}, a);
    const auto bb = bind(s, f.value(), {}, b);
    const auto bc = bind(s, f.value(), {}, w3);
    ASSERT_EQ(s.apply(ba, op_code::set, 5), daemon::apply_status::ok);
    ASSERT_EQ(s.apply(bb, op_code::set, 7), daemon::apply_status::ok);
    ASSERT_EQ(s.apply(bc, op_code::set, 3), daemon::apply_status::ok);
    const auto& ser = f.value()->all_series().begin()->second;
    EXPECT_EQ(observe(ser, c.mode), c.all_live) << "all live";

    s.retire_worker(b);
    EXPECT_EQ(observe(ser, c.mode), c.b_retired) << "B retired";

    ASSERT_EQ(s.apply(ba, op_code::set, 4), daemon::apply_status::ok);
    s.retire_worker(w3);
    EXPECT_EQ(observe(ser, c.mode), c.c_retired) << "C retired";

    s.retire_worker(a);
    EXPECT_EQ(observe(ser, c.mode), c.all_retired) << "all retired";

    const auto d = s.add_worker(104);
    ASSERT_EQ(s.apply(bind(s, f.value(), {}, d), op_code::inc, 2), daemon::apply_status::ok);
    EXPECT_EQ(observe(ser, c.mode), c.d_joined) << "D joined";

    const auto e = s.add_worker(102);
    ASSERT_EQ(s.apply(bind(s, f.value(), {}, e), op_code::set, 9), daemon::apply_status::ok);
    EXPECT_EQ(observe(ser, c.mode), c.pid_reused) << "pid 102 reused";
}

INSTANTIATE_TEST_SUITE_P(
    all_modes, gauge_modes,
    ::testing::Values(
        mode_case{gauge_mode::livesum, one(15), one(8), one(4), one(0), one(2), one(11)},
        mode_case{gauge_mode::sum, one(15), one(15), one(14), one(14), one(16), one(25)},
        mode_case{gauge_mode::max, one(7), one(7), one(7), one(7), one(7), one(9)},
        mode_case{gauge_mode::min, one(3), one(3), one(3), one(3), one(2), one(2)},
        mode_case{gauge_mode::mostrecent, one(3), one(3), one(4), one(4), one(2), one(9)},
        mode_case{gauge_mode::livemax, one(7), one(5), one(4), none(), one(2), one(9)},
        mode_case{gauge_mode::livemin, one(3), one(3), one(4), none(), one(2), one(2)},
        mode_case{gauge_mode::livemostrecent, one(3), one(3), one(4), none(), one(2), one(9)},
        mode_case{gauge_mode::shared, one(3), one(3), one(4), one(4), one(6), one(9)},
        mode_case{gauge_mode::all, pids({{101, 5}, {102, 7}, {103, 3}}),
                  pids({{101, 5}, {102, 7}, {103, 3}}), pids({{101, 4}, {102, 7}, {103, 3}}),
                  pids({{101, 4}, {102, 7}, {103, 3}}),
                  pids({{101, 4}, {102, 7}, {103, 3}, {104, 2}}),
                  pids({{101, 4}, {102, 9}, {103, 3}, {104, 2}})},
        mode_case{gauge_mode::liveall, pids({{101, 5}, {102, 7}, {103, 3}}),
                  pids({{101, 5}, {103, 3}}), pids({{101, 4}}), pids({}), pids({{104, 2}}),
                  pids({{102, 9}, {104, 2}})}),
    [](const auto& info) { return std::string(protocol::to_string(info.param.mode)); });

TEST(gauge_modes_extra, two_connections_from_one_pid_show_the_newest_write) {
    daemon::store s;
    auto f = declare(s, {"g", metric_type::gauge, "", {}, {}, gauge_mode::liveall});
    const auto a = s.add_worker(500), b = s.add_worker(500);
    const auto ba = bind(s, f.value(), {}, a);
    const auto bb = bind(s, f.value(), {}, b);
    ASSERT_EQ(s.apply(bb, op_code::set, 1), daemon::apply_status::ok);
    ASSERT_EQ(s.apply(ba, op_code::set, 2), daemon::apply_status::ok);
    EXPECT_EQ(observe(f.value()->all_series().begin()->second, gauge_mode::liveall),
              pids({{500, 2}}));
}

TEST(gauge_modes_extra, declared_but_unwritten_slot_does_not_hide_mostrecent) {
    daemon::store s;
    auto f = declare(s, {"g", metric_type::gauge, "", {}, {}, gauge_mode::mostrecent});
    const auto a = s.add_worker(1), b = s.add_worker(2);
    ASSERT_EQ(s.apply(bind(s, f.value(), {}, a), op_code::set, 42), daemon::apply_status::ok);
    bind(s, f.value(), {}, b); // declared later, never written
    EXPECT_EQ(observe(f.value()->all_series().begin()->second, gauge_mode::mostrecent), one(42));
}

} // namespace
} // namespace metricsd::test

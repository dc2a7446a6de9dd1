#include "store_fixture.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace metricsd::test {

using protocol::gauge_mode;
using protocol::metric_type;
using protocol::op_code;

daemon::outcome<const daemon::family*> declare(daemon::store& s, const family_args& a) {
    return s.declare_family(a.decl());
}

daemon::binding bind(daemon::store& s, const daemon::family* f,
                     std::initializer_list<std::string_view> values, daemon::worker_id w) {
    std::vector<std::string_view> v(values);
    auto b = s.declare_series(f, v, w);
    if (!b)
        throw std::runtime_error("bind failed: " + b.error().message);
    return b.value();
}

const daemon::family* must_declare(daemon::store& s, const family_args& a) {
    auto f = declare(s, a);
    if (!f)
        throw std::runtime_error("declare failed: " + f.error().message);
    return f.value();
}

namespace {

void apply(daemon::store& s, const daemon::binding& b, op_code op, double v) {
    if (s.apply(b, op, v) != daemon::apply_status::ok)
        throw std::runtime_error("apply failed");
}

} // namespace

void build_fixture(daemon::store& s) {
    const auto w1 = s.add_worker(101);
    const auto w2 = s.add_worker(102);
    const auto w3 = s.add_worker(103);

    auto* requests = must_declare(s, {"http_requests_total",
                                      metric_type::counter,
                                      "Requests served, by method and code.",
                                      {"method", "code"}});
    apply(s, bind(s, requests, {"GET", "200"}, w1), op_code::inc, 1027);
    apply(s, bind(s, requests, {"GET", "200"}, w2), op_code::inc, 3);
    apply(s, bind(s, requests, {"POST", "500"}, w2), op_code::inc, 0.5);
    bind(s, requests, {"PUT", "201"}, w3); // declared, never incremented: shows 0

    auto* jobs = must_declare(
        s, {"jobs_run_total", metric_type::counter, "Jobs run.\nSecond line \\ backslash."});
    apply(s, bind(s, jobs, {}, w1), op_code::inc, 7);

    auto* odd = must_declare(s, {"odd_labels",
                                 metric_type::gauge,
                                 "Label values that need escaping.",
                                 {"path"},
                                 {},
                                 gauge_mode::shared});
    apply(s, bind(s, odd, {"C:\\dir \"quoted\"\nnext"}, w1), op_code::set, -3);
    apply(s, bind(s, odd, {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"}, w1), op_code::set, 0.1);

    auto* special = must_declare(s, {"special_values",
                                     metric_type::gauge,
                                     "Special floats.",
                                     {"kind"},
                                     {},
                                     gauge_mode::shared});
    apply(s, bind(s, special, {"nan"}, w1), op_code::set, std::nan(""));
    apply(s, bind(s, special, {"pos_inf"}, w1), op_code::set, HUGE_VAL);
    apply(s, bind(s, special, {"neg_inf"}, w1), op_code::set, -HUGE_VAL);
    apply(s, bind(s, special, {"large"}, w1), op_code::set, 1e21);
    apply(s, bind(s, special, {"small"}, w1), op_code::set, 1.5e-7);

    auto* in_flight = must_declare(s, {"in_flight", metric_type::gauge, "Requests in flight."});
    apply(s, bind(s, in_flight, {}, w1), op_code::inc, 2);
    apply(s, bind(s, in_flight, {}, w2), op_code::inc, 3);
    apply(s, bind(s, in_flight, {}, w3), op_code::inc, 4);

    auto* temp = must_declare(
        s,
        {"worker_temperature", metric_type::gauge, "Per-worker value.", {}, {}, gauge_mode::all});
    apply(s, bind(s, temp, {}, w1), op_code::set, 36.6);
    apply(s, bind(s, temp, {}, w2), op_code::set, 37);
    apply(s, bind(s, temp, {}, w3), op_code::set, 38.5);

    auto* latency = must_declare(s, {"request_latency_seconds",
                                     metric_type::histogram,
                                     "Latency.",
                                     {"route"},
                                     {"0.005", "0.1", "1", "2.5"}});
    for (double v : {0.001, 0.005, 0.05, 0.5, 1.0, 2.0, 10.0})
        apply(s, bind(s, latency, {"/api"}, w1), op_code::observe, v);
    apply(s, bind(s, latency, {"/api"}, w2), op_code::observe, 0.25);

    auto* size = must_declare(s, {"payload_bytes", metric_type::summary, "Payload sizes."});
    apply(s, bind(s, size, {}, w2), op_code::observe, 100);
    apply(s, bind(s, size, {}, w3), op_code::observe, 412);

    // Worker 3 exits: its in_flight share (4) disappears, its pid stays in the `all` gauge,
    // its counter, histogram and summary contributions stay.
    s.retire_worker(w3);
}

} // namespace metricsd::test

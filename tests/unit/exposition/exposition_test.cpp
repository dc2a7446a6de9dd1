#include "daemon/exposition/store_exposition.hpp"
#include "daemon/store/store.hpp"
#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::test {
namespace {

using daemon::exposition_format;
using protocol::gauge_mode;
using protocol::metric_type;
using protocol::op_code;

std::string render(const daemon::store& s, exposition_format f) {
    std::string out;
    daemon::render_families(s, f, out);
    daemon::render_trailer(f, out);
    return out;
}

const char* const fixture_text = R"(
# HELP http_requests_total Requests served, by method and code.
# TYPE http_requests_total counter
http_requests_total{method="GET",code="200"} 1030
http_requests_total{method="POST",code="500"} 0.5
http_requests_total{method="PUT",code="201"} 0
# HELP in_flight Requests in flight.
# TYPE in_flight gauge
in_flight 5
# HELP jobs_run_total Jobs run.\nSecond line \\ backslash.
# TYPE jobs_run_total counter
jobs_run_total 7
# HELP odd_labels Label values that need escaping.
# TYPE odd_labels gauge
odd_labels{path="C:\\dir \"quoted\"\nnext"} -3
odd_labels{path="café 日本"} 0.1
# HELP payload_bytes Payload sizes.
# TYPE payload_bytes summary
payload_bytes_sum 512
payload_bytes_count 2
# HELP request_latency_seconds Latency.
# TYPE request_latency_seconds histogram
request_latency_seconds_bucket{route="/api",le="0.005"} 2
request_latency_seconds_bucket{route="/api",le="0.1"} 3
request_latency_seconds_bucket{route="/api",le="1.0"} 6
request_latency_seconds_bucket{route="/api",le="2.5"} 7
request_latency_seconds_bucket{route="/api",le="+Inf"} 8
request_latency_seconds_sum{route="/api"} 13.806000000000001
request_latency_seconds_count{route="/api"} 8
# HELP special_values Special floats.
# TYPE special_values gauge
special_values{kind="large"} 1e+21
special_values{kind="nan"} NaN
special_values{kind="neg_inf"} -Inf
special_values{kind="pos_inf"} +Inf
special_values{kind="small"} 1.5e-07
# HELP worker_temperature Per-worker value.
# TYPE worker_temperature gauge
worker_temperature{pid="101"} 36.6
worker_temperature{pid="102"} 37
worker_temperature{pid="103"} 38.5
)";

const char* const fixture_openmetrics = R"(
# HELP http_requests Requests served, by method and code.
# TYPE http_requests counter
http_requests_total{method="GET",code="200"} 1030
http_requests_total{method="POST",code="500"} 0.5
http_requests_total{method="PUT",code="201"} 0
# HELP in_flight Requests in flight.
# TYPE in_flight gauge
in_flight 5
# HELP jobs_run Jobs run.\nSecond line \\ backslash.
# TYPE jobs_run counter
jobs_run_total 7
# HELP odd_labels Label values that need escaping.
# TYPE odd_labels gauge
odd_labels{path="C:\\dir \"quoted\"\nnext"} -3
odd_labels{path="café 日本"} 0.1
# HELP payload_bytes Payload sizes.
# TYPE payload_bytes summary
payload_bytes_sum 512
payload_bytes_count 2
# HELP request_latency_seconds Latency.
# TYPE request_latency_seconds histogram
request_latency_seconds_bucket{route="/api",le="0.005"} 2
request_latency_seconds_bucket{route="/api",le="0.1"} 3
request_latency_seconds_bucket{route="/api",le="1.0"} 6
request_latency_seconds_bucket{route="/api",le="2.5"} 7
request_latency_seconds_bucket{route="/api",le="+Inf"} 8
request_latency_seconds_sum{route="/api"} 13.806000000000001
request_latency_seconds_count{route="/api"} 8
# HELP special_values Special floats.
# TYPE special_values gauge
special_values{kind="large"} 1e+21
special_values{kind="nan"} NaN
special_values{kind="neg_inf"} -Inf
special_values{kind="pos_inf"} +Inf
special_values{kind="small"} 1.5e-07
# HELP worker_temperature Per-worker value.
# TYPE worker_temperature gauge
worker_temperature{pid="101"} 36.6
worker_temperature{pid="102"} 37
worker_temperature{pid="103"} 38.5
# EOF
)";

TEST(exposition, fixture_text_0_0_4_exact) {
    daemon::store s;
    build_fixture(s);
    EXPECT_EQ(render(s, exposition_format::text), std::string(fixture_text).substr(1));
}

TEST(exposition, fixture_openmetrics_1_0_exact) {
    daemon::store s;
    build_fixture(s);
    EXPECT_EQ(render(s, exposition_format::openmetrics),
              std::string(fixture_openmetrics).substr(1));
}

TEST(exposition, counter_without_total_suffix) {
    daemon::store s;
    const auto w = s.add_worker(1);
    auto f = declare(s, {"jobs", metric_type::counter, "Jobs."});
    ASSERT_EQ(s.apply(bind(s, f.value(), {}, w), op_code::inc, 3), daemon::apply_status::ok);
    // 0.0.4 shows the name as declared; OpenMetrics requires the _total sample suffix.
    EXPECT_EQ(render(s, exposition_format::text),
              "# HELP jobs Jobs.\n# TYPE jobs counter\njobs 3\n");
    EXPECT_EQ(render(s, exposition_format::openmetrics),
              "# HELP jobs Jobs.\n# TYPE jobs counter\njobs_total 3\n# EOF\n");
}

TEST(exposition, help_escaping_differs_between_formats) {
    daemon::store s;
    ASSERT_TRUE(declare(s, {"g", metric_type::gauge, "say \"hi\"\\\n"}));
    EXPECT_EQ(render(s, exposition_format::text), "# HELP g say \"hi\"\\\\\\n\n# TYPE g gauge\n");
    EXPECT_EQ(render(s, exposition_format::openmetrics),
              "# HELP g say \\\"hi\\\"\\\\\\n\n# TYPE g gauge\n# EOF\n");
}

TEST(exposition, empty_help_and_empty_family) {
    daemon::store s;
    ASSERT_TRUE(declare(s, {"g", metric_type::gauge}));
    EXPECT_EQ(render(s, exposition_format::text), "# TYPE g gauge\n");
    EXPECT_EQ(render(s, exposition_format::openmetrics), "# TYPE g gauge\n# EOF\n");
    daemon::store empty;
    EXPECT_EQ(render(empty, exposition_format::text), "");
    EXPECT_EQ(render(empty, exposition_format::openmetrics), "# EOF\n");
}

TEST(exposition, live_modes_without_live_workers_show_no_sample) {
    daemon::store s;
    const auto w = s.add_worker(9);
    auto mx = declare(s, {"mx", metric_type::gauge, "", {}, {}, gauge_mode::livemax});
    auto la = declare(s, {"la", metric_type::gauge, "", {"k"}, {}, gauge_mode::liveall});
    auto ls = declare(s, {"ls", metric_type::gauge});
    ASSERT_EQ(s.apply(bind(s, mx.value(), {}, w), op_code::set, 4), daemon::apply_status::ok);
    ASSERT_EQ(s.apply(bind(s, la.value(), {"v"}, w), op_code::set, 5), daemon::apply_status::ok);
    ASSERT_EQ(s.apply(bind(s, ls.value(), {}, w), op_code::set, 6), daemon::apply_status::ok);
    EXPECT_EQ(render(s, exposition_format::text),
              "# TYPE la gauge\nla{k=\"v\",pid=\"9\"} 5\n# TYPE ls gauge\nls 6\n"
              "# TYPE mx gauge\nmx 4\n");
    s.retire_worker(w);
    EXPECT_EQ(render(s, exposition_format::text),
              "# TYPE la gauge\n# TYPE ls gauge\nls 0\n# TYPE mx gauge\n");
}

TEST(exposition, series_are_ordered_by_label_values) {
    daemon::store s;
    const auto w = s.add_worker(1);
    auto f = declare(s, {"c_total", metric_type::counter, "", {"a", "b"}});
    for (auto v : {"b", "a", "c"})
        bind(s, f.value(), {v, "z"}, w);
    bind(s, f.value(), {"a", "y"}, w);
    EXPECT_EQ(render(s, exposition_format::text),
              "# TYPE c_total counter\nc_total{a=\"a\",b=\"y\"} 0\nc_total{a=\"a\",b=\"z\"} 0\n"
              "c_total{a=\"b\",b=\"z\"} 0\nc_total{a=\"c\",b=\"z\"} 0\n");
}

TEST(exposition, appends_to_the_buffer_and_reuses_it) {
    daemon::store s;
    build_fixture(s);
    std::string out = "prefix\n";
    daemon::render_families(s, exposition_format::text, out);
    EXPECT_EQ(out, "prefix\n" + std::string(fixture_text).substr(1));
    EXPECT_EQ(daemon::content_type(exposition_format::text),
              "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(daemon::content_type(exposition_format::openmetrics),
              "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

// Issue 11: OpenMetrics 1.0 makes _sum a counter (never NaN, never negative) and forbids it on
// a histogram with negative bucket thresholds; strict parsers refused these expositions whole.
TEST(exposition, openmetrics_leaves_out_a_nan_sum) {
    daemon::store s;
    const auto w = s.add_worker(1);
    const auto h = must_declare(s, {"h", metric_type::histogram, "", {"k"}, {"1"}});
    const auto nan_sum = bind(s, h, {"nan"}, w);
    ASSERT_EQ(s.apply(nan_sum, op_code::observe, INFINITY), daemon::apply_status::ok);
    ASSERT_EQ(s.apply(nan_sum, op_code::observe, -INFINITY), daemon::apply_status::ok);
    ASSERT_EQ(s.apply(bind(s, h, {"inf"}, w), op_code::observe, INFINITY),
              daemon::apply_status::ok);
    EXPECT_EQ(render(s, exposition_format::openmetrics),
              "# TYPE h histogram\n"
              "h_bucket{k=\"inf\",le=\"1.0\"} 0\n"
              "h_bucket{k=\"inf\",le=\"+Inf\"} 1\n"
              "h_sum{k=\"inf\"} +Inf\n"
              "h_count{k=\"inf\"} 1\n"
              "h_bucket{k=\"nan\",le=\"1.0\"} 1\n"
              "h_bucket{k=\"nan\",le=\"+Inf\"} 2\n"
              "h_count{k=\"nan\"} 2\n"
              "# EOF\n");
    // 0.0.4 keeps every _sum, as it always has (see family_writer::sum).
    EXPECT_NE(render(s, exposition_format::text).find("h_sum{k=\"nan\"} NaN\n"),
              std::string::npos);
}

TEST(exposition, openmetrics_histogram_with_negative_buckets_has_no_sum) {
    daemon::store s;
    const auto w = s.add_worker(1);
    const auto h = must_declare(s, {"t", metric_type::histogram, "", {}, {"-10", "0", "10"}});
    const auto b = bind(s, h, {}, w);
    ASSERT_EQ(s.apply(b, op_code::observe, 5), daemon::apply_status::ok);
    EXPECT_EQ(render(s, exposition_format::openmetrics),
              "# TYPE t histogram\n"
              "t_bucket{le=\"-10.0\"} 0\n"
              "t_bucket{le=\"0.0\"} 0\n"
              "t_bucket{le=\"10.0\"} 1\n"
              "t_bucket{le=\"+Inf\"} 1\n"
              "t_count 1\n"
              "# EOF\n");
    EXPECT_EQ(render(s, exposition_format::text),
              "# TYPE t histogram\n"
              "t_bucket{le=\"-10.0\"} 0\n"
              "t_bucket{le=\"0.0\"} 0\n"
              "t_bucket{le=\"10.0\"} 1\n"
              "t_bucket{le=\"+Inf\"} 1\n"
              "t_sum 5\n"
              "t_count 1\n");
}

TEST(exposition, openmetrics_leaves_out_a_negative_sum) {
    daemon::store s;
    const auto w = s.add_worker(1);
    const auto h = must_declare(s, {"d", metric_type::histogram, "", {"k"}, {"1"}});
    const auto sm = must_declare(s, {"z", metric_type::summary, "", {"k"}});
    for (const auto* f : {h, sm}) {
        ASSERT_EQ(s.apply(bind(s, f, {"neg"}, w), op_code::observe, -2), daemon::apply_status::ok);
        ASSERT_EQ(s.apply(bind(s, f, {"pos"}, w), op_code::observe, 2), daemon::apply_status::ok);
    }
    EXPECT_EQ(render(s, exposition_format::openmetrics),
              "# TYPE d histogram\n"
              "d_bucket{k=\"neg\",le=\"1.0\"} 1\n"
              "d_bucket{k=\"neg\",le=\"+Inf\"} 1\n"
              "d_count{k=\"neg\"} 1\n"
              "d_bucket{k=\"pos\",le=\"1.0\"} 0\n"
              "d_bucket{k=\"pos\",le=\"+Inf\"} 1\n"
              "d_sum{k=\"pos\"} 2\n"
              "d_count{k=\"pos\"} 1\n"
              "# TYPE z summary\n"
              "z_count{k=\"neg\"} 1\n"
              "z_sum{k=\"pos\"} 2\n"
              "z_count{k=\"pos\"} 1\n"
              "# EOF\n");
    EXPECT_NE(render(s, exposition_format::text).find("z_sum{k=\"neg\"} -2\n"),
              std::string::npos);
}

// The writers' neutral model, as the Redis view and the daemon's own metrics use it.
TEST(family_writer, histograms_render_alike_from_per_bucket_and_cumulative_counts) {
    const std::vector<std::string> names{"route"}, le{"0.5", "+Inf"}, values{"/a"};
    daemon::family_desc fam("h", "", metric_type::histogram, names);
    fam.le_labels = le;
    for (auto f : {exposition_format::text, exposition_format::openmetrics}) {
        std::string per_bucket, cumulative;
        daemon::family_writer(fam, f, per_bucket).histogram(values, std::vector{2.0, 3.0}, 4.5, 5);
        daemon::family_writer(fam, f, cumulative)
            .cumulative_histogram(values, std::vector{2.0, 5.0}, 4.5, 5);
        EXPECT_EQ(per_bucket, cumulative);
        EXPECT_EQ(per_bucket, "# TYPE h histogram\n"
                              "h_bucket{route=\"/a\",le=\"0.5\"} 2\n"
                              "h_bucket{route=\"/a\",le=\"+Inf\"} 5\n"
                              "h_sum{route=\"/a\"} 4.5\n"
                              "h_count{route=\"/a\"} 5\n");
    }
}

TEST(family_writer, label_values_render_alike_from_strings_and_views_escaped) {
    constexpr std::string_view names[] = {"a", "b"};
    const daemon::family_desc fam("g", "", metric_type::gauge, names);
    const std::vector<std::string> owned{"x\"y", "z\\\n"};
    std::string from_strings, from_views;
    daemon::family_writer(fam, exposition_format::text, from_strings)
        .per_pid_value(owned, "7\"", 1);
    daemon::family_writer(fam, exposition_format::text, from_views)
        .per_pid_value({"x\"y", "z\\\n"}, "7\"", 1);
    EXPECT_EQ(from_strings, from_views);
    EXPECT_EQ(from_strings, "# TYPE g gauge\ng{a=\"x\\\"y\",b=\"z\\\\\\n\",pid=\"7\\\"\"} 1\n");
}

TEST(family_writer, counters_take_total_in_openmetrics_only) {
    const daemon::family_desc fam("done_total", "Done.", metric_type::counter);
    std::string text, om;
    daemon::family_writer(fam, exposition_format::text, text).value({}, 2);
    daemon::family_writer(fam, exposition_format::openmetrics, om).value({}, 2);
    EXPECT_EQ(text, "# HELP done_total Done.\n# TYPE done_total counter\ndone_total 2\n");
    EXPECT_EQ(om, "# HELP done Done.\n# TYPE done counter\ndone_total 2\n");
}

// Sliced renders (render_families_slice): the slices of an unchanged store add up to the whole
// render, byte for byte, at every slice size; a store changed between slices gives whole series
// and every family's HELP and TYPE once.
std::string whole(const daemon::store& s, exposition_format f) {
    std::string out;
    daemon::render_families(s, f, out);
    return out;
}

/// Every slice appended to one string; `slices` counts them.
std::string sliced(const daemon::store& s, exposition_format f, std::size_t budget,
                   std::size_t& slices) {
    daemon::store_cursor cursor;
    std::string out;
    slices = 0;
    for (bool done = false; !done; ++slices) {
        std::string slice;
        done = daemon::render_families_slice(s, f, cursor, slice, budget);
        out += slice;
    }
    return out;
}

TEST(store_cursor, slices_add_up_to_the_whole_render_at_every_size) {
    daemon::store s;
    build_fixture(s);
    for (const auto f : {exposition_format::text, exposition_format::openmetrics}) {
        const std::string expected = whole(s, f);
        for (std::size_t budget = 1; budget <= expected.size() + 1; ++budget) {
            std::size_t slices = 0;
            ASSERT_EQ(sliced(s, f, budget, slices), expected) << "budget " << budget;
            if (budget == 1) { // one series (or a family without series) per slice
                EXPECT_GT(slices, 10u);
            }
            if (budget > expected.size()) {
                EXPECT_EQ(slices, 1u);
            }
        }
    }
}

TEST(store_cursor, a_series_is_never_split_and_the_budget_holds_per_series) {
    daemon::store s;
    const auto w = s.add_worker(1);
    const auto h = declare(s, {"lat_seconds", metric_type::histogram, "", {"k"}, {"1", "2"}});
    for (const char* k : {"a", "b", "c"})
        ASSERT_EQ(s.apply(bind(s, h.value(), {k}, w), op_code::observe, 1.5),
                  daemon::apply_status::ok);
    daemon::store_cursor cursor;
    std::string slice;
    ASSERT_FALSE(daemon::render_families_slice(s, exposition_format::text, cursor, slice, 1));
    EXPECT_EQ(slice, "# TYPE lat_seconds histogram\n"
                     "lat_seconds_bucket{k=\"a\",le=\"1.0\"} 0\n"
                     "lat_seconds_bucket{k=\"a\",le=\"2.0\"} 1\n"
                     "lat_seconds_bucket{k=\"a\",le=\"+Inf\"} 1\n"
                     "lat_seconds_sum{k=\"a\"} 1.5\n"
                     "lat_seconds_count{k=\"a\"} 1\n");
}

TEST(store_cursor, series_created_between_slices_ahead_of_the_cursor_are_included) {
    daemon::store s;
    const auto w = s.add_worker(1);
    const auto c = declare(s, {"c_total", metric_type::counter, "", {"k"}});
    const auto g = declare(s, {"g", metric_type::gauge, "", {"k"}, {}, gauge_mode::shared});
    for (const char* k : {"b", "d"})
        bind(s, c.value(), {k}, w);
    bind(s, g.value(), {"x"}, w);
    daemon::store_cursor cursor;
    std::string out;
    ASSERT_FALSE(daemon::render_families_slice(s, exposition_format::text, cursor, out, 1));
    EXPECT_EQ(out, "# TYPE c_total counter\nc_total{k=\"b\"} 0\n");
    // Meanwhile: one series behind the cursor (next scrape), one ahead (this one), a new family.
    bind(s, c.value(), {"a"}, w);
    ASSERT_EQ(s.apply(bind(s, c.value(), {"c"}, w), op_code::inc, 2), daemon::apply_status::ok);
    declare(s, {"a_first", metric_type::gauge, "", {}, {}, gauge_mode::shared});
    bind(s, declare(s, {"h", metric_type::gauge, "", {}, {}, gauge_mode::shared}).value(), {}, w);
    while (!daemon::render_families_slice(s, exposition_format::text, cursor, out, 1)) {
    }
    EXPECT_EQ(out, "# TYPE c_total counter\nc_total{k=\"b\"} 0\nc_total{k=\"c\"} 2\n"
                   "c_total{k=\"d\"} 0\n# TYPE g gauge\ng{k=\"x\"} 0\n# TYPE h gauge\nh 0\n");
    EXPECT_TRUE(cursor.done);
    EXPECT_TRUE(daemon::render_families_slice(s, exposition_format::text, cursor, out, 1));
}

} // namespace
} // namespace metricsd::test

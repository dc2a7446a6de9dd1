#include "daemon/redis/redis_self_metrics.hpp"

#include "daemon/exposition/self_metrics.hpp"

#include <cstdint>
#include <string_view>
#include <utility>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;

constexpr std::string_view what_label[] = {"what"};

void write_flushes(const self_metrics_writer& w, const redis_stats& r) {
    constexpr auto counter = metric_type::counter;
    constexpr auto gauge = metric_type::gauge;
    w.single("metricsd_redis_connected", "1 while the Redis connection is up.", gauge,
             r.connected ? 1 : 0);
    w.single("metricsd_redis_connects_total", "Redis connections established.", counter,
             r.connects);
    w.single("metricsd_redis_connect_failures_total", "Redis connection attempts that failed.",
             counter, r.connect_failures);
    w.single("metricsd_redis_flushes_total", "Flushes (one MULTI/EXEC each) applied by Redis.",
             counter, r.flushes);
    w.single("metricsd_redis_flush_failures_total",
             "Flushes not applied (aborted or connection lost); their deltas are sent again.",
             counter, r.flush_failures);
    w.single("metricsd_redis_flush_commands_total", "Commands inside applied flushes.", counter,
             r.commands);
    w.single("metricsd_redis_flushed_series_total", "Series deltas inside applied flushes.",
             counter, r.flushed_series);
    w.single("metricsd_redis_write_errors_total",
             "Commands of applied flushes that Redis refused (e.g. WRONGTYPE).", counter,
             r.write_errors);
    w.single("metricsd_redis_flush_duration_seconds_total",
             "Seconds from sending a flush to reading its EXEC reply, applied flushes.", counter,
             r.flush_seconds_total);
    w.single("metricsd_redis_flush_duration_seconds_last", "Round trip of the last applied flush.",
             gauge, r.flush_seconds_last);
    w.single("metricsd_redis_pending_series",
             "Series whose deltas are not in Redis yet (in memory until the next flush).", gauge,
             r.pending_series);
}

void write_scrapes(const self_metrics_writer& w, const redis_stats& r) {
    constexpr auto counter = metric_type::counter;
    w.single("metricsd_redis_snapshots_total", "Redis snapshots read for scrapes.", counter,
             r.snapshots);
    w.single("metricsd_redis_snapshot_failures_total",
             "Scrapes answered 503 because Redis could not be read.", counter, r.snapshot_failures);
    auto skipped = w.labelled("metricsd_redis_skipped_total",
                              "Data in Redis skipped by scrapes, by what was wrong with it.",
                              counter, what_label);
    const std::pair<std::string_view, std::uint64_t> by_what[] = {
        {"bad_value", r.bad_values},
        {"malformed_field", r.malformed_fields},
        {"malformed_meta", r.malformed_meta},
        {"wrong_type_key", r.wrong_type_keys},
    };
    for (const auto& [what, n] : by_what)
        skipped.value({what}, static_cast<double>(n));
    w.single("metricsd_redis_meta_conflicts_total",
             "Scrapes that found a family declared differently by another writer.", counter,
             r.meta_conflicts);
}

} // namespace

void render_redis_self_metrics(const redis_stats& r, exposition_format f, std::string& out) {
    const self_metrics_writer w(f, out);
    write_flushes(w, r);
    write_scrapes(w, r);
}

} // namespace metricsd::daemon

#include "daemon/exposition/self_metrics.hpp"
#include "daemon/redis/redis_self_metrics.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace metricsd::test {
namespace {

using daemon::exposition_format;

daemon::redis_stats known_stats() {
    daemon::redis_stats r;
    r.connected = true;
    r.connects = 2;
    r.connect_failures = 1;
    r.flushes = 40;
    r.flush_failures = 3;
    r.commands = 900;
    r.flushed_series = 120;
    r.write_errors = 4;
    r.flush_seconds_total = 0.125;
    r.flush_seconds_last = 0.0025;
    r.snapshots = 17;
    r.snapshot_failures = 5;
    r.malformed_fields = 6;
    r.wrong_type_keys = 7;
    r.bad_values = 8;
    r.malformed_meta = 9;
    r.meta_conflicts = 10;
    r.pending_series = 11;
    return r;
}

std::string render(const daemon::redis_stats& r, exposition_format f) {
    std::string out;
    daemon::render_redis_self_metrics(r, f, out);
    return out;
}

TEST(redis_self_metrics, text_format_exact) {
    EXPECT_EQ(render(known_stats(), exposition_format::text),
              R"(# HELP metricsd_redis_connected 1 while the Redis connection is up.
# TYPE metricsd_redis_connected gauge
metricsd_redis_connected 1
# HELP metricsd_redis_connects_total Redis connections established.
# TYPE metricsd_redis_connects_total counter
metricsd_redis_connects_total 2
# HELP metricsd_redis_connect_failures_total Redis connection attempts that failed.
# TYPE metricsd_redis_connect_failures_total counter
metricsd_redis_connect_failures_total 1
# HELP metricsd_redis_flushes_total Flushes (one MULTI/EXEC each) applied by Redis.
# TYPE metricsd_redis_flushes_total counter
metricsd_redis_flushes_total 40
# HELP metricsd_redis_flush_failures_total Flushes not applied (aborted or connection lost); their deltas are sent again.
# TYPE metricsd_redis_flush_failures_total counter
metricsd_redis_flush_failures_total 3
# HELP metricsd_redis_flush_commands_total Commands inside applied flushes.
# TYPE metricsd_redis_flush_commands_total counter
metricsd_redis_flush_commands_total 900
# HELP metricsd_redis_flushed_series_total Series deltas inside applied flushes.
# TYPE metricsd_redis_flushed_series_total counter
metricsd_redis_flushed_series_total 120
# HELP metricsd_redis_write_errors_total Commands of applied flushes that Redis refused (e.g. WRONGTYPE).
# TYPE metricsd_redis_write_errors_total counter
metricsd_redis_write_errors_total 4
# HELP metricsd_redis_flush_duration_seconds_total Seconds from sending a flush to reading its EXEC reply, applied flushes.
# TYPE metricsd_redis_flush_duration_seconds_total counter
metricsd_redis_flush_duration_seconds_total 0.125
# HELP metricsd_redis_flush_duration_seconds_last Round trip of the last applied flush.
# TYPE metricsd_redis_flush_duration_seconds_last gauge
metricsd_redis_flush_duration_seconds_last 0.0025
# HELP metricsd_redis_pending_series Series whose deltas are not in Redis yet (in memory until the next flush).
# TYPE metricsd_redis_pending_series gauge
metricsd_redis_pending_series 11
# HELP metricsd_redis_snapshots_total Redis snapshots read for scrapes.
# TYPE metricsd_redis_snapshots_total counter
metricsd_redis_snapshots_total 17
# HELP metricsd_redis_snapshot_failures_total Scrapes answered 503 because Redis could not be read.
# TYPE metricsd_redis_snapshot_failures_total counter
metricsd_redis_snapshot_failures_total 5
# HELP metricsd_redis_skipped_total Data in Redis skipped by scrapes, by what was wrong with it.
# TYPE metricsd_redis_skipped_total counter
metricsd_redis_skipped_total{what="bad_value"} 8
metricsd_redis_skipped_total{what="malformed_field"} 6
metricsd_redis_skipped_total{what="malformed_meta"} 9
metricsd_redis_skipped_total{what="wrong_type_key"} 7
# HELP metricsd_redis_meta_conflicts_total Scrapes that found a family declared differently by another writer.
# TYPE metricsd_redis_meta_conflicts_total counter
metricsd_redis_meta_conflicts_total 10
)");
}

TEST(redis_self_metrics, openmetrics_exact) {
    EXPECT_EQ(render(known_stats(), exposition_format::openmetrics),
              R"(# HELP metricsd_redis_connected 1 while the Redis connection is up.
# TYPE metricsd_redis_connected gauge
metricsd_redis_connected 1
# HELP metricsd_redis_connects Redis connections established.
# TYPE metricsd_redis_connects counter
metricsd_redis_connects_total 2
# HELP metricsd_redis_connect_failures Redis connection attempts that failed.
# TYPE metricsd_redis_connect_failures counter
metricsd_redis_connect_failures_total 1
# HELP metricsd_redis_flushes Flushes (one MULTI/EXEC each) applied by Redis.
# TYPE metricsd_redis_flushes counter
metricsd_redis_flushes_total 40
# HELP metricsd_redis_flush_failures Flushes not applied (aborted or connection lost); their deltas are sent again.
# TYPE metricsd_redis_flush_failures counter
metricsd_redis_flush_failures_total 3
# HELP metricsd_redis_flush_commands Commands inside applied flushes.
# TYPE metricsd_redis_flush_commands counter
metricsd_redis_flush_commands_total 900
# HELP metricsd_redis_flushed_series Series deltas inside applied flushes.
# TYPE metricsd_redis_flushed_series counter
metricsd_redis_flushed_series_total 120
# HELP metricsd_redis_write_errors Commands of applied flushes that Redis refused (e.g. WRONGTYPE).
# TYPE metricsd_redis_write_errors counter
metricsd_redis_write_errors_total 4
# HELP metricsd_redis_flush_duration_seconds Seconds from sending a flush to reading its EXEC reply, applied flushes.
# TYPE metricsd_redis_flush_duration_seconds counter
metricsd_redis_flush_duration_seconds_total 0.125
# HELP metricsd_redis_flush_duration_seconds_last Round trip of the last applied flush.
# TYPE metricsd_redis_flush_duration_seconds_last gauge
metricsd_redis_flush_duration_seconds_last 0.0025
# HELP metricsd_redis_pending_series Series whose deltas are not in Redis yet (in memory until the next flush).
# TYPE metricsd_redis_pending_series gauge
metricsd_redis_pending_series 11
# HELP metricsd_redis_snapshots Redis snapshots read for scrapes.
# TYPE metricsd_redis_snapshots counter
metricsd_redis_snapshots_total 17
# HELP metricsd_redis_snapshot_failures Scrapes answered 503 because Redis could not be read.
# TYPE metricsd_redis_snapshot_failures counter
metricsd_redis_snapshot_failures_total 5
# HELP metricsd_redis_skipped Data in Redis skipped by scrapes, by what was wrong with it.
# TYPE metricsd_redis_skipped counter
metricsd_redis_skipped_total{what="bad_value"} 8
metricsd_redis_skipped_total{what="malformed_field"} 6
metricsd_redis_skipped_total{what="malformed_meta"} 9
metricsd_redis_skipped_total{what="wrong_type_key"} 7
# HELP metricsd_redis_meta_conflicts Scrapes that found a family declared differently by another writer.
# TYPE metricsd_redis_meta_conflicts counter
metricsd_redis_meta_conflicts_total 10
)");
}

// The Redis families follow the daemon's others in one scrape: no OpenMetrics family name may
// appear twice across both.
TEST(redis_self_metrics, family_names_are_unique_beside_the_daemons_own) {
    std::string out;
    daemon::render_self_metrics({}, exposition_format::openmetrics, out);
    daemon::render_redis_self_metrics(known_stats(), exposition_format::openmetrics, out);
    std::set<std::string> names;
    for (std::size_t pos = 0; (pos = out.find("# TYPE ", pos)) != std::string::npos;) {
        pos += 7;
        const std::string name = out.substr(pos, out.find(' ', pos) - pos);
        EXPECT_TRUE(names.insert(name).second) << "duplicate family " << name;
    }
    EXPECT_EQ(names.size(), 41u + 15u); // the daemon's 41 (self_metrics_test) + 15 Redis
    EXPECT_EQ(out.find("# EOF"), std::string::npos);
}

} // namespace
} // namespace metricsd::test

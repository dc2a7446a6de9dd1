// The daemon's own metrics (metricsd_*), rendered after the store's families on every scrape.
// Pure: the caller copies the numbers into a snapshot, so the writer needs no sockets or store
// and tests can pin its exact output.
#pragma once

#include "daemon/exposition/exposition.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsd::daemon {

/// Responses of the HTTP endpoint with one route and status code.
struct http_request_count {
    std::string_view route; ///< "/metrics", ..., "other"
    unsigned code = 0;      ///< 0: a status outside http_counted_codes, rendered as "other"
    std::uint64_t count = 0;
};

/// The Redis backend's numbers (redis_sink::stats()).
struct redis_stats {
    bool connected = false;
    std::uint64_t connects = 0;         ///< connections established (the first one included)
    std::uint64_t connect_failures = 0; ///< attempts that failed (refused, AUTH, timeout)
    std::uint64_t flushes = 0;          ///< MULTI/EXEC flushes applied
    std::uint64_t flush_failures = 0;   ///< flushes not applied (aborted, or link lost)
    std::uint64_t commands = 0;         ///< commands inside applied flushes
    std::uint64_t flushed_series = 0;   ///< series deltas inside applied flushes
    std::uint64_t write_errors = 0;     ///< commands of applied flushes that failed (WRONGTYPE)
    double flush_seconds_total = 0;     ///< round trip of applied flushes
    double flush_seconds_last = 0;
    std::uint64_t snapshots = 0; ///< snapshots read for scrapes
    std::uint64_t snapshot_failures = 0;
    std::uint64_t malformed_fields = 0; ///< hash fields that are not label JSON: skipped
    std::uint64_t wrong_type_keys = 0;  ///< keys of the wrong type: skipped
    std::uint64_t bad_values = 0;       ///< values that are not numbers: skipped
    std::uint64_t malformed_meta = 0;   ///< metadata records that do not decode: skipped
    std::uint64_t meta_conflicts = 0;   ///< families whose record differs from ours
    std::uint64_t pending_series = 0;   ///< series with deltas not yet in Redis
};

/// Every number the self-metrics show, copied at scrape time. Zero counts may be left in the
/// vectors: the writer skips them, so a series appears only once something happened.
struct self_metrics_snapshot {
    std::string version;
    double start_time_seconds = 0; ///< Unix time the daemon started

    std::uint64_t ingest_bytes = 0;
    std::uint64_t ingest_frames = 0;
    std::uint64_t ingest_ops_applied = 0;
    std::uint64_t ingest_ops_rejected = 0;
    std::uint64_t ingest_ops_dropped = 0;
    std::uint64_t ingest_syncs = 0;
    /// ERROR frames sent, by error code name ("bad_magic", ...), in any order.
    std::vector<std::pair<std::string_view, std::uint64_t>> ingest_errors;
    std::uint64_t ingest_connections_open = 0;
    std::uint64_t ingest_connections_total = 0;
    std::uint64_t ingest_connections_rejected = 0;

    std::uint64_t series = 0;
    std::uint64_t families = 0;
    std::uint64_t workers = 0;        ///< live worker connections
    bool series_expiry = false;       ///< series_ttl is on: show metricsd_series_expired_total
    std::uint64_t series_expired = 0; ///< series dropped or reset by series expiry

    std::vector<http_request_count> http_requests; ///< in any order
    std::uint64_t http_connections_rejected = 0;
    std::uint64_t scrapes = 0;
    double scrape_seconds_total = 0;    ///< completed scrapes only: the current one is unfinished
    const redis_stats* redis = nullptr; ///< the Redis backend's, or null (memory backend)
};

/// Append the metricsd_* families (HELP, TYPE, samples) without a trailer: call it between the
/// store's families and render_trailer().
void render_self_metrics(const self_metrics_snapshot& s, exposition_format f, std::string& out);

} // namespace metricsd::daemon

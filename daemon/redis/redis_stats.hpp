// The Redis backend's counters (redis_backend::stats()), shown as metricsd_redis_* self-metrics.
// Pure: plain numbers.
#pragma once

#include <cstdint>

namespace metricsd::daemon {

/// The Redis backend's numbers (redis_backend::stats()).
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

} // namespace metricsd::daemon

// What a Redis flush sends for a series that changed: its cells minus what earlier flushes
// already wrote (flushed_state, kept by the backend's flush_ledger), as series_delta records
// for plan_flush. Pure.
//
// How each kind of series travels (REDIS_LAYOUT.md has the long form):
//   counters, histograms, summaries  add the increase since the last flush
//   gauges sum                       add the change of this daemon's combined value
//   gauges shared                    SET after a set op, else add the change
//   gauges max/min/mostrecent        SET this daemon's combined value (last writer wins)
//   gauges all                       SET one field per pid (`pid` label last)
//   gauges live*                     SET this daemon's own contribution in its live key (one
//                                    field per pid for liveall), removed when nothing is left;
//                                    the key's lease drops it if the daemon dies
#pragma once

#include "daemon/redis/redis_flush.hpp"
#include "daemon/store/series.hpp"

#include <cstdint>
#include <map>
#include <vector>

namespace metricsd::daemon {

/// What this daemon has written to Redis for one series: the totals its flushes included so
/// far. A flush sends the difference between the cells and this.
struct flushed_state {
    double value = 0;           ///< counter total, or the gauge contribution
    std::vector<double> counts; ///< histogram per-bucket counts (not cumulative)
    double sum = 0;
    double count = 0;
    std::map<std::int64_t, double> pids; ///< per-pid gauge modes: the fields written
    std::int64_t stamp_ms = 0;           ///< live* gauges: when `value` was first written
};

/// Append the deltas of one series (current cells minus `flushed`) to `out`; when `next` is
/// not null, also the state Redis will hold for this daemon once they are applied. `assigned`:
/// a set op is among the changes not yet written, so a `shared` gauge sends a SET, not a
/// delta. `now_ms` (Unix time) stamps live* contributions that changed.
void series_deltas(const series& s, const flushed_state& flushed, bool assigned,
                   std::vector<series_delta>& out, std::int64_t now_ms,
                   flushed_state* next = nullptr);

} // namespace metricsd::daemon

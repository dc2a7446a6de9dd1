// What a Redis flush sends for the series that changed: each series' cells minus what earlier
// flushes already wrote (series::flushed), as series_delta records for plan_flush. Pure: the
// sink (redis_sink.hpp) does the IO and calls settle_* once it knows how the flush ended.
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
#include "daemon/store/store.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace metricsd::daemon {

/// One flush's worth of changed series, kept until the flush's outcome is known.
struct flush_batch {
    std::vector<series_delta> deltas;
    std::vector<daemon::series*> taken; ///< marked `flushing` until settled
    std::vector<flushed_state> next;    ///< parallel to `taken`: their state once applied
    std::vector<bool> was_set;          ///< parallel to `taken`: a shared-gauge SET is owed

    bool empty() const noexcept { return taken.empty(); }
    void clear();
};

/// Append the deltas of one series (current cells minus `s.flushed`) to `out`; when `next` is
/// not null, also the state Redis will hold for this daemon once they are applied.
/// `now_ms` (Unix time) stamps live* contributions that changed.
void series_deltas(const series& s, std::vector<series_delta>& out, std::int64_t now_ms,
                   flushed_state* next = nullptr);

/// Take the changed series out of the store into `batch` (cleared first), at most `limit` of
/// them: the rest stay changed for the next flush, so one flush (one MULTI/EXEC that Redis
/// runs without serving anyone else) stays short however many series changed at once.
void collect_batch(store& st, flush_batch& batch, std::int64_t now_ms,
                   std::size_t limit = SIZE_MAX);

/// The flush was applied: what it sent is in Redis now.
void settle_applied(flush_batch& batch);
/// The flush was not applied (or may not have been and will be sent again): its series are
/// changed again, so the next flush sends their whole difference.
void settle_failed(store& st, flush_batch& batch);

/// The not-yet-flushed deltas of every changed series (for a scrape's overlay).
void pending_deltas(const store& st, std::int64_t now_ms, std::vector<series_delta>& out);

/// Mark every live* gauge series changed, so the next flush writes all of this daemon's live
/// contributions again (after a reconnect, and with each lease renewal: Redis may have lost
/// them).
void mark_live_series(store& st);

} // namespace metricsd::daemon

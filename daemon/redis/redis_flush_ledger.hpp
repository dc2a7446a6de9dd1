// The Redis backend's per-series bookkeeping: what each flush took from the store, and what
// Redis holds for this daemon once it is applied (flushed_state). The store only offers the
// generic part: its list of changed series, holds that keep a series through series expiry,
// and a hook when expiry erases one, which drops its entry here. Pure; io_context thread only.
#pragma once

#include "daemon/redis/redis_delta.hpp"
#include "daemon/store/store.hpp"

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace metricsd::daemon {

/// One flush's worth of changed series, kept until the flush's outcome is known.
struct flush_batch {
    std::vector<series_delta> deltas;
    std::vector<series_change> taken; ///< held in the store until settled
    std::vector<flushed_state> next;  ///< parallel to `taken`: their state once applied

    bool empty() const noexcept { return taken.empty(); }
    void clear();
};

/// What the backend keeps about one series between flushes.
struct flush_record {
    flushed_state flushed;
    /// A `shared` gauge's set was taken by a flush that was not applied: the next flush owes
    /// Redis a SET, not a delta.
    bool set_owed = false;
    /// Taken by a flush whose outcome is not known yet: a flush planned meanwhile leaves the
    /// series for later, so that each delta is against what Redis surely holds.
    bool taken = false;
};

/// The table of flush records, keyed by series. Registers itself with the store as the
/// consumer of its changes (and its erase hook) for its lifetime.
class flush_ledger {
public:
    explicit flush_ledger(store& st);
    ~flush_ledger();
    flush_ledger(const flush_ledger&) = delete;
    flush_ledger& operator=(const flush_ledger&) = delete;

    /// Take the changed series out of the store into `batch` (cleared first), at most `limit`
    /// of them: the rest stay changed for the next flush, so one flush (one MULTI/EXEC that
    /// Redis runs without serving anyone else) stays short however many series changed at
    /// once. Series another unsettled batch holds stay changed too. `now_ms` (Unix time)
    /// stamps live* contributions that changed.
    void collect(flush_batch& batch, std::int64_t now_ms, std::size_t limit = SIZE_MAX);
    /// The flush was applied: what it sent is in Redis now.
    void settle_applied(flush_batch& batch);
    /// The flush was not applied (or may not have been and will be sent again): its series
    /// are changed again, so the next flush sends their whole difference.
    void settle_failed(flush_batch& batch);

    /// The not-yet-flushed deltas of every changed series (for a scrape's overlay).
    void pending_deltas(std::int64_t now_ms, std::vector<series_delta>& out) const;

    /// Mark every live* gauge series changed, so the next flush writes all of this daemon's
    /// live contributions again (after a reconnect, and with each lease renewal: Redis may
    /// have lost them).
    void mark_live_series();

    /// Series with a record (each flushed at least once and not erased since).
    std::size_t size() const noexcept { return records_.size(); }

private:
    store& store_;
    std::unordered_map<const series*, flush_record> records_;
};

} // namespace metricsd::daemon

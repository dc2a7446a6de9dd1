#include "daemon/redis/redis_flush_ledger.hpp"

#include "daemon/redis/redis_layout.hpp"

namespace metricsd::daemon {

void flush_batch::clear() {
    deltas.clear();
    taken.clear();
    next.clear();
}

flush_ledger::flush_ledger(store& st) : store_(st) {
    // Deltas against our records: series expiry keeps what we have not taken or settled.
    store_.set_changes_consumed(true);
    store_.add_erase_hook(this, [this](const series& s) noexcept { records_.erase(&s); });
}

flush_ledger::~flush_ledger() {
    store_.remove_erase_hook(this);
    store_.set_changes_consumed(false);
}

void flush_ledger::collect(flush_batch& batch, std::int64_t now_ms, std::size_t limit) {
    batch.clear();
    store_.take_dirty(batch.taken, limit);
    // Series an unsettled batch holds go back to the changed list (their set, if any, owed).
    std::size_t kept = 0;
    std::vector<series*> busy;
    for (auto& change : batch.taken) {
        flush_record& r = records_[change.target];
        if (r.taken) {
            r.set_owed = r.set_owed || change.assigned;
            busy.push_back(change.target);
            continue;
        }
        r.taken = true;
        batch.taken[kept++] = change;
    }
    batch.taken.resize(kept);
    for (series* s : busy)
        store_.mark_dirty(*s);
    batch.next.resize(batch.taken.size());
    for (std::size_t i = 0; i < batch.taken.size(); ++i) {
        auto& change = batch.taken[i];
        flush_record& r = records_[change.target];
        // A SET that a failed flush took is still owed; settle_failed gives it back below.
        change.assigned = change.assigned || r.set_owed;
        r.set_owed = false;
        series_deltas(*change.target, r.flushed, change.assigned, batch.deltas, now_ms,
                      &batch.next[i]);
        store_.hold(*change.target);
    }
}

void flush_ledger::settle_applied(flush_batch& batch) {
    for (std::size_t i = 0; i < batch.taken.size(); ++i) {
        series& s = *batch.taken[i].target;
        flush_record& r = records_[&s];
        r.flushed = std::move(batch.next[i]);
        r.taken = false;
        store_.release(s);
    }
    batch.clear();
}

void flush_ledger::settle_failed(flush_batch& batch) {
    for (const auto& change : batch.taken) {
        flush_record& r = records_[change.target];
        r.taken = false;
        if (change.assigned)
            r.set_owed = true;
        store_.release(*change.target);
        store_.mark_dirty(*change.target);
    }
    batch.clear();
}

void flush_ledger::pending_deltas(std::int64_t now_ms, std::vector<series_delta>& out) const {
    static const flush_record none;
    for (const series* s : store_.dirty_series()) {
        const auto it = records_.find(s);
        const flush_record& r = it == records_.end() ? none : it->second;
        series_deltas(*s, r.flushed, s->assigned || r.set_owed, out, now_ms);
    }
}

void flush_ledger::mark_live_series() {
    for (const auto& [name, fam] : store_.families())
        if (uses_live_key(fam->spec()))
            store_.mark_family_dirty(*fam);
}

} // namespace metricsd::daemon

// The aggregation store: families -> series -> cells, and the workers that feed them.
// Pure logic: no IO, no logging. io_context thread only; not thread-safe.
#pragma once

#include "daemon/store/family.hpp"
#include "daemon/store/family_spec.hpp"
#include "daemon/store/outcome.hpp"
#include "daemon/store/pointer_set.hpp"
#include "daemon/store/series.hpp"
#include "daemon/store/series_expiry.hpp"

#include <metricsd/protocol/messages.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace metricsd::daemon {

/// Limits on what clients can make the store hold. Each refusal names the limit.
struct store_limits {
    std::size_t max_families = 10'000;
    std::size_t max_series_per_family = 10'000;
    std::size_t max_series_total = 1'000'000;
    std::size_t max_label_value_length = 1024; ///< bytes
    /// The store's byte budget: families, series (header, cells of their type, index) and
    /// interned label values, as store_cost.hpp counts them. A new family or series that
    /// would pass it is refused like one over max_series_total; existing ones keep working.
    std::size_t max_store_bytes = std::size_t{256} << 20;
};

/// What a connection holds per series handle: the cell its ops go to.
struct binding {
    enum class kind : std::uint8_t { counter, gauge_slot, gauge_shared, histogram, summary };
    kind cell = kind::counter;
    series* target = nullptr;
    gauge_slot* slot = nullptr; ///< kind::gauge_slot only: this worker's slot
};

/// One series taken by store::take_dirty.
struct series_change {
    series* target = nullptr;
    bool assigned = false; ///< a set op was among its changes (series::assigned)
};

/// Result of applying one op.
enum class apply_status : std::uint8_t { ok, invalid_op, invalid_value };

class store {
public:
    explicit store(store_limits limits = {}) : limits_(limits) {}
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    /// A new worker (one connection) with the pid the kernel reported for it.
    worker_id add_worker(std::int64_t pid);
    /// The worker is gone: `live*` gauges forget its values, every other mode folds them into
    /// the series' retired state. Its bindings become invalid. Unknown ids are ignored.
    void retire_worker(worker_id w);

    /// Validate and register a family, or return the existing one when the definition matches.
    outcome<const family*> declare_family(const protocol::family_decl& decl);
    /// Find or create the series for these label values and bind worker `w` to it.
    outcome<binding> declare_series(const family* f, std::span<const std::string_view> values,
                                    worker_id w);

    /// Apply one op. Hot path: no allocation, no lookup.
    apply_status apply(const binding& b, protocol::op_code op, double v) noexcept;
    /// Apply `count` observations folded by a client (a FOLD frame): per-bucket counts (not
    /// cumulative, +Inf last; bounds + 1 of them for a histogram, none for a summary) adding up
    /// to `count`, and their sum. Same result as observing each of them. No allocation.
    /// The decoder checked that the counts add up. Defined in store_fold.cpp.
    apply_status apply_fold(const binding& b, const protocol::fold& f) noexcept;

    const std::map<std::string, std::unique_ptr<family>, std::less<>>& families() const noexcept {
        return families_;
    }
    std::size_t series_count() const noexcept { return series_total_; }
    std::size_t live_workers() const noexcept { return workers_.size(); }
    const store_limits& limits() const noexcept { return limits_; }
    /// Bytes the store holds by its cost model (store_cost.hpp), against max_store_bytes.
    std::size_t bytes() const noexcept { return bytes_; }
    /// Families and series refused because they would pass max_store_bytes.
    std::uint64_t budget_refusals() const noexcept { return budget_refusals_; }

    /// Series changed since the last take_dirty(), each once, in first-change order.
    std::span<series* const> dirty_series() const noexcept { return dirty_; }
    /// Take the first `limit` changed series (`out` is replaced) and clear their marks; the
    /// rest stay changed, in order, for the next take.
    void take_dirty(std::vector<series_change>& out, std::size_t limit = SIZE_MAX);
    /// Mark a series changed (a consumer gives back changes it could not deliver this way).
    void mark_dirty(series& s) noexcept {
        if (!s.dirty) {
            s.dirty = true;
            dirty_.push_back(&s); // never reallocates: capacity >= series count (reserve_dirty)
            if (dirty_.size() == dirty_alarm_at_ && dirty_alarm_) [[unlikely]]
                dirty_alarm_();
        }
    }
    /// Mark every series of a family changed (a consumer that must rewrite them all).
    void mark_family_dirty(const family& f) noexcept;
    /// Call `alarm` whenever the number of changed series reaches `threshold` (a consumer
    /// takes them early then). `alarm` must not throw. Threshold 0 or an empty alarm: none.
    void set_dirty_alarm(std::size_t threshold, std::function<void()> alarm) {
        dirty_alarm_at_ = threshold;
        dirty_alarm_ = std::move(alarm);
    }
    /// A consumer takes the changes and sends them elsewhere as differences: series expiry then
    /// keeps series with changes not yet taken, and never resets a bound series (that would
    /// send negative differences). A dirty alarm being set implies it, too.
    void set_changes_consumed(bool consumed) noexcept { changes_consumed_ = consumed; }
    /// Keep `s` from series expiry until as many release() calls: a consumer holds the series
    /// whose taken changes it has not settled yet.
    void hold(series& s) noexcept { ++s.holds; }
    void release(series& s) noexcept { --s.holds; }
    /// Called with each series series expiry erases, just before it goes, so a consumer can
    /// drop what it keeps about it (the Redis ledger, the per-uid quotas). Must not throw.
    /// One hook per `owner`; adding again replaces it.
    void add_erase_hook(const void* owner, std::function<void(const series&)> hook) {
        remove_erase_hook(owner);
        erase_hooks_.emplace_back(owner, std::move(hook));
    }
    void remove_erase_hook(const void* owner) noexcept {
        std::erase_if(erase_hooks_, [owner](const auto& h) { return h.first == owner; });
    }

    /// Called with each family when it is first declared (not when declared again). Must not
    /// throw. Empty: none. The app warns there about a series_ttl entry misspelling its name.
    void set_family_hook(std::function<void(const family&)> hook) {
        family_hook_ = std::move(hook);
    }

    /// Series expiry: the TTL of each family, for families declared so far and later ones.
    void set_series_ttl(series_ttl_policy policy);
    const series_ttl_policy& series_ttl() const noexcept { return ttl_policy_; }
    /// Expire the series that saw no op for their family's TTL, as of `now` (a monotonic
    /// clock; call this every sweep_period(), see series_expiry.hpp). A series is counted as
    /// idle from the first sweep after its last op, so it goes between TTL and TTL + one period
    /// after that op. An idle series that no connected worker is bound to is erased: it leaves
    /// its family, the dirty list and the limits, and a new op re-creates it from zero. One
    /// that a worker still holds is reset to zero (cells, gauge slots, retired values) and
    /// hidden from the exposition until its next op, unless changes are consumed, where it
    /// stays as it is; changed series are never erased then, held ones never. Returns
    /// how many series expired (each reset-and-hidden series counts once).
    std::size_t expire_idle_series(std::chrono::steady_clock::time_point now);
    /// Series expired since the store was made (metricsd_series_expired_total).
    std::uint64_t expired_series_total() const noexcept { return expired_total_; }

private:
    struct worker_state {
        std::int64_t pid = 0;
        std::unordered_map<series*, std::list<gauge_slot>::iterator> slots;
        pointer_set<series> bound; ///< every series bound, for series::bound_workers
    };

    outcome<series*> find_or_create_series(family& f, std::span<const std::string_view> values);
    binding bind(family& f, series& s, worker_id w, worker_state& ws);
    static void fold_retired(series& s, protocol::gauge_mode mode, const gauge_slot& slot);
    /// Keep room for every series in dirty_, so mark_dirty (on the hot path) never allocates.
    void reserve_dirty();
    /// An op changed `s`: stamp it for series expiry and mark it changed.
    void note_op(series& s) noexcept {
        s.last_epoch = epoch_;
        mark_dirty(s);
    }
    bool changes_consumed() const noexcept { return changes_consumed_ || bool(dirty_alarm_); }
    /// Sweep one family: stamp active series, reset idle bound ones, gather idle unbound ones
    /// in doomed_. Returns how many series it expired.
    std::size_t expire_in(family& f, std::chrono::steady_clock::time_point now,
                          std::uint32_t sweep_epoch);
    static void reset_cells(series& s);
    /// Add `cost` to bytes_ if it fits max_store_bytes; false (nothing taken) if not.
    bool take_bytes(std::size_t cost) noexcept;
    /// The refusal of `what`, which needed `cost` bytes over the budget; counts it.
    failure over_budget(std::string_view what, std::size_t cost);

    store_limits limits_;
    std::map<std::string, std::unique_ptr<family>, std::less<>> families_;
    std::unordered_map<std::string, const family*> claimed_; ///< sample name -> owner
    std::unordered_map<worker_id, worker_state> workers_;
    worker_id next_worker_ = 1;
    std::size_t series_total_ = 0;
    std::size_t bytes_ = 0;
    std::uint64_t budget_refusals_ = 0;
    std::vector<series*> dirty_;
    std::size_t dirty_alarm_at_ = 0;
    std::function<void()> dirty_alarm_;
    std::vector<std::pair<const void*, std::function<void(const series&)>>> erase_hooks_;
    std::function<void(const family&)> family_hook_;
    std::uint64_t clock_ = 0; ///< orders gauge writes for the mostrecent modes
    bool changes_consumed_ = false;
    series_ttl_policy ttl_policy_;
    /// Series expiry: ops stamp their series with this; every sweep starts a new one.
    std::uint32_t epoch_ = 1;
    std::uint64_t expired_total_ = 0;
    /// One sweep's series to erase, gathered first so dirty_ is cleaned before they go.
    std::vector<std::pair<family*, series*>> doomed_;
};

inline apply_status store::apply(const binding& b, protocol::op_code op, double v) noexcept {
    using protocol::op_code;
    switch (b.cell) {
    case binding::kind::counter:
        if (op != op_code::inc)
            return apply_status::invalid_op;
    {
        // A counter only goes up and stays finite: negative, NaN and infinite increments, and
        // one that would overflow it to +Inf (which it could never leave, and the state file
        // would keep), are refused rather than saturated, so the client hears of it. One
        // branch: NaN fails `v >= 0`, and an infinite `v` or an overflow fails `next <= max`.
        const double next = b.target->value + v;
        if (!(v >= 0 && next <= std::numeric_limits<double>::max())) [[unlikely]]
            return apply_status::invalid_value;
        b.target->value = next;
        note_op(*b.target);
        return apply_status::ok;
    }
    case binding::kind::gauge_slot:
    case binding::kind::gauge_shared: {
        double& cell = b.cell == binding::kind::gauge_slot ? b.slot->value : b.target->value;
        if (op == op_code::set) {
            cell = v;
            b.target->assigned = true;
        } else if (op == op_code::inc || op == op_code::dec) {
            if (!std::isfinite(v))
                return apply_status::invalid_value;
            cell += op == op_code::inc ? v : -v;
        } else {
            return apply_status::invalid_op;
        }
        if (b.slot)
            b.slot->seq = ++clock_;
        note_op(*b.target);
        return apply_status::ok;
    }
    case binding::kind::histogram:
    case binding::kind::summary:
        break;
    }
    if (op != op_code::observe)
        return apply_status::invalid_op;
    if (std::isnan(v))
        return apply_status::invalid_value;
    note_op(*b.target);
    if (b.cell == binding::kind::summary) {
        auto& m = b.target->summary();
        m.sum += v;
        m.count += 1;
        return apply_status::ok;
    }
    // Buckets are inclusive upper bounds: v lands in the first bucket whose bound is >= v,
    // or in +Inf (the last count).
    const auto& bounds = b.target->owner->spec().bounds;
    const auto i = std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin();
    auto& h = b.target->histogram();
    h.counts[static_cast<std::size_t>(i)] += 1;
    h.sum += v;
    h.count += 1;
    return apply_status::ok;
}

} // namespace metricsd::daemon

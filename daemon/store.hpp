// The aggregation store: families -> series -> cells, and the workers that feed them.
// Pure logic: no IO, no logging. io_context thread only; not thread-safe.
#pragma once

#include "daemon/family.hpp"
#include "daemon/outcome.hpp"
#include "daemon/series.hpp"

#include <metricsd/protocol/messages.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace metricsd::daemon {

/// Limits on what clients can make the store hold. Each refusal names the limit.
struct store_limits {
    std::size_t max_families = 10'000;
    std::size_t max_series_per_family = 10'000;
    std::size_t max_series_total = 1'000'000;
    std::size_t max_label_value_length = 1024; ///< bytes
};

/// A family: its definition and its series, ordered by label values.
class family {
public:
    explicit family(family_spec spec) : spec_(std::move(spec)) {}
    const family_spec& spec() const noexcept { return spec_; }
    const series_map& all_series() const noexcept { return series_; }

private:
    friend class store;
    family_spec spec_;
    series_map series_;
};

/// What a connection holds per series handle: the cell its ops go to.
struct binding {
    enum class kind : std::uint8_t { counter, gauge_slot, gauge_shared, histogram, summary };
    kind cell = kind::counter;
    series* target = nullptr;
    gauge_slot* slot = nullptr; ///< kind::gauge_slot only: this worker's slot
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

    const std::map<std::string, std::unique_ptr<family>, std::less<>>& families() const noexcept {
        return families_;
    }
    std::size_t series_count() const noexcept { return series_total_; }
    std::size_t live_workers() const noexcept { return workers_.size(); }
    const store_limits& limits() const noexcept { return limits_; }

private:
    struct worker_state {
        std::int64_t pid = 0;
        std::unordered_map<series*, std::list<gauge_slot>::iterator> slots;
    };

    outcome<series*> find_or_create_series(family& f, std::span<const std::string_view> values);
    binding bind(family& f, series& s, worker_id w, worker_state& ws);
    static void fold_retired(series& s, protocol::gauge_mode mode, const gauge_slot& slot);

    store_limits limits_;
    std::map<std::string, std::unique_ptr<family>, std::less<>> families_;
    std::unordered_map<std::string, const family*> claimed_; ///< sample name -> owner
    std::unordered_map<worker_id, worker_state> workers_;
    worker_id next_worker_ = 1;
    std::size_t series_total_ = 0;
    std::uint64_t clock_ = 0; ///< orders gauge writes for the mostrecent modes
};

inline apply_status store::apply(const binding& b, protocol::op_code op, double v) noexcept {
    using protocol::op_code;
    switch (b.cell) {
    case binding::kind::counter:
        if (op != op_code::inc)
            return apply_status::invalid_op;
        // A counter only goes up: negative, NaN and infinite increments would poison it.
        if (!(v >= 0) || std::isinf(v))
            return apply_status::invalid_value;
        b.target->value += v;
        return apply_status::ok;
    case binding::kind::gauge_slot:
    case binding::kind::gauge_shared: {
        double& cell = b.cell == binding::kind::gauge_slot ? b.slot->value : b.target->value;
        if (op == op_code::set) {
            cell = v;
        } else if (op == op_code::inc || op == op_code::dec) {
            if (!std::isfinite(v))
                return apply_status::invalid_value;
            cell += op == op_code::inc ? v : -v;
        } else {
            return apply_status::invalid_op;
        }
        if (b.slot)
            b.slot->seq = ++clock_;
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
    if (b.cell == binding::kind::summary) {
        b.target->summary.sum += v;
        b.target->summary.count += 1;
        return apply_status::ok;
    }
    // Buckets are inclusive upper bounds: v lands in the first bucket whose bound is >= v,
    // or in +Inf (the last count).
    const auto& bounds = b.target->owner->spec().bounds;
    const auto i = std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin();
    auto& h = b.target->histogram;
    h.counts[static_cast<std::size_t>(i)] += 1;
    h.sum += v;
    h.count += 1;
    return apply_status::ok;
}

} // namespace metricsd::daemon

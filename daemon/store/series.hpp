// Series and their cells: the data a store keeps per label-value set.
//
// A series is a slim header (56 bytes) common to every type: a counter's total or a shared
// gauge's one cell sits in it; what only some types need (histogram counts, summary sum and
// count, the per-worker slots and retired values of gauges that combine workers) is a side
// allocation made only for series of those types. Its label values live in its family, interned
// (family::label_value). io_context thread only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

class family;

/// Daemon-assigned identity of one connected worker (a connection). Never reused.
using worker_id = std::uint64_t;

/// One worker's contribution to a gauge whose mode combines workers.
struct gauge_slot {
    double value = 0;
    std::uint64_t seq = 0; ///< store clock at the last write; 0 = declared, never written
    std::int64_t pid = 0;
    worker_id worker = 0;
};

/// Histogram counts per bucket (not cumulative; the last one is +Inf), sum and count.
struct histogram_cell {
    std::vector<double> counts;
    double sum = 0;
    double count = 0;
};

struct summary_cell {
    double sum = 0;
    double count = 0;
};

/// What a gauge whose mode combines workers (every mode but `shared`) keeps beside its series.
struct gauge_workers {
    /// One slot per live worker bound to the series (a list: bindings point at their slot).
    std::list<gauge_slot> live;
    /// Retired workers folded into one value (sum: their total; max/min: the extreme;
    /// mostrecent: the last written, with its seq), so memory does not grow with them.
    bool has_retired = false;
    double retired = 0;
    std::uint64_t retired_seq = 0;
    /// Gauge mode `all` keeps retired workers per pid: that is the mode's meaning.
    std::map<std::int64_t, gauge_slot> retired_by_pid;
};

/// One label-value set of a family. Its address is stable for its life (bindings, the dirty
/// list and consumers hold pointers to it).
class series {
public:
    series() noexcept = default;
    series(const series&) = delete;
    series& operator=(const series&) = delete;
    ~series() { drop_cells(); }

    const family* owner = nullptr;
    /// Counter total, or the one cell of a `shared` gauge.
    double value = 0;
    /// Series expiry: the sweep time by which the last op had surely happened.
    std::chrono::steady_clock::time_point seen_at{};
    /// Series expiry: the store's epoch at the last op (the one write an op adds, so the hot
    /// path never reads a clock); each expiry sweep starts a new epoch (32 bits: a sweep a
    /// second lasts 136 years).
    std::uint32_t last_epoch = 0;
    /// Series expiry reset this series while a worker held it: it stays out of the exposition
    /// until an op carries an epoch >= this (see is_visible). 0: never hidden.
    std::uint32_t visible_from = 0;
    /// Consumers that still need this series (store::hold): changes taken but not settled.
    /// Series expiry never erases a held series.
    std::uint32_t holds = 0;
    /// Series expiry: connected workers bound to this series (each counted once, however many
    /// handles it uses). A bound series is never erased: the workers hold pointers to it.
    std::uint32_t bound_workers = 0;
    /// Changed since a consumer of changes last took it (store::take_dirty); new series start
    /// dirty so a consumer sees each one once, even at zero. Nobody takes them on the memory
    /// backend.
    bool dirty = false;
    /// A set op replaced a value since the changes were last taken: the change is an
    /// assignment, not only increments (take_dirty reports it, then clears it).
    bool assigned = false;
    /// Series expiry is erasing this series (set just before it leaves the store).
    bool expiring = false;

    /// The side cells of the series' type; only a series of that type has them.
    histogram_cell& histogram() noexcept { return *cells_.histogram; }
    const histogram_cell& histogram() const noexcept { return *cells_.histogram; }
    summary_cell& summary() noexcept { return *cells_.summary; }
    const summary_cell& summary() const noexcept { return *cells_.summary; }
    /// Gauges of every mode but `shared`.
    gauge_workers& gauge() noexcept { return *cells_.gauge; }
    const gauge_workers& gauge() const noexcept { return *cells_.gauge; }

private:
    friend class family;
    friend class series_range;
    enum class cells_kind : std::uint8_t { none, histogram, summary, gauge };

    void drop_cells() noexcept {
        switch (kind_) {
        case cells_kind::histogram:
            delete cells_.histogram;
            break;
        case cells_kind::summary:
            delete cells_.summary;
            break;
        case cells_kind::gauge:
            delete cells_.gauge;
            break;
        case cells_kind::none:
            break;
        }
        kind_ = cells_kind::none;
        cells_.histogram = nullptr;
    }

    /// Which member of cells_ is allocated (from the family's type, kept here so the destructor
    /// needs no family).
    cells_kind kind_ = cells_kind::none;
    /// Index of this series in its family's storage: where its label-value ids are.
    std::uint32_t slot_ = 0;
    union {
        histogram_cell* histogram;
        summary_cell* summary;
        gauge_workers* gauge;
    } cells_{nullptr};
};

/// False while series expiry has reset this series and no op reached it since: the
/// exposition skips it, so Prometheus sees it disappear rather than drop to zero.
inline bool is_visible(const series& s) noexcept {
    return s.last_epoch >= s.visible_from;
}

/// Orders label-value sets (as the store iterates them), and finds a stored
/// std::vector<std::string> from a span of views without building one.
struct label_values_less {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
        return std::lexicographical_compare(
            a.begin(), a.end(), b.begin(), b.end(),
            [](std::string_view x, std::string_view y) { return x < y; });
    }
};

} // namespace metricsd::daemon

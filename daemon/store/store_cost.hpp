// What the store's contents cost in memory, in bytes: the model behind max_store_bytes (the
// store's byte budget). Each figure follows the store's real layout (series.hpp, family.hpp,
// label_pool.hpp, flat_index.hpp) on a 64-bit glibc host, so the budget is a bound a user can
// reason about: `metricsd_store_bytes` sums these figures, and RSS tracks it (the store
// memory bench measures ~110 B for a counter with two short labels; the model says 112).
// Growth slack of the store's vectors is counted at its worst (2x), so the model errs high.
// Pure; constexpr where it can be.
#pragma once

#include "daemon/store/family_spec.hpp"
#include "daemon/store/series.hpp"

#include <cstddef>

namespace metricsd::daemon::store_cost {

/// Bytes glibc's malloc takes for a request of `n` bytes: an 8-byte header, 16-byte
/// alignment, 32 bytes at least.
constexpr std::size_t heap_block(std::size_t n) noexcept {
    const std::size_t chunk = (n + 8 + 15) & ~std::size_t{15};
    return chunk < 32 ? 32 : chunk;
}

/// Every series, whatever its type: the 56-byte header in the family's deque (with the deque's
/// chunk slack), its place in the label-value order (a u32 in a vector: 8 at worst), the hash
/// index (a u32 slot at most 3/4 and at least 3/8 full: 11 at worst) and the store's list of
/// changed series (a pointer reserved twice over: 16).
inline constexpr std::size_t series_base = 96;
static_assert(sizeof(series) == 56, "series_base counts a 56-byte series header");
/// Per label of the family: the series' key, a u32 value id per label (8 with vector slack).
inline constexpr std::size_t per_label = 8;

/// The side cells a series of this family allocates (series.hpp): none for counters and shared
/// gauges, the worker record for other gauges (its per-worker slots are the connection's, see
/// binding_bytes), sum and count for summaries, and the bucket counts for histograms.
inline std::size_t cells(const family_spec& spec) noexcept {
    switch (spec.type) {
    case protocol::metric_type::counter:
        return 0;
    case protocol::metric_type::histogram:
        return heap_block(sizeof(histogram_cell)) +
               heap_block(sizeof(double) * (spec.bounds.size() + 1));
    case protocol::metric_type::summary:
        return heap_block(sizeof(summary_cell));
    case protocol::metric_type::gauge:
        break;
    }
    return spec.mode == protocol::gauge_mode::shared ? 0 : heap_block(sizeof(gauge_workers));
}

/// One series of this family, its label values not included (they are interned: see
/// label_value).
inline std::size_t series_bytes(const family_spec& spec) noexcept {
    return series_base + per_label * spec.label_names.size() + cells(spec);
}

/// A label value the family's pool does not hold yet: its std::string in the pool's deque
/// (32), its use count (8 with slack), its hash slot (11) and, past the 15 bytes a string
/// keeps inline, its heap block. A value shared by many series is paid once.
constexpr std::size_t label_value(std::size_t length) noexcept {
    return 32 + 8 + 11 + (length > 15 ? heap_block(length + 1) : 0);
}

/// What a worker's binding to a series costs the store beside the series (paid by the
/// connection's budget, max_connection_bytes, not the store's): its entry in the worker's set
/// of bound series (a pointer at most 3/4 and at least 3/8 full: 21), and for a gauge whose
/// mode combines workers its slot (a list node, 64) and the slot's hash node and bucket (40).
constexpr std::size_t binding_bytes(bool with_gauge_slot) noexcept {
    static_assert(sizeof(gauge_slot) == 32);
    return 21 + (with_gauge_slot ? heap_block(sizeof(gauge_slot) + 16) + heap_block(24) + 8 : 0);
}

/// A family: the object, its entry in the store's map, its claimed sample names and its
/// definition's text (name, help, label names, bucket bounds).
std::size_t family_bytes(const family_spec& spec) noexcept;

} // namespace metricsd::daemon::store_cost

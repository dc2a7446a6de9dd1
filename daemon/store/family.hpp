// A family: its definition and its series. Series sit in contiguous chunks (a deque: addresses
// never move; an erased series' place is reused), each keyed by one 32-bit id per label from
// the family's label pools, found through a flat hash index. Iteration is in label-value order
// (as a std::map keyed by the values would give), kept as a list of slots sorted only when
// series came or went since the last walk. Pure; io_context thread only.
#pragma once

#include "daemon/store/family_spec.hpp"
#include "daemon/store/flat_index.hpp"
#include "daemon/store/label_pool.hpp"
#include "daemon/store/series.hpp"

#include <metricsd/protocol/wire.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

class family;

/// A family's series in label-value order, shaped like the std::map it replaced: each element
/// has `first` (the label values) and `second` (the series). The values are views into the
/// iterator: valid until it moves.
class series_range {
public:
    struct entry {
        std::span<const std::string_view> first;
        const series& second;
    };

    class iterator {
    public:
        using difference_type = std::ptrdiff_t;
        using value_type = entry;

        iterator() = default;
        iterator(const family* f, const std::uint32_t* pos) noexcept : f_(f), pos_(pos) {}
        entry operator*() const noexcept;
        /// `it->second`: the entry lives in the returned proxy.
        struct arrow {
            entry e;
            const entry* operator->() const noexcept { return &e; }
        };
        arrow operator->() const noexcept { return {**this}; }
        iterator& operator++() noexcept {
            ++pos_;
            return *this;
        }
        bool operator==(const iterator& o) const noexcept { return pos_ == o.pos_; }

    private:
        const family* f_ = nullptr;
        const std::uint32_t* pos_ = nullptr;
        mutable std::array<std::string_view, protocol::limits::max_labels> values_{};
    };

    explicit series_range(const family& f) noexcept : f_(&f) {}
    iterator begin() const;
    iterator end() const;
    std::size_t size() const noexcept;
    bool empty() const noexcept { return size() == 0; }
    /// The series with these label values, or end().
    iterator find(std::span<const std::string_view> values) const;
    iterator find(const std::vector<std::string>& values) const;
    /// The first series whose label values sort after `values` (a scrape resuming after the
    /// last series it wrote, which may be gone since), or end().
    iterator upper_bound(std::span<const std::string> values) const;
    /// The series with these label values; throws std::out_of_range when there is none.
    const series& at(std::span<const std::string_view> values) const;
    const series& at(const std::vector<std::string>& values) const;

private:
    const family* f_;
};

class family {
public:
    explicit family(family_spec spec);
    family(const family&) = delete;
    family& operator=(const family&) = delete;

    const family_spec& spec() const noexcept { return spec_; }
    /// The series, in label-value order.
    series_range all_series() const noexcept { return series_range(*this); }
    std::size_t series_count() const noexcept { return index_.size(); }
    /// Series expiry: idle time after which this family's series go (0: never).
    std::chrono::seconds ttl() const noexcept { return ttl_; }

    /// Label value `i` (in spec().label_names order) of `s`, a series of this family.
    std::string_view label_value(const series& s, std::size_t i) const noexcept {
        return pools_[i].value(keys_[s.slot_ * label_count_ + i]);
    }
    /// All of them, into `out` (replaced).
    void copy_label_values(const series& s, std::vector<std::string>& out) const;

private:
    friend class store;
    friend class series_range;

    /// The series with these values, or nullptr.
    series* find(std::span<const std::string_view> values) noexcept;
    /// A new series with these values (not present yet), its cells at zero.
    series& create(std::span<const std::string_view> values);
    /// What create(values) would add to the store's bytes (store_cost.hpp): the series and
    /// the label values its pools do not hold yet.
    std::size_t cost_of_new(std::span<const std::string_view> values) const noexcept;
    /// Take `s` out: its slot and label values are freed once settle_erased() runs. Returns
    /// the bytes it gives back, as cost_of_new counted them.
    std::size_t erase(series& s) noexcept;
    /// After erase() calls: drop the erased series from the order and reuse their slots.
    void settle_erased();
    /// Sort what came since the last walk into the order (const: the order is a cache).
    void sort_order() const;
    bool less(std::uint32_t a, std::uint32_t b) const noexcept;
    std::size_t hash_of(std::uint32_t slot) const noexcept;
    static std::size_t hash_ids(const std::uint32_t* ids, std::size_t n) noexcept;

    family_spec spec_;
    std::size_t label_count_;
    std::vector<label_pool> pools_; ///< one per label name
    std::deque<series> slots_;      ///< by slot; owner == nullptr: free
    std::vector<std::uint32_t> keys_; ///< label_count_ value ids per slot
    std::vector<std::uint32_t> free_; ///< slots to reuse
    std::vector<std::uint32_t> erased_; ///< erased, not yet settled
    flat_index index_;              ///< slot by label-value ids
    /// Slots in label-value order: the first sorted_ are sorted, the rest newly added.
    mutable std::vector<std::uint32_t> order_;
    mutable std::size_t sorted_ = 0;
    std::chrono::seconds ttl_{0};
};

} // namespace metricsd::daemon

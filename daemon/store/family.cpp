#include "daemon/store/family.hpp"

#include "daemon/store/store_cost.hpp"

#include <algorithm>
#include <stdexcept>

namespace metricsd::daemon {

using protocol::gauge_mode;
using protocol::metric_type;

family::family(family_spec spec)
    : spec_(std::move(spec)), label_count_(spec_.label_names.size()), pools_(label_count_) {}

void family::copy_label_values(const series& s, std::vector<std::string>& out) const {
    out.resize(label_count_);
    for (std::size_t i = 0; i < label_count_; ++i)
        out[i].assign(label_value(s, i));
}

std::size_t family::hash_ids(const std::uint32_t* ids, std::size_t n) noexcept {
    std::uint64_t h = n;
    for (std::size_t i = 0; i < n; ++i)
        h = (h ^ ids[i]) * 0x9e3779b97f4a7c15ULL;
    return flat_index::mix(h);
}

std::size_t family::hash_of(std::uint32_t slot) const noexcept {
    return hash_ids(keys_.data() + std::size_t{slot} * label_count_, label_count_);
}

series* family::find(std::span<const std::string_view> values) noexcept {
    std::array<std::uint32_t, protocol::limits::max_labels> ids;
    for (std::size_t i = 0; i < label_count_; ++i)
        if ((ids[i] = pools_[i].find(values[i])) == flat_index::none)
            return nullptr; // a value no series has
    const std::uint32_t slot =
        index_.find(hash_ids(ids.data(), label_count_), [&](std::uint32_t s) {
            return std::equal(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(label_count_),
                              keys_.begin() + static_cast<std::ptrdiff_t>(s * label_count_));
        });
    return slot == flat_index::none ? nullptr : &slots_[slot];
}

series& family::create(std::span<const std::string_view> values) {
    std::uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
        keys_.resize(keys_.size() + label_count_);
    }
    for (std::size_t i = 0; i < label_count_; ++i)
        keys_[slot * label_count_ + i] = pools_[i].acquire(values[i]);
    index_.insert(hash_of(slot), slot, [this](std::uint32_t s) { return hash_of(s); });
    order_.push_back(slot);

    series& s = slots_[slot];
    s.owner = this;
    s.slot_ = slot;
    switch (spec_.type) {
    case metric_type::histogram:
        s.cells_.histogram = new histogram_cell{std::vector<double>(spec_.bounds.size() + 1), 0, 0};
        s.kind_ = series::cells_kind::histogram;
        break;
    case metric_type::summary:
        s.cells_.summary = new summary_cell{};
        s.kind_ = series::cells_kind::summary;
        break;
    case metric_type::gauge:
        if (spec_.mode != gauge_mode::shared) {
            s.cells_.gauge = new gauge_workers{};
            s.kind_ = series::cells_kind::gauge;
        }
        break;
    case metric_type::counter:
        break;
    }
    return s;
}

std::size_t family::cost_of_new(std::span<const std::string_view> values) const noexcept {
    std::size_t cost = store_cost::series_bytes(spec_);
    for (std::size_t i = 0; i < label_count_; ++i)
        if (pools_[i].find(values[i]) == flat_index::none)
            cost += store_cost::label_value(values[i].size());
    return cost;
}

std::size_t family::erase(series& s) noexcept {
    const std::uint32_t slot = s.slot_;
    index_.erase(hash_of(slot), slot, [this](std::uint32_t x) { return hash_of(x); });
    std::size_t freed = store_cost::series_bytes(spec_);
    for (std::size_t i = 0; i < label_count_; ++i) {
        const std::uint32_t id = keys_[slot * label_count_ + i];
        const std::size_t length = pools_[i].value(id).size();
        if (pools_[i].release(id))
            freed += store_cost::label_value(length);
    }
    s.drop_cells();
    s.owner = nullptr;
    s.value = 0;
    s.seen_at = {};
    s.last_epoch = s.visible_from = s.holds = s.bound_workers = 0;
    s.dirty = s.assigned = s.expiring = false;
    erased_.push_back(slot);
    return freed;
}

void family::settle_erased() {
    if (erased_.empty())
        return;
    // One pass drops every erased slot from the order (a slot is reused only after this, so a
    // free slot in the order is an erased one); what stays of the sorted prefix stays sorted.
    std::size_t kept = 0;
    std::size_t kept_sorted = 0;
    for (std::size_t i = 0; i < order_.size(); ++i) {
        if (!slots_[order_[i]].owner)
            continue;
        kept_sorted += i < sorted_ ? 1 : 0;
        order_[kept++] = order_[i];
    }
    order_.resize(kept);
    sorted_ = kept_sorted;
    free_.insert(free_.end(), erased_.begin(), erased_.end());
    erased_.clear();
}

bool family::less(std::uint32_t a, std::uint32_t b) const noexcept {
    const std::uint32_t* ka = keys_.data() + std::size_t{a} * label_count_;
    const std::uint32_t* kb = keys_.data() + std::size_t{b} * label_count_;
    for (std::size_t i = 0; i < label_count_; ++i) {
        if (ka[i] == kb[i])
            continue;
        return pools_[i].value(ka[i]) < pools_[i].value(kb[i]);
    }
    return false;
}

void family::sort_order() const {
    if (sorted_ == order_.size())
        return;
    const auto by_values = [this](std::uint32_t a, std::uint32_t b) { return less(a, b); };
    const auto mid = order_.begin() + static_cast<std::ptrdiff_t>(sorted_);
    std::sort(mid, order_.end(), by_values);
    std::inplace_merge(order_.begin(), mid, order_.end(), by_values);
    sorted_ = order_.size();
}

series_range::entry series_range::iterator::operator*() const noexcept {
    const series& s = f_->slots_[*pos_];
    const std::size_t n = f_->label_count_;
    for (std::size_t i = 0; i < n; ++i)
        values_[i] = f_->label_value(s, i);
    return {std::span<const std::string_view>(values_.data(), n), s};
}

series_range::iterator series_range::begin() const {
    f_->sort_order();
    return {f_, f_->order_.data()};
}

series_range::iterator series_range::end() const {
    return {f_, f_->order_.data() + f_->order_.size()};
}

std::size_t series_range::size() const noexcept {
    return f_->series_count();
}

series_range::iterator series_range::find(std::span<const std::string_view> values) const {
    auto& f = const_cast<family&>(*f_); // a lookup: nothing changes
    if (values.size() != f.label_count_)
        return end();
    const series* s = f.find(values);
    if (!s)
        return end();
    f.sort_order();
    const auto pos = std::lower_bound(
        f.order_.begin(), f.order_.end(), s->slot_,
        [&](std::uint32_t a, std::uint32_t b) { return f.less(a, b); });
    return {f_, f.order_.data() + (pos - f.order_.begin())};
}

series_range::iterator series_range::find(const std::vector<std::string>& values) const {
    std::array<std::string_view, protocol::limits::max_labels> views;
    if (values.size() > views.size())
        return end();
    std::copy(values.begin(), values.end(), views.begin());
    return find(std::span<const std::string_view>(views.data(), values.size()));
}

series_range::iterator series_range::upper_bound(std::span<const std::string> values) const {
    const family& f = *f_;
    f.sort_order();
    // Lexicographic over the label values, as std::map<std::vector<std::string>> ordered them.
    const auto values_less_than_slot = [&](std::span<const std::string> v, std::uint32_t slot) {
        const std::uint32_t* k = f.keys_.data() + std::size_t{slot} * f.label_count_;
        const std::size_t n = std::min(v.size(), f.label_count_);
        for (std::size_t i = 0; i < n; ++i) {
            const std::string_view a = v[i];
            const std::string_view b = f.pools_[i].value(k[i]);
            if (a != b)
                return a < b;
        }
        return v.size() < f.label_count_;
    };
    const auto pos = std::upper_bound(f.order_.begin(), f.order_.end(), values,
                                      values_less_than_slot);
    return {f_, f.order_.data() + (pos - f.order_.begin())};
}

const series& series_range::at(std::span<const std::string_view> values) const {
    const auto it = find(values);
    if (it == end())
        throw std::out_of_range("series_range::at: no such series");
    return (*it).second;
}

const series& series_range::at(const std::vector<std::string>& values) const {
    const auto it = find(values);
    if (it == end())
        throw std::out_of_range("series_range::at: no such series");
    return (*it).second;
}

} // namespace metricsd::daemon

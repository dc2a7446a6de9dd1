#include "daemon/redis/redis_series_table.hpp"

#include "daemon/redis/redis_json.hpp"
#include "daemon/store/series.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace metricsd::daemon {
namespace {

std::size_t width_of(series_table::layout kind, std::size_t buckets) {
    switch (kind) {
    case series_table::layout::histogram:
        return buckets + 3; // bounds, +Inf, sum, count
    case series_table::layout::summary:
        return 2;
    default:
        return 1;
    }
}

} // namespace

series_table::series_table(std::vector<std::string> names, layout kind, std::size_t buckets)
    : names_(std::move(names)), kind_(kind), width_(width_of(kind, buckets)) {}

bool series_table::fits(std::span<const std::string> names, layout kind,
                        std::size_t buckets) const {
    return kind == kind_ && width_of(kind, buckets) == width_ &&
           std::equal(names.begin(), names.end(), names_.begin(), names_.end());
}

void series_table::reset() {
    std::fill(cells_.begin(), cells_.end(), 0.0);
    std::fill(present_.begin(), present_.end(), std::uint8_t{0});
    std::fill(stamps_.begin(), stamps_.end(), std::int64_t{0});
}

std::uint32_t series_table::add_row(std::span<const std::string> values) {
    const auto row = static_cast<std::uint32_t>(present_.size());
    labels_.insert(labels_.end(), values.begin(), values.end());
    cells_.resize(cells_.size() + width_, 0.0);
    present_.push_back(0);
    if (kind_ == layout::live)
        stamps_.push_back(0);
    order_.push_back(row);
    sorted_ = false;
    return row;
}

std::uint32_t series_table::row_of_labels(std::span<const std::string> values) {
    scratch_.clear();
    append_python_json_labels(scratch_, names_, values);
    if (const auto it = by_field_.find(std::string_view(scratch_)); it != by_field_.end())
        return it->second;
    const auto row = add_row(values);
    by_field_.emplace(scratch_, row);
    return row;
}

std::uint32_t series_table::row_of_field(std::string_view field, std::size_t cell,
                                         std::size_t position) {
    if (hints_.size() <= cell)
        hints_.resize(cell + 1);
    auto& hints = hints_[cell];
    if (position < hints.size() && hints[position] && hints[position]->first == field)
        return hints[position]->second;
    auto it = by_field_.find(field);
    if (it == by_field_.end()) {
        // A text never seen: parse it once. Other spellings of a known label set (key order,
        // escapes) land on its row through the canonical text.
        const auto values = parse_label_json(field, names_);
        if (!values)
            return no_row;
        const auto row = row_of_labels(*values);
        it = by_field_.emplace(std::string(field), row).first;
    }
    if (hints.size() <= position)
        hints.resize(position + 1, nullptr);
    hints[position] = &*it;
    return it->second;
}

std::size_t series_table::size() const noexcept {
    return static_cast<std::size_t>(std::count(present_.begin(), present_.end(), 1));
}

scraped_series series_table::at(std::span<const std::string> values) const {
    std::string text;
    append_python_json_labels(text, names_, values);
    const auto it = by_field_.find(std::string_view(text));
    if (it == by_field_.end() || !present(it->second))
        throw std::out_of_range("series_table::at: no such series");
    const auto c = cells(it->second);
    scraped_series s;
    switch (kind_) {
    case layout::histogram:
        s.cumulative.assign(c.begin(), c.end() - 2);
        s.sum = c[width_ - 2];
        s.count = c[width_ - 1];
        break;
    case layout::summary:
        s.sum = c[0];
        s.count = c[1];
        break;
    case layout::live:
        s.stamp_ms = stamps_[it->second];
        [[fallthrough]];
    case layout::value:
        s.value = c[0];
        break;
    }
    return s;
}

void series_table::sort() {
    if (!sorted_) {
        const label_values_less less;
        std::sort(order_.begin(), order_.end(), [&](std::uint32_t a, std::uint32_t b) {
            return less(labels(a), labels(b));
        });
        sorted_ = true;
    }
}

} // namespace metricsd::daemon

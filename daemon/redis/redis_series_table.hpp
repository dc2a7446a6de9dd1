// One family's series as a Redis scrape reads them, in a compact table that outlives the
// scrape: rows (label values, the hash field texts that name them) stay from one scrape to the
// next, only the numbers are read again. A scrape of an unchanged Redis then parses no JSON
// and finds each hash field's row without a map lookup: HGETALL returns an unchanged hash in
// the same order, so the row at the same position of the same cell last time is checked first
// (one string compare), and the field index is only searched when that misses. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace metricsd::daemon {

/// Values of one series, as a copy (for tests and callers that want one series).
struct scraped_series {
    double value = 0;               ///< counters and gauges
    std::vector<double> cumulative; ///< histograms: per bound then +Inf, cumulative as stored
    double sum = 0;                 ///< histograms and summaries
    double count = 0;               ///< histograms and summaries
    std::int64_t stamp_ms = 0;      ///< live keys: when the value last changed
};

class series_table {
public:
    /// What a row holds: `width` numbers (column = the cell's index in cell_names(spec), so a
    /// histogram's row is its cumulative buckets, +Inf, sum, count; a summary's sum, count;
    /// anything else one value), and, for live contributions, a stamp.
    enum class layout : std::uint8_t { value, histogram, summary, live };
    static constexpr std::uint32_t no_row = static_cast<std::uint32_t>(-1);

    series_table() = default;
    // Move-only: the position hints point into this table's own field index.
    series_table(series_table&&) noexcept = default;
    series_table& operator=(series_table&&) noexcept = default;
    series_table(const series_table&) = delete;
    series_table& operator=(const series_table&) = delete;
    /// `names`: the label names of the hash fields (redis_label_names); `buckets`: a
    /// histogram's bound count.
    series_table(std::vector<std::string> names, layout kind, std::size_t buckets = 0);

    /// Start a new snapshot: every row absent, every number 0. Rows and their index stay.
    void reset();
    /// Whether this table can take `names`/`kind`/`buckets` (a recycled table: the family's
    /// declaration may have changed since).
    bool fits(std::span<const std::string> names, layout kind, std::size_t buckets) const;
    /// Rows no snapshot reads any more (series gone from Redis): recycling a table with too
    /// many of them would keep their memory forever.
    std::size_t absent_rows() const noexcept { return rows() - size(); }

    /// The row of hash field `field` read at `position` of the reply of key `key` (a cell's
    /// own key is its cell index; see scrape_plan::slot::hint), parsing the JSON only for a
    /// text never seen; no_row when it is not our label JSON.
    std::uint32_t row_of_field(std::string_view field, std::size_t key, std::size_t position);
    /// The row of a label-value set (adding it when new), e.g. from a pending delta.
    std::uint32_t row_of_labels(std::span<const std::string> values);

    /// Add `v` to column `column` of `row`, which is present from now on.
    void add(std::uint32_t row, std::size_t column, double v) noexcept {
        cells_[row * width_ + column] += v;
        present_[row] = 1;
    }
    void set(std::uint32_t row, std::size_t column, double v) noexcept {
        cells_[row * width_ + column] = v;
        present_[row] = 1;
    }
    /// The series is gone (its numbers read 0 should it come back in this snapshot).
    void remove(std::uint32_t row) noexcept {
        std::fill_n(cells_.begin() + static_cast<std::ptrdiff_t>(row * width_), width_, 0.0);
        present_[row] = 0;
    }
    bool present(std::uint32_t row) const noexcept { return present_[row] != 0; }
    double& cell(std::uint32_t row, std::size_t column) noexcept {
        return cells_[row * width_ + column];
    }
    std::int64_t& stamp(std::uint32_t row) noexcept { return stamps_[row]; }

    std::size_t width() const noexcept { return width_; }
    std::size_t label_count() const noexcept { return names_.size(); }
    layout kind() const noexcept { return kind_; }
    std::size_t rows() const noexcept { return present_.size(); }
    std::span<const std::string> labels(std::uint32_t row) const noexcept {
        return {labels_.data() + row * names_.size(), names_.size()};
    }
    std::span<const double> cells(std::uint32_t row) const noexcept {
        return {cells_.data() + row * width_, width_};
    }

    /// Present rows.
    std::size_t size() const noexcept;
    bool empty() const noexcept { return size() == 0; }
    /// A copy of a present series' values; throws std::out_of_range when there is none.
    scraped_series at(std::span<const std::string> values) const;

    /// Order the rows by label values (the exposition's order); sorts again only after rows
    /// were added.
    void sort();
    /// Every row (present or not) in label-value order, as of the last sort().
    std::span<const std::uint32_t> in_order() const noexcept { return order_; }

private:
    struct hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    using field_index = std::unordered_map<std::string, std::uint32_t, hash, std::equal_to<>>;
    using field_entry = field_index::value_type;

    std::uint32_t add_row(std::span<const std::string> values);

    std::vector<std::string> names_;
    layout kind_ = layout::value;
    std::size_t width_ = 1;
    std::vector<std::string> labels_;   ///< names_.size() per row
    std::vector<double> cells_;         ///< width_ per row
    std::vector<std::int64_t> stamps_;  ///< live layout: one per row
    std::vector<std::uint8_t> present_; ///< one per row
    /// Every field text seen, and each row's canonical (json.dumps) text, to its row.
    field_index by_field_;
    /// Per cell: the field entry found at each reply position last time.
    std::vector<std::vector<const field_entry*>> hints_;
    std::vector<std::uint32_t> order_; ///< all rows, by label values
    bool sorted_ = true;
    std::string scratch_;
};

} // namespace metricsd::daemon

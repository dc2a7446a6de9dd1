// The distinct values one label takes across a family's series, each stored once and named by
// a 32-bit id, so a series' key is its ids rather than copies of its strings. Counted: a value
// no series uses any more (series expiry) is forgotten and its id reused. Pure; io_context
// thread only.
#pragma once

#include "daemon/store/flat_index.hpp"

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

class label_pool {
public:
    /// The id of `v`, or flat_index::none when no series uses it.
    std::uint32_t find(std::string_view v) const;
    /// The id of `v`, added if new; one more series uses it.
    std::uint32_t acquire(std::string_view v);
    /// One series fewer uses `id`; the last one gone forgets the value (then true).
    bool release(std::uint32_t id);
    std::string_view value(std::uint32_t id) const noexcept { return values_[id]; }
    /// Distinct values held.
    std::size_t size() const noexcept { return index_.size(); }

private:
    static std::size_t hash(std::string_view v) noexcept;

    /// By id. A deque: values never move, so the index may hash their bytes in place.
    std::deque<std::string> values_;
    std::vector<std::uint32_t> uses_; ///< by id; 0: a free id
    std::vector<std::uint32_t> free_;
    flat_index index_;
};

} // namespace metricsd::daemon

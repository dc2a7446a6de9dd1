#include "daemon/store/label_pool.hpp"

#include <functional>

namespace metricsd::daemon {

std::size_t label_pool::hash(std::string_view v) noexcept {
    return flat_index::mix(std::hash<std::string_view>{}(v));
}

std::uint32_t label_pool::find(std::string_view v) const {
    return index_.find(hash(v), [&](std::uint32_t id) { return values_[id] == v; });
}

std::uint32_t label_pool::acquire(std::string_view v) {
    const std::size_t h = hash(v);
    std::uint32_t id = index_.find(h, [&](std::uint32_t i) { return values_[i] == v; });
    if (id == flat_index::none) {
        if (!free_.empty()) {
            id = free_.back();
            free_.pop_back();
            values_[id].assign(v);
        } else {
            id = static_cast<std::uint32_t>(values_.size());
            values_.emplace_back(v);
            uses_.push_back(0);
        }
        index_.insert(h, id, [this](std::uint32_t i) { return hash(values_[i]); });
    }
    ++uses_[id];
    return id;
}

bool label_pool::release(std::uint32_t id) {
    if (--uses_[id] != 0)
        return false;
    index_.erase(hash(values_[id]), id, [this](std::uint32_t i) { return hash(values_[i]); });
    // Give back a long value's heap block; a short one lives inside the string anyway.
    std::string().swap(values_[id]);
    free_.push_back(id);
    return true;
}

} // namespace metricsd::daemon

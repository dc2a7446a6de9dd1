// How many families and series each uid created, for the per-uid quotas of access_policy, so
// one tenant cannot use up the global budgets. A family or series is charged to the uid whose
// declaration created it (declaring an existing one is free); a series is given back when
// series expiry erases it. Families are never erased, so their count only grows. Pure.
#pragma once

#include <cstdint>
#include <unordered_map>

namespace metricsd::daemon {

class uid_usage {
public:
    struct counts {
        std::uint64_t families = 0;
        std::uint64_t series = 0;
    };

    counts of(std::uint32_t uid) const noexcept {
        const auto it = by_uid_.find(uid);
        return it == by_uid_.end() ? counts{} : it->second;
    }
    void add_family(std::uint32_t uid) { ++by_uid_[uid].families; }
    /// `series_key` identifies the series until it is erased (its address in the store).
    void add_series(std::uint32_t uid, const void* series_key) {
        ++by_uid_[uid].series;
        owner_.emplace(series_key, uid);
    }
    /// The series is gone: its creator may create another. Unknown keys are ignored.
    void forget_series(const void* series_key) noexcept {
        const auto it = owner_.find(series_key);
        if (it == owner_.end())
            return;
        if (const auto counts = by_uid_.find(it->second); counts != by_uid_.end())
            --counts->second.series;
        owner_.erase(it);
    }
    /// Series charged to some uid (each costs ~40 bytes here).
    std::size_t tracked_series() const noexcept { return owner_.size(); }

private:
    std::unordered_map<std::uint32_t, counts> by_uid_;
    std::unordered_map<const void*, std::uint32_t> owner_;
};

} // namespace metricsd::daemon

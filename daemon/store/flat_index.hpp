// A hash index of 32-bit ids over one contiguous array: open addressing with linear probing.
// The ids name entries kept elsewhere (a family's series slots, a label pool's values); the
// caller hashes and compares them, so the index costs 4 bytes a slot and nothing per entry
// beyond that (at most 3/4 full: 5.3 to 10.7 bytes per id). Pure; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace metricsd::daemon {

class flat_index {
public:
    static constexpr std::uint32_t none = UINT32_MAX;

    /// The id whose entry `match(id)` accepts among those stored with `hash`, or none.
    template <class Match>
    std::uint32_t find(std::size_t hash, Match&& match) const {
        if (slots_.empty())
            return none;
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
            const std::uint32_t id = slots_[i];
            if (id == none || match(id))
                return id;
        }
    }

    /// Add `id` (not present yet) under `hash`. `hash_of(id)` gives any stored id's hash back,
    /// for growing.
    template <class HashOf>
    void insert(std::size_t hash, std::uint32_t id, HashOf&& hash_of) {
        if ((size_ + 1) * 4 > slots_.size() * 3)
            grow(hash_of);
        place(hash, id);
        ++size_;
    }

    /// Remove `id`, stored under `hash`. Backward-shift deletion: the entries after it that
    /// probed past its slot move back, so no tombstones pile up under churn.
    template <class HashOf>
    void erase(std::size_t hash, std::uint32_t id, HashOf&& hash_of) {
        const std::size_t mask = slots_.size() - 1;
        std::size_t hole = hash & mask;
        while (slots_[hole] != id)
            hole = (hole + 1) & mask;
        for (std::size_t j = (hole + 1) & mask; slots_[j] != none; j = (j + 1) & mask) {
            const std::size_t home = hash_of(slots_[j]) & mask;
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!stays) {
                slots_[hole] = slots_[j];
                hole = j;
            }
        }
        slots_[hole] = none;
        --size_;
    }

    std::size_t size() const noexcept { return size_; }
    std::size_t bytes() const noexcept { return slots_.capacity() * sizeof(std::uint32_t); }

    /// A 64-bit mix (splitmix64's finaliser): the low bits the index uses depend on every bit.
    static constexpr std::size_t mix(std::uint64_t h) noexcept {
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebULL;
        h ^= h >> 31;
        return static_cast<std::size_t>(h);
    }

private:
    void place(std::size_t hash, std::uint32_t id) {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = hash & mask;
        while (slots_[i] != none)
            i = (i + 1) & mask;
        slots_[i] = id;
    }

    template <class HashOf>
    void grow(HashOf& hash_of) {
        std::vector<std::uint32_t> old(slots_.empty() ? 8 : 2 * slots_.size(), none);
        old.swap(slots_);
        for (const std::uint32_t id : old)
            if (id != none)
                place(hash_of(id), id);
    }

    std::vector<std::uint32_t> slots_;
    std::size_t size_ = 0;
};

} // namespace metricsd::daemon

// A set of pointers in one array: open addressing with linear probing, at most 3/4 full, so
// 8 bytes a slot (11 to 21 bytes an entry) where a node-based set takes about 40. Insert and
// walk only: what a worker binds stays bound until the worker goes. Pure; not thread-safe.
#pragma once

#include "daemon/store/flat_index.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace metricsd::daemon {

template <class T>
class pointer_set {
public:
    /// Add `p` (not null); false when it was there already.
    bool insert(T* p) {
        if ((size_ + 1) * 4 > slots_.size() * 3)
            grow();
        if (!place(p))
            return false;
        ++size_;
        return true;
    }
    /// Call `f(p)` for every pointer, in no particular order.
    template <class F>
    void for_each(F&& f) const {
        for (T* p : slots_)
            if (p)
                f(p);
    }
    std::size_t size() const noexcept { return size_; }

private:
    bool place(T* p) {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = flat_index::mix(reinterpret_cast<std::uintptr_t>(p)) & mask;
        for (; slots_[i]; i = (i + 1) & mask)
            if (slots_[i] == p)
                return false;
        slots_[i] = p;
        return true;
    }
    void grow() {
        std::vector<T*> old(slots_.empty() ? 8 : 2 * slots_.size(), nullptr);
        old.swap(slots_);
        for (T* p : old)
            if (p)
                place(p);
    }

    std::vector<T*> slots_;
    std::size_t size_ = 0;
};

} // namespace metricsd::daemon

// An exponential pause for a loop whose operation keeps failing: accept on EMFILE/ENFILE,
// connecting to Redis.
#pragma once

#include <algorithm>
#include <chrono>

namespace metricsd::daemon {

/// Delays that start at `first`, double on each failure up to `max`, and start over after a
/// success. Plain value type; not thread-safe.
class retry_backoff {
public:
    retry_backoff(std::chrono::milliseconds first, std::chrono::milliseconds max) noexcept
        : first_(first), max_(max), next_(first) {}

    /// The pause before the next retry; the one after it is twice as long (at most max).
    std::chrono::milliseconds next() noexcept {
        const auto now = next_;
        next_ = std::min(next_ * 2, max_);
        return now;
    }
    /// After a success: the next failure pauses `first` again.
    void reset() noexcept { next_ = first_; }

private:
    std::chrono::milliseconds first_;
    std::chrono::milliseconds max_;
    std::chrono::milliseconds next_;
};

} // namespace metricsd::daemon

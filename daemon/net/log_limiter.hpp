// Rate limit for a warning that a client or the host can trigger in a loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace metricsd::daemon {

/// Lets one occurrence of a repeating event be logged per interval and counts the others, so
/// a flood of failures costs one log line per interval instead of one per failure. The first
/// occurrence is always let through. Plain value type; not thread-safe.
class log_limiter {
public:
    using clock = std::chrono::steady_clock;

    explicit log_limiter(clock::duration interval) noexcept : interval_(interval) {}

    /// Record one occurrence. When it may be logged, returns how many occurrences were
    /// suppressed since the last logged one (0 the first time); otherwise nullopt.
    std::optional<std::uint64_t> admit(clock::time_point now = clock::now()) noexcept {
        if (logged_once_ && now < next_) {
            ++suppressed_;
            return std::nullopt;
        }
        logged_once_ = true;
        next_ = now + interval_;
        const std::uint64_t suppressed = suppressed_;
        suppressed_ = 0;
        return suppressed;
    }

private:
    clock::duration interval_;
    clock::time_point next_{};
    std::uint64_t suppressed_ = 0;
    bool logged_once_ = false;
};

} // namespace metricsd::daemon

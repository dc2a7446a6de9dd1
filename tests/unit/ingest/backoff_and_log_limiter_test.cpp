// The accept loops' pause (retry_backoff) and rate-limited warnings (log_limiter), from
// daemon/net/: header-only, tested here with the listener that uses them.
#include "daemon/net/log_limiter.hpp"
#include "daemon/net/retry_backoff.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace metricsd::daemon {
namespace {

using namespace std::chrono_literals;

TEST(retry_backoff, doubles_from_first_to_max_and_starts_over_after_reset) {
    retry_backoff b(10ms, 1s);
    std::vector<long> pauses;
    for (int i = 0; i < 9; ++i)
        pauses.push_back(static_cast<long>(b.next().count()));
    EXPECT_EQ(pauses, (std::vector<long>{10, 20, 40, 80, 160, 320, 640, 1000, 1000}));
    b.reset();
    EXPECT_EQ(b.next(), 10ms);
    EXPECT_EQ(b.next(), 20ms);
}

TEST(log_limiter, lets_one_through_per_interval_and_counts_the_rest) {
    log_limiter limiter(10s);
    const log_limiter::clock::time_point t0{};
    const auto first = limiter.admit(t0 + 100s);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(*first, 0u);
    for (int i = 0; i < 1000; ++i)
        EXPECT_FALSE(limiter.admit(t0 + 100s + 9s).has_value());
    const auto next = limiter.admit(t0 + 110s);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(*next, 1000u);
    EXPECT_FALSE(limiter.admit(t0 + 111s).has_value());
    const auto later = limiter.admit(t0 + 500s);
    ASSERT_TRUE(later.has_value());
    EXPECT_EQ(*later, 1u);
}

} // namespace
} // namespace metricsd::daemon

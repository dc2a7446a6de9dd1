// A test-and-test-and-set spinlock for the op buffer: critical sections are a few stores long,
// so an uncontended lock/unlock (one exchange, one release store) beats std::mutex by several
// nanoseconds on the hot path.
#pragma once

#include <atomic>
#include <thread>

namespace metricsd::detail {

/// Meets Lockable. Not recursive, not fair. Use only around short, non-blocking sections.
class spin_lock {
public:
    void lock() noexcept {
        while (locked_.exchange(true, std::memory_order_acquire))
            wait_until_free();
    }
    bool try_lock() noexcept {
        return !locked_.load(std::memory_order_relaxed) &&
               !locked_.exchange(true, std::memory_order_acquire);
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    /// Spin on a plain load (no cache-line ping-pong), and give the CPU away if the holder seems
    /// to have been preempted: on a 2-core machine spinning for a descheduled holder would burn
    /// the whole time slice. Out of line, so the uncontended path saves no registers for it.
    [[gnu::noinline, gnu::cold]] void wait_until_free() noexcept {
        for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
            if (spins < 64)
                cpu_relax();
            else
                std::this_thread::yield();
        }
    }
    static void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield" ::: "memory");
#endif
    }

    std::atomic<bool> locked_{false};
};

} // namespace metricsd::detail

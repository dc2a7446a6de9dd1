#include "delivery_status.hpp"

#include <algorithm>
#include <utility>

namespace metricsd::detail {

delivery_status::delivery_status(std::function<void(const std::string&)> on_error)
    : on_error_(std::move(on_error)) {}

void delivery_status::acked(std::uint64_t token) {
    {
        std::lock_guard g(mutex_);
        acked_ = std::max(acked_, token);
    }
    cv_.notify_all();
}

void delivery_status::fail_upto(std::uint64_t token) {
    {
        std::lock_guard g(mutex_);
        failed_upto_ = std::max(failed_upto_, token);
    }
    cv_.notify_all();
}

void delivery_status::note_error(const std::string& text, bool count) {
    {
        std::lock_guard g(mutex_);
        last_error_ = text;
    }
    if (count)
        rejected_.fetch_add(1, std::memory_order_relaxed);
    if (count && on_error_) {
        try {
            on_error_(text);
        } catch (...) {
            // The callback's exceptions must not kill the sender thread.
        }
    }
}

void delivery_status::stop() {
    {
        std::lock_guard g(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
}

bool delivery_status::wait(std::uint64_t token, clock::time_point deadline) {
    std::unique_lock lk(mutex_);
    cv_.wait_until(lk, deadline,
                   [&] { return acked_ >= token || failed_upto_ >= token || stopping_; });
    return acked_ >= token;
}

std::string delivery_status::last_error() const {
    std::lock_guard g(mutex_);
    return last_error_;
}

void delivery_status::before_fork() noexcept {
    mutex_.lock();
}

void delivery_status::after_fork_parent() noexcept {
    mutex_.unlock();
}

void delivery_status::after_fork_child(std::uint64_t abandoned_token) noexcept {
    // The child's counters start afresh (it is a new worker), and the SYNCs it inherited
    // buffered are gone with the parent's ops: nobody may wait for them.
    failed_upto_ = std::max(failed_upto_, abandoned_token);
    dropped_.store(0, std::memory_order_relaxed);
    rejected_.store(0, std::memory_order_relaxed);
    connected_.store(false, std::memory_order_relaxed);
    last_error_.clear();
    mutex_.unlock();
}

} // namespace metricsd::detail

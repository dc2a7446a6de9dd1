// A value or a protocol error with a message: the result type of every store operation that
// untrusted input can make fail. (std::expected is C++23; g++ 12 in C++20 mode lacks it.)
#pragma once

#include <metricsd/protocol/wire.hpp>

#include <string>
#include <utility>

namespace metricsd::daemon {

/// An error that goes back to the client in an ERROR frame.
struct failure {
    protocol::error_code code = protocol::error_code::internal;
    std::string message;
};

/// Either a T or a failure. Cheap to move; never throws on the failure path.
template <class T>
class outcome {
public:
    outcome(T value) : value_(std::move(value)), ok_(true) {}
    outcome(failure f) : failure_(std::move(f)), ok_(false) {}

    explicit operator bool() const noexcept { return ok_; }
    T& value() noexcept { return value_; }
    const T& value() const noexcept { return value_; }
    T* operator->() noexcept { return &value_; }
    const failure& error() const noexcept { return failure_; }

private:
    T value_{};
    failure failure_;
    bool ok_;
};

} // namespace metricsd::daemon

// The state behind metricsd::client and all its handles: a producer (what application threads
// touch), a sender (the background thread that owns the connection) and the delivery status
// both report to. The producer and the sender meet only through the outbox interface.
#pragma once

#include "delivery_status.hpp"
#include "producer.hpp"
#include "sender.hpp"

#include <metricsd/client.hpp>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace metricsd::detail {

/// Thread-safe. Owns no lock of its own; the parts' locks are, in the order the fork handler
/// takes them: the sender's mutex, the producer's registry mutex and buffer spinlock, the
/// status's mutex. No code path holds a lock of one part while taking another part's.
class client_core {
public:
    explicit client_core(client_options options);
    ~client_core();
    client_core(const client_core&) = delete;
    client_core& operator=(const client_core&) = delete;

    /// Hot path: one spinlock round trip and a 16-byte store.
    void push(const protocol::op_record& r) noexcept {
        const auto outcome = producer_.push(r);
        if (outcome != producer::push_outcome::done) [[unlikely]]
            follow_up(outcome);
    }
    void push_gauge(const protocol::op_record& r, std::uint32_t slot) noexcept {
        const auto outcome = producer_.push_gauge(r, slot);
        if (outcome != producer::push_outcome::done) [[unlikely]]
            follow_up(outcome);
    }

    producer::declared_family declare_family(family_def def) {
        return producer_.declare_family(std::move(def));
    }
    series_id declare_series(std::uint32_t family, std::span<const std::string_view> values) {
        return producer_.declare_series(family, values);
    }

    bool flush(std::chrono::milliseconds timeout);
    std::uint64_t dropped() const noexcept { return status_.dropped(); }
    std::uint64_t rejected() const noexcept { return status_.rejected(); }
    std::string last_error() const { return status_.last_error(); }
    bool connected() const noexcept { return status_.connected(); }

    /// pthread_atfork hooks (fork_guard.cpp): hold every lock across fork(), then release them
    /// (parent) or reset to a fresh, unconnected client without a sender thread (child).
    void before_fork() noexcept;
    void after_fork_parent() noexcept;
    void after_fork_child() noexcept;

private:
    [[gnu::cold]] void follow_up(producer::push_outcome outcome) noexcept;
    void ensure_sender();
    bool should_flush_on_close();

    const client_options opts_;
    delivery_status status_;
    producer producer_;
    sender sender_;
};

} // namespace metricsd::detail

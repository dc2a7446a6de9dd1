#include "client_core.hpp"

#include "fork_guard.hpp"

#include <stdexcept>
#include <sys/un.h>

namespace metricsd::detail {
namespace {

client_options checked(client_options o) {
    if (o.socket_path.empty() || o.socket_path.size() >= sizeof(sockaddr_un::sun_path))
        throw std::invalid_argument("metricsd: socket path '" + o.socket_path +
                                    "' is empty or longer than a Unix socket address allows");
    if (o.flush_interval.count() <= 0 || o.reconnect_min.count() <= 0)
        throw std::invalid_argument("metricsd: flush_interval and reconnect_min must be > 0");
    if (o.reconnect_max < o.reconnect_min)
        throw std::invalid_argument("metricsd: reconnect_max is below reconnect_min");
    return o;
}

} // namespace

client_core::client_core(client_options options)
    : opts_(checked(std::move(options))), status_(opts_.on_error), producer_(opts_, status_),
      sender_(opts_, producer_, status_) {
    fork_guard::add(this);
    try {
        ensure_sender();
    } catch (...) {
        fork_guard::remove(this);
        throw;
    }
}

client_core::~client_core() {
    try {
        if (should_flush_on_close())
            flush(std::chrono::seconds(1));
    } catch (...) {
        // Best effort: a destructor must not throw because the last flush could not be queued.
    }
    status_.stop();
    sender_.stop();
    // Before the members are destroyed: the sender closes its descriptors then, and a fork()
    // after that must not close their (possibly reused) numbers again in the child.
    fork_guard::remove(this);
}

bool client_core::should_flush_on_close() {
    // Nothing buffered: only a live sender may still have bytes in flight worth confirming.
    return !producer_.empty() || connected();
}

void client_core::follow_up(producer::push_outcome outcome) noexcept {
    if (outcome == producer::push_outcome::wake_sender) {
        sender_.wake();
        return;
    }
    try {
        ensure_sender();
    } catch (...) {
        // No thread in this forked child yet; the op stays buffered and the next slow path
        // (or flush) tries again.
    }
}

void client_core::ensure_sender() {
    if (sender_.start())
        producer_.sender_started();
}

bool client_core::flush(std::chrono::milliseconds timeout) {
    const auto deadline = delivery_status::clock::now() + timeout;
    ensure_sender();
    const std::uint64_t token = producer_.push_sync();
    sender_.connect_now();
    return status_.wait(token, deadline);
}

void client_core::before_fork() noexcept {
    // Every lock, in the documented order, so the child never inherits a half-made change or a
    // lock nobody will release.
    sender_.before_fork();
    producer_.before_fork();
    status_.before_fork();
}

void client_core::after_fork_parent() noexcept {
    status_.after_fork_parent();
    producer_.after_fork_parent();
    sender_.after_fork_parent();
}

void client_core::after_fork_child() noexcept {
    const std::uint64_t abandoned = producer_.after_fork_child();
    status_.after_fork_child(abandoned);
    sender_.after_fork_child();
}

void push_op(client_core* core, protocol::op_code op, std::uint32_t series, double v) noexcept {
    core->push(protocol::op_record{op, series, v});
}

void push_gauge_op(client_core* core, protocol::op_code op, series_id series, double v) noexcept {
    if (series.slot == no_slot)
        core->push(protocol::op_record{op, series.handle, v});
    else
        core->push_gauge(protocol::op_record{op, series.handle, v}, series.slot);
}

} // namespace metricsd::detail

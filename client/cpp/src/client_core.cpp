#include "client_core.hpp"

#include "fork_guard.hpp"

#include <metricsd/protocol/encoder.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>

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

int make_wake_fd() noexcept {
    return ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

} // namespace

client_core::client_core(client_options options) : opts_(checked(std::move(options))) {
    front_.set_limits(opts_.max_buffer_bytes, opts_.flush_bytes, max_ops_frame_payload);
    front_.reserve(std::min(opts_.max_buffer_bytes, opts_.flush_bytes) + 4096);
    const int fd = make_wake_fd();
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "metricsd: eventfd");
    wake_fd_.store(fd);
    fork_guard::add(this);
    try {
        ensure_sender();
    } catch (...) {
        fork_guard::remove(this);
        ::close(fd);
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
    {
        std::lock_guard g(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    stop_.store(true, std::memory_order_release);
    wake();
    {
        std::lock_guard g(lifecycle_mutex_);
        if (thread_) {
            thread_->join();
            thread_.reset();
        }
        state_.reset();
    }
    fork_guard::remove(this);
    if (sock_ >= 0)
        ::close(sock_);
    if (const int fd = wake_fd_.load(); fd >= 0)
        ::close(fd);
}

bool client_core::should_flush_on_close() {
    std::lock_guard g(lock_);
    // Nothing buffered: only a live sender may still have bytes in flight worth confirming.
    if (front_.empty())
        return !sender_missing_ && connected();
    return true;
}

void client_core::push_slow(const protocol::op_record& r) noexcept {
    const auto result = front_.append(r, true);
    const bool start = sender_missing_;
    lock_.unlock();
    if (result == op_buffer::result::full || result == op_buffer::result::no_memory)
        dropped_.fetch_add(1, std::memory_order_relaxed);
    else if (result == op_buffer::result::appended_crossed)
        wake();
    if (start) {
        try {
            ensure_sender();
        } catch (...) {
            // No thread in this forked child yet; the op stays buffered and the next slow path
            // (or flush) tries again.
        }
    }
}

void client_core::push_gauge(const protocol::op_record& r, std::uint32_t slot) noexcept {
    lock_.lock();
    if (slot < gauges_.size()) {
        // Mirror what the daemon applies (a non-finite inc/dec is rejected there), so the value
        // re-sent after a reconnect is the one the daemon would have shown.
        gauge_value& g = gauges_[slot];
        if (r.op == protocol::op_code::set) {
            g.value = r.value;
            g.written = true;
        } else if (std::isfinite(r.value)) {
            g.value += r.op == protocol::op_code::inc ? r.value : -r.value;
            g.written = true;
        }
    }
    if (front_.try_append(r)) [[likely]] {
        lock_.unlock();
        return;
    }
    push_slow(r);
}

void client_core::append_declaration(std::size_t registry_offset, const series_id* gauge) {
    // Called under decl_mutex_ right after the registry appended the frame at registry_offset.
    std::lock_guard g(lock_);
    // Slots are handed out densely under decl_mutex_, so the new slot is gauges_.size().
    if (gauge && gauge->slot != no_slot)
        gauges_.push_back({0, gauge->handle, false});
    front_.append_frame(registry_.frames().substr(registry_offset));
    if (!front_has_decls_) {
        front_has_decls_ = true;
        front_decls_from_ = registry_offset;
    }
}

client_core::declared_family client_core::declare_family(family_def def) {
    std::lock_guard g(decl_mutex_);
    std::size_t before = registry_.frames().size();
    const auto f = registry_.add_family(std::move(def));
    if (f.added)
        append_declaration(before, nullptr);
    declared_family out{f.handle, f.label_count, {}};
    if (f.label_count == 0) {
        before = registry_.frames().size();
        const auto s = registry_.add_series(f.handle, {});
        if (s.added)
            append_declaration(before, &s.id);
        out.unlabelled = s.id;
    }
    return out;
}

series_id client_core::declare_series(std::uint32_t family,
                                      std::span<const std::string_view> values) {
    std::lock_guard g(decl_mutex_);
    const std::size_t before = registry_.frames().size();
    const auto s = registry_.add_series(family, values);
    if (s.added)
        append_declaration(before, &s.id);
    return s.id;
}

bool client_core::flush(std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    ensure_sender();
    std::string frame;
    protocol::encode(frame, protocol::sync{0});
    std::uint64_t token = 0;
    {
        // The token is chosen under the buffer lock, so tokens increase in stream order and
        // ACK(n) implies every SYNC before n was answered too.
        std::lock_guard g(lock_);
        token = ++last_token_;
        std::memcpy(frame.data() + protocol::frame_header_size, &token, sizeof token);
        front_.append_frame(frame);
    }
    connect_now_.store(true, std::memory_order_release);
    wake();
    std::unique_lock lk(mu_);
    cv_.wait_until(lk, deadline,
                   [&] { return acked_ >= token || failed_upto_ >= token || stopping_; });
    return acked_ >= token;
}

void client_core::fail_flushes_upto(std::uint64_t token) {
    {
        std::lock_guard g(mu_);
        failed_upto_ = std::max(failed_upto_, token);
    }
    cv_.notify_all();
}

std::string client_core::last_error() const {
    std::lock_guard g(mu_);
    return last_error_;
}

void client_core::wake() noexcept {
    const int fd = wake_fd_.load(std::memory_order_relaxed);
    const std::uint64_t one = 1;
    // A failed write (only possible if the counter saturated) loses nothing: the sender also
    // wakes every flush_interval.
    if (fd >= 0 && ::write(fd, &one, sizeof one) < 0) {
    }
}

void client_core::ensure_sender() {
    std::lock_guard g(lifecycle_mutex_);
    if (thread_ || stop_.load(std::memory_order_acquire))
        return;
    auto st = std::make_unique<sender_state>();
    st->backoff = opts_.reconnect_min;
    st->next_attempt = st->next_send = clock::now();
    st->rng.seed(static_cast<std::uint_fast32_t>(::getpid()) ^
                 static_cast<std::uint_fast32_t>(clock::now().time_since_epoch().count()));
    st->back.set_limits(SIZE_MAX, SIZE_MAX, max_ops_frame_payload);
    thread_ = std::make_unique<std::thread>([this, p = st.get()] { run(*p); });
    state_ = std::move(st);
    std::lock_guard s(lock_);
    sender_missing_ = false;
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

#include "producer.hpp"

#include <metricsd/protocol/encoder.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace metricsd::detail {

producer::producer(const client_options& options, delivery_status& status) : status_(status) {
    front_.set_limits(options.max_buffer_bytes, options.flush_bytes, max_ops_frame_payload);
    front_.reserve(std::min(options.max_buffer_bytes, options.flush_bytes) + 4096);
}

producer::push_outcome producer::push_slow(const protocol::op_record& r) noexcept {
    // Once folding started, every op folds until the sender takes the folds: an op appended
    // to front_ meanwhile would overtake the folded ones (a gauge's set, for one).
    auto result = folds_.empty() ? front_.append(r, true) : op_buffer::result::full;
    bool dropped = false;
    if (result == op_buffer::result::full || result == op_buffer::result::no_memory) {
        // Folding keeps memory bounded by the number of series; only an op the daemon would
        // refuse anyway, or a series' first fold without memory, is lost.
        dropped = folds_.fold(r) != fold_table::result::folded;
        if (!dropped)
            result = op_buffer::result::appended;
    }
    const bool start = sender_missing_;
    lock_.unlock();
    if (dropped)
        status_.count_dropped(1);
    if (start)
        return push_outcome::start_sender; // a new sender sends at once: no wake needed
    return result == op_buffer::result::appended_crossed ? push_outcome::wake_sender
                                                         : push_outcome::done;
}

producer::push_outcome producer::push_gauge(const protocol::op_record& r,
                                            std::uint32_t slot) noexcept {
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
        return push_outcome::done;
    }
    return push_slow(r);
}

std::uint64_t producer::push_sync() {
    std::string frame;
    protocol::encode(frame, protocol::sync{0});
    // The token is chosen under the buffer lock, so tokens increase in stream order and
    // ACK(n) implies every SYNC before n was answered too.
    std::lock_guard g(lock_);
    drain_folds(front_);
    const std::uint64_t token = ++last_token_;
    std::memcpy(frame.data() + protocol::frame_header_size, &token, sizeof token);
    front_.append_frame(frame);
    return token;
}

void producer::drain_folds(op_buffer& out) {
    if (!folds_.empty())
        folds_.drain(out);
}

void producer::buffer_declaration(std::size_t registry_offset, std::uint32_t family,
                                  const series_id* series) {
    std::vector<double> bounds;
    if (!series)
        bounds = registry_.bounds_of(family);
    std::lock_guard g(lock_);
    if (series)
        folds_.add_series(series->handle, family);
    else
        folds_.add_family(family, registry_.type_of(family), std::move(bounds));
    // Slots are handed out densely under registry_mutex_, so the new slot is gauges_.size().
    if (series && series->slot != no_slot)
        gauges_.push_back({0, series->handle, false});
    front_.append_frame(registry_.frames().substr(registry_offset));
    if (!front_has_decls_) {
        front_has_decls_ = true;
        front_decls_from_ = registry_offset;
    }
}

producer::declared_family producer::declare_family(family_def def) {
    std::lock_guard g(registry_mutex_);
    std::size_t before = registry_.frames().size();
    const auto f = registry_.add_family(std::move(def));
    if (f.added)
        buffer_declaration(before, f.handle, nullptr);
    declared_family out{f.handle, f.label_count, {}};
    if (f.label_count == 0) {
        before = registry_.frames().size();
        const auto s = registry_.add_series(f.handle, {});
        if (s.added)
            buffer_declaration(before, f.handle, &s.id);
        out.unlabelled = s.id;
    }
    return out;
}

series_id producer::declare_series(std::uint32_t family, std::span<const std::string_view> values) {
    std::lock_guard g(registry_mutex_);
    const std::size_t before = registry_.frames().size();
    const auto s = registry_.add_series(family, values);
    if (s.added)
        buffer_declaration(before, family, &s.id);
    return s.id;
}

bool producer::empty() {
    std::lock_guard g(lock_);
    return front_.empty() && folds_.empty();
}

void producer::sender_started() noexcept {
    std::lock_guard g(lock_);
    sender_missing_ = false;
}

void producer::take(batch& out, bool with_gauges) {
    out.gauges.clear();
    std::lock_guard g(lock_);
    front_.seal();
    front_.swap_contents(out.frames);
    // The folds came after everything in front_, and before anything pushed after this take.
    drain_folds(out.frames);
    front_has_decls_ = false;
    out.newest_token = last_token_;
    if (with_gauges)
        for (const auto& v : gauges_)
            if (v.written)
                out.gauges.push_back(v);
}

void producer::append_declarations(std::string& out) {
    std::lock_guard d(registry_mutex_);
    std::size_t end = registry_.frames().size();
    {
        // Declarations still in the front buffer go out with it; the rest are sent here.
        std::lock_guard g(lock_);
        if (front_has_decls_)
            end = front_decls_from_;
    }
    out.append(registry_.frames().substr(0, end));
}

std::uint64_t producer::newest_token() {
    std::lock_guard g(lock_);
    return last_token_;
}

void producer::set_max_ops_payload(std::size_t bytes) {
    std::lock_guard g(lock_);
    front_.set_max_ops_payload(bytes);
}

void producer::before_fork() noexcept {
    // Both locks, so the child never inherits a half-written op record, a half-registered
    // declaration, or a lock nobody will release.
    registry_mutex_.lock();
    lock_.lock();
}

void producer::after_fork_parent() noexcept {
    lock_.unlock();
    registry_mutex_.unlock();
}

std::uint64_t producer::after_fork_child() noexcept {
    // The parent's ops belong to the parent: sending them again from here would count them
    // twice. Tracked gauge values too: the child is a new worker and starts from nothing.
    // The registry stays: the child's first connection declares everything again.
    front_.clear();
    folds_.clear();
    front_has_decls_ = false;
    for (auto& g : gauges_)
        g = {0, g.series, false};
    sender_missing_ = true;
    const std::uint64_t abandoned = last_token_;
    after_fork_parent(); // release the locks before_fork took
    return abandoned;
}

} // namespace metricsd::detail

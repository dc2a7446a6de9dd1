#include "daemon/redis/redis_delta.hpp"

#include "daemon/redis/redis_layout.hpp"
#include "daemon/store/gauge.hpp"
#include "daemon/store/store.hpp"

#include <charconv>

namespace metricsd::daemon {
namespace {

using protocol::gauge_mode;
using protocol::metric_type;

series_delta& add_delta(const series& s, std::vector<series_delta>& out, series_delta::kind op) {
    series_delta& d = out.emplace_back();
    d.family = &s.owner->spec();
    s.owner->copy_label_values(s, d.label_values);
    d.op = op;
    return d;
}

/// The `pid` label value of the per-pid gauge modes.
std::string pid_text(std::int64_t pid) {
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, pid);
    return std::string(buf, end);
}

// live* gauges: this daemon's own contribution, set in (or removed from) its live key.
void live_deltas(const series& s, const flushed_state& flushed, std::vector<series_delta>& out,
                 flushed_state& next, std::int64_t now_ms) {
    const auto mode = s.owner->spec().mode;
    using kind = series_delta::kind;
    const auto add = [&](kind op, double v, std::int64_t stamp) -> series_delta& {
        auto& d = add_delta(s, out, op);
        d.live = true;
        d.value = v;
        d.stamp_ms = stamp;
        return d;
    };
    if (mode == gauge_mode::liveall) {
        static thread_local std::vector<std::pair<std::int64_t, double>> values;
        per_pid_values(s, mode, values);
        next.pids.clear();
        for (const auto& [pid, v] : values)
            next.pids.emplace(pid, v);
        for (const auto& [pid, v] : flushed.pids)
            if (!next.pids.contains(pid))
                add(kind::remove, 0, 0).label_values.push_back(pid_text(pid));
        for (const auto& [pid, v] : values)
            add(kind::set, v, now_ms).label_values.push_back(pid_text(pid));
        return;
    }
    const auto v = combined_value(s, mode); // livesum: 0 without workers, a real value
    if (!v) {
        add(kind::remove, 0, 0);
        return;
    }
    // The stamp says when the value last changed, not when it was last rewritten, so a lease
    // renewal does not make an old livemostrecent value look new.
    const bool changed = flushed.stamp_ms == 0 || *v != flushed.value;
    next.value = *v;
    next.stamp_ms = changed ? now_ms : flushed.stamp_ms;
    add(kind::set, *v, next.stamp_ms);
}

void gauge_deltas(const series& s, const flushed_state& flushed, bool assigned,
                  std::vector<series_delta>& out, flushed_state& next, std::int64_t now_ms) {
    const auto mode = s.owner->spec().mode;
    using kind = series_delta::kind;
    if (is_live(mode)) {
        live_deltas(s, flushed, out, next, now_ms);
        return;
    }
    if (mode == gauge_mode::all) {
        // One shared field per pid, kept after the process leaves (that is the mode).
        static thread_local std::vector<std::pair<std::int64_t, double>> values;
        per_pid_values(s, mode, values);
        for (const auto& [pid, v] : values) {
            auto& d = add_delta(s, out, kind::set);
            d.label_values.push_back(pid_text(pid));
            d.value = v;
        }
        return;
    }
    const auto v = combined_value(s, mode);
    switch (mode) {
    case gauge_mode::sum:
        // Several daemons add into one cell: each sends the change of its own contribution.
        next.value = v.value_or(0);
        add_delta(s, out, kind::add).value = next.value - flushed.value;
        return;
    case gauge_mode::shared:
        next.value = s.value;
        if (assigned)
            add_delta(s, out, kind::set).value = s.value;
        else
            add_delta(s, out, kind::add).value = s.value - flushed.value;
        return;
    default: // max, min, mostrecent: this daemon's combined value, last writer wins
        next.value = v.value_or(0);
        if (v)
            add_delta(s, out, kind::set).value = *v;
        return;
    }
}

} // namespace

void series_deltas(const series& s, const flushed_state& flushed, bool assigned,
                   std::vector<series_delta>& out, std::int64_t now_ms, flushed_state* next) {
    flushed_state scratch;
    flushed_state& n = next ? *next : scratch;
    const auto& spec = s.owner->spec();
    switch (spec.type) {
    case metric_type::counter:
        n.value = s.value;
        add_delta(s, out, series_delta::kind::add).value = s.value - flushed.value;
        return;
    case metric_type::gauge:
        gauge_deltas(s, flushed, assigned, out, n, now_ms);
        return;
    case metric_type::histogram: {
        auto& d = add_delta(s, out, series_delta::kind::add);
        const auto& h = s.histogram();
        const auto& counts = h.counts;
        d.bucket_deltas.resize(counts.size());
        // Nothing written by this daemon yet (a failed flush leaves it so): create every cell.
        d.every_bucket = flushed.counts.empty();
        for (std::size_t i = 0; i < counts.size(); ++i)
            d.bucket_deltas[i] = counts[i] - (i < flushed.counts.size() ? flushed.counts[i] : 0.0);
        d.sum = h.sum - flushed.sum;
        d.count = h.count - flushed.count;
        n.counts = counts;
        n.sum = h.sum;
        n.count = h.count;
        return;
    }
    case metric_type::summary: {
        auto& d = add_delta(s, out, series_delta::kind::add);
        const auto& m = s.summary();
        d.sum = m.sum - flushed.sum;
        d.count = m.count - flushed.count;
        n.sum = m.sum;
        n.count = m.count;
        return;
    }
    }
}

} // namespace metricsd::daemon

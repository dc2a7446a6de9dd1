#include "daemon/redis_delta.hpp"

#include "daemon/gauge.hpp"

#include <charconv>

namespace metricsd::daemon {
namespace {

using protocol::gauge_mode;
using protocol::metric_type;

series_delta& add_delta(const series& s, std::vector<series_delta>& out, series_delta::kind op) {
    series_delta& d = out.emplace_back();
    d.family = &s.owner->spec();
    d.label_values = *s.label_values;
    d.op = op;
    return d;
}

void gauge_deltas(const series& s, std::vector<series_delta>& out, flushed_state& next) {
    const auto mode = s.owner->spec().mode;
    using kind = series_delta::kind;
    if (is_per_pid(mode)) {
        static thread_local std::vector<std::pair<std::int64_t, double>> values;
        per_pid_values(s, mode, values);
        next.pids.clear();
        for (const auto& [pid, v] : values)
            next.pids.emplace(pid, v);
        const auto with_pid = [&](std::int64_t pid, kind op, double v) {
            auto& d = add_delta(s, out, op);
            char buf[24];
            const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, pid);
            d.label_values.emplace_back(buf, end);
            d.value = v;
        };
        // Pids that left (liveall) first, so a reused pid's new value is the one that stays.
        for (const auto& [pid, v] : s.flushed.pids)
            if (!next.pids.contains(pid))
                with_pid(pid, kind::remove, 0);
        for (const auto& [pid, v] : values)
            with_pid(pid, kind::set, v);
        return;
    }
    const auto v = combined_value(s, mode);
    switch (mode) {
    case gauge_mode::sum:
    case gauge_mode::livesum:
        // Several daemons add into one cell: each sends the change of its own contribution.
        next.value = v.value_or(0);
        add_delta(s, out, kind::add).value = next.value - s.flushed.value;
        return;
    case gauge_mode::shared:
        next.value = s.value;
        if (s.was_set)
            add_delta(s, out, kind::set).value = s.value;
        else
            add_delta(s, out, kind::add).value = s.value - s.flushed.value;
        return;
    default: // max, min, mostrecent and their live variants: this daemon's combined value
        next.value = v.value_or(0);
        if (v)
            add_delta(s, out, kind::set).value = *v;
        else
            add_delta(s, out, kind::remove);
        return;
    }
}

} // namespace

void flush_batch::clear() {
    deltas.clear();
    taken.clear();
    next.clear();
    was_set.clear();
}

void series_deltas(const series& s, std::vector<series_delta>& out, flushed_state* next) {
    flushed_state scratch;
    flushed_state& n = next ? *next : scratch;
    const auto& spec = s.owner->spec();
    switch (spec.type) {
    case metric_type::counter:
        n.value = s.value;
        add_delta(s, out, series_delta::kind::add).value = s.value - s.flushed.value;
        return;
    case metric_type::gauge:
        gauge_deltas(s, out, n);
        return;
    case metric_type::histogram: {
        auto& d = add_delta(s, out, series_delta::kind::add);
        const auto& counts = s.histogram.counts;
        d.bucket_deltas.resize(counts.size());
        for (std::size_t i = 0; i < counts.size(); ++i)
            d.bucket_deltas[i] =
                counts[i] - (i < s.flushed.counts.size() ? s.flushed.counts[i] : 0.0);
        d.sum = s.histogram.sum - s.flushed.sum;
        d.count = s.histogram.count - s.flushed.count;
        n.counts = counts;
        n.sum = s.histogram.sum;
        n.count = s.histogram.count;
        return;
    }
    case metric_type::summary: {
        auto& d = add_delta(s, out, series_delta::kind::add);
        d.sum = s.summary.sum - s.flushed.sum;
        d.count = s.summary.count - s.flushed.count;
        n.sum = s.summary.sum;
        n.count = s.summary.count;
        return;
    }
    }
}

void collect_batch(store& st, flush_batch& batch, std::size_t limit) {
    batch.clear();
    st.take_dirty(batch.taken);
    if (batch.taken.size() > limit) {
        for (std::size_t i = limit; i < batch.taken.size(); ++i)
            st.mark_dirty(*batch.taken[i]);
        batch.taken.resize(limit);
    }
    batch.next.resize(batch.taken.size());
    batch.was_set.resize(batch.taken.size());
    for (std::size_t i = 0; i < batch.taken.size(); ++i) {
        series& s = *batch.taken[i];
        series_deltas(s, batch.deltas, &batch.next[i]);
        batch.was_set[i] = s.was_set;
        s.was_set = false;
        s.flushing = true;
    }
}

void settle_applied(flush_batch& batch) {
    for (std::size_t i = 0; i < batch.taken.size(); ++i) {
        batch.taken[i]->flushed = std::move(batch.next[i]);
        batch.taken[i]->flushing = false;
    }
    batch.clear();
}

void settle_failed(store& st, flush_batch& batch) {
    for (std::size_t i = 0; i < batch.taken.size(); ++i) {
        series& s = *batch.taken[i];
        s.flushing = false;
        if (batch.was_set[i])
            s.was_set = true;
        st.mark_dirty(s);
    }
    batch.clear();
}

void pending_deltas(const store& st, std::vector<series_delta>& out) {
    for (const series* s : st.dirty_series())
        series_deltas(*s, out);
}

} // namespace metricsd::daemon

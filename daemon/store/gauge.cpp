#include "daemon/store/gauge.hpp"

#include "daemon/store/family_spec.hpp"

#include <algorithm>

namespace metricsd::daemon {

using protocol::gauge_mode;

namespace {

std::optional<double> extreme(const gauge_workers& s, bool want_max, bool include_retired) {
    std::optional<double> best;
    if (include_retired && s.has_retired)
        best = s.retired;
    for (const auto& slot : s.live)
        if (!best || (want_max ? slot.value > *best : slot.value < *best))
            best = slot.value;
    return best;
}

std::optional<double> newest(const gauge_workers& s, bool include_retired) {
    std::optional<double> best;
    std::uint64_t best_seq = 0;
    if (include_retired && s.has_retired) {
        best = s.retired;
        best_seq = s.retired_seq;
    }
    for (const auto& slot : s.live)
        if (!best || slot.seq >= best_seq) {
            best = slot.value;
            best_seq = slot.seq;
        }
    return best;
}

} // namespace

std::optional<double> combined_value(const series& ser, gauge_mode mode) {
    if (mode == gauge_mode::shared)
        return ser.value; // the one cell; no per-worker state
    const gauge_workers& s = ser.gauge();
    switch (mode) {
    case gauge_mode::shared:
        break;
    case gauge_mode::livesum:
    case gauge_mode::sum: {
        double total = mode == gauge_mode::sum ? s.retired : 0.0;
        for (const auto& slot : s.live)
            total += slot.value;
        return total;
    }
    case gauge_mode::max:
    case gauge_mode::livemax:
        return extreme(s, true, mode == gauge_mode::max);
    case gauge_mode::min:
    case gauge_mode::livemin:
        return extreme(s, false, mode == gauge_mode::min);
    case gauge_mode::mostrecent:
    case gauge_mode::livemostrecent:
        return newest(s, mode == gauge_mode::mostrecent);
    case gauge_mode::all:
    case gauge_mode::liveall:
        break;
    }
    return std::nullopt;
}

void per_pid_values(const series& ser, gauge_mode mode,
                    std::vector<std::pair<std::int64_t, double>>& out) {
    out.clear();
    const gauge_workers& s = ser.gauge();
    // Live slots first, newest write first within a pid, so the stable dedupe below keeps the
    // live, most recently written value of each pid.
    // Scratch reused across calls: a scrape allocates nothing per series here.
    static thread_local std::vector<const gauge_slot*> live;
    live.clear();
    for (const auto& slot : s.live)
        live.push_back(&slot);
    std::stable_sort(live.begin(), live.end(), [](const gauge_slot* a, const gauge_slot* b) {
        return a->pid != b->pid ? a->pid < b->pid : a->seq > b->seq;
    });
    for (const auto* slot : live)
        if (out.empty() || out.back().first != slot->pid)
            out.emplace_back(slot->pid, slot->value);
    if (mode != gauge_mode::all || s.retired_by_pid.empty())
        return;
    const auto live_end = out.size();
    for (const auto& [pid, slot] : s.retired_by_pid) {
        const bool has_live =
            std::binary_search(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(live_end),
                               std::pair<std::int64_t, double>{pid, 0.0},
                               [](const auto& a, const auto& b) { return a.first < b.first; });
        if (!has_live)
            out.emplace_back(pid, slot.value);
    }
    std::inplace_merge(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(live_end), out.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
}

} // namespace metricsd::daemon

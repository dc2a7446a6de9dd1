// How a gauge series combines its workers' values, per gauge mode. Pure.
#pragma once

#include "daemon/store/series.hpp"

#include <metricsd/protocol/wire.hpp>

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace metricsd::daemon {

/// The one value of a gauge series in every mode but all/liveall. Empty when nothing
/// contributes (livemax/livemin/livemostrecent with no live worker); livesum shows 0 then,
/// because "nothing in flight" is a real value.
std::optional<double> combined_value(const series& s, protocol::gauge_mode mode);

/// (pid, value) pairs for the per-pid modes, ordered by pid. A pid with several slots (two
/// connections from one process, or a reused pid) shows the most recently written one; a live
/// process beats a retired one with the same pid. `out` is cleared first and reused.
void per_pid_values(const series& s, protocol::gauge_mode mode,
                    std::vector<std::pair<std::int64_t, double>>& out);

} // namespace metricsd::daemon

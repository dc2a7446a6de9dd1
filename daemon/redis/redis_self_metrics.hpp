// The Redis backend's own metrics (metricsd_redis_*), written through the exposition's neutral
// model after the daemon's other self-metrics. Pure.
#pragma once

#include "daemon/exposition/exposition.hpp"
#include "daemon/redis/redis_stats.hpp"

#include <string>

namespace metricsd::daemon {

/// Append the metricsd_redis_* families (HELP, TYPE, samples) without a trailer: call it after
/// render_self_metrics() on the Redis backend.
void render_redis_self_metrics(const redis_stats& r, exposition_format f, std::string& out);

} // namespace metricsd::daemon

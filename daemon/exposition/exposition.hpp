// Prometheus text exposition 0.0.4 and OpenMetrics 1.0, rendered from the store into one
// buffer. Pure: no IO. Deterministic: families by name, series by label values, pids ascending.
#pragma once

#include <metricsd/protocol/wire.hpp>

#include <string>
#include <string_view>

namespace metricsd::daemon {

class store;
class family;

enum class exposition_format {
    text,        ///< text/plain; version=0.0.4
    openmetrics, ///< application/openmetrics-text; version=1.0.0
};

/// The Content-Type header value for a format.
std::string_view content_type(exposition_format f) noexcept;

/// Append every family of the store, then the format's trailer (`# EOF` for OpenMetrics).
void render(const store& s, exposition_format f, std::string& out);

/// Append one family (HELP, TYPE, samples) without any trailer: for callers that add their
/// own families (self-metrics) before finishing with render_trailer().
void render_family(const family& fam, exposition_format f, std::string& out);
void render_trailer(exposition_format f, std::string& out);

/// Append the HELP (unless `help` is empty) and TYPE lines of a family that is not in the
/// store, named as render_family() names it (OpenMetrics counters without `_total`), so the
/// daemon's own families follow exactly the store's conventions.
void render_header(std::string_view name, std::string_view help, protocol::metric_type type,
                   exposition_format f, std::string& out);

} // namespace metricsd::daemon

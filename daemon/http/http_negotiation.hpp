// HTTP content negotiation for /metrics: which exposition format (Accept) and whether to gzip
// (Accept-Encoding). Pure: no IO, no allocation, never throws.
#pragma once

#include "daemon/exposition/exposition.hpp"

#include <string_view>

namespace metricsd::daemon {

/// The exposition format for an Accept header value.
///
/// OpenMetrics when an `application/openmetrics-text` range (version absent, 1.0.0 or 0.0.1)
/// has the highest q of all ranges we can serve and that q is > 0; text otherwise, including
/// for an empty, unparsable or unsatisfiable header (we never answer 406: Prometheus and
/// curl always understand text). Ties go to the range listed first, as Prometheus's own
/// client_golang does. Media types and parameter names are case-insensitive.
exposition_format negotiate_format(std::string_view accept) noexcept;

/// Whether an Accept-Encoding header value allows a gzip response.
///
/// True when `gzip` (or the legacy alias `x-gzip`) is listed with q > 0, or when it is not
/// listed and `*` is, with q > 0. `gzip;q=0` refuses gzip even if `*` allows everything.
/// An empty or absent header means "identity only" for us: compression is an optimisation.
bool accepts_gzip(std::string_view accept_encoding) noexcept;

} // namespace metricsd::daemon

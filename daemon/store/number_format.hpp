// Locale-proof number formatting for the exposition formats.
#pragma once

#include <string>

namespace metricsd::daemon {

/// Append a sample value: integral values below 2^53 as plain integers ("42", "-3"), others as
/// the shortest text that reads back to the same double ("0.1", "1e-07"), and "NaN", "+Inf",
/// "-Inf". Never depends on the C locale.
void append_value(std::string& out, double v);

/// Append a bucket bound for the `le` label in the canonical form that Python's
/// prometheus_client and Go's client_golang produce: always a float ("1.0", "2.5", "1e-05",
/// "+Inf"), so series from every client line up in Prometheus.
void append_bound(std::string& out, double v);

/// Append Python's repr()/str() of a float: shortest round-trip digits, positional for decimal
/// exponents -4..15 with ".0" when whole ("1.0", "0.005", "1000000.0"), else "1e-05",
/// "1.5e+16"; "inf", "-inf", "nan". What pytheus names a float bucket's Redis key with.
void append_python_float(std::string& out, double v);

/// Append Python's str() of a non-finite float ("nan", "inf", "-inf") and return true; false
/// (nothing appended) for a finite one. Shared with the Redis layout's numbers.
bool append_python_nonfinite(std::string& out, double v);

} // namespace metricsd::daemon

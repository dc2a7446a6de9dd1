// Prometheus naming rules, UTF-8 validation and bucket bound parsing, shared by the daemon
// and the C++ client so both accept exactly the same declarations.
#pragma once

#include <cstddef>
#include <string_view>

namespace metricsd::protocol {

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, non-empty.
bool is_valid_metric_name(std::string_view name) noexcept;

/// `[a-zA-Z_][a-zA-Z0-9_]*`, non-empty. Does not check reserved names.
bool is_valid_label_name(std::string_view name) noexcept;

/// Label names a user may not declare: `le` (histogram buckets), `quantile` (summaries) and
/// anything starting with `__` (reserved for Prometheus itself).
bool is_reserved_label_name(std::string_view name) noexcept;

/// A histogram bucket bound as text: what Python's float() and C's strtod accept for finite
/// numbers, without locale ("1", "2.5", "1e-05", ".5", "+3"). False for inf, nan, empty text
/// and trailing garbage; `out` holds the value when true.
bool parse_bucket_bound(std::string_view text, double& out) noexcept;

/// Levenshtein distance between two names: how the daemon tells a misspelt name ("did you
/// mean") from an unrelated one.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// Well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text) noexcept;

} // namespace metricsd::protocol

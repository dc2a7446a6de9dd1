// Client-side checks of declarations, so mistakes surface as exceptions at start-up instead of
// ERROR frames later. The family rules are the daemon's own (protocol/family_rules.hpp).
#pragma once

#include <metricsd/protocol/family_definition.hpp>
#include <metricsd/protocol/wire.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::detail {

/// Everything that defines a family, owned: the declaration the daemon gets.
using family_def = protocol::family_definition;

/// Check the family rules (name, help, gauge mode, label names, buckets); returns the parsed
/// bounds (empty unless histogram). Throws std::invalid_argument with the rule's message.
std::vector<double> validate_family(const family_def& def);

/// Check label values against the family: count, UTF-8, length. Throws std::invalid_argument.
void validate_label_values(const family_def& def, std::span<const std::string_view> values);

/// Shortest text that reads back as exactly v (std::to_chars). Throws std::invalid_argument
/// for NaN and infinities (the +Inf bucket is implicit).
std::string format_bound(double v);

} // namespace metricsd::detail

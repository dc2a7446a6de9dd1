// A validated metric family definition: what DECLARE_FAMILY asked for, checked against the
// family rules shared with the clients (protocol/family_rules.hpp). Pure; no store state.
#pragma once

#include "daemon/store/outcome.hpp"

#include <metricsd/protocol/family_definition.hpp>
#include <metricsd/protocol/family_rules.hpp>
#include <metricsd/protocol/messages.hpp>

#include <string>
#include <vector>

namespace metricsd::daemon {

/// Everything that defines a family: the declaration (shared with the clients) and what the
/// rules parsed from it. Two declarations of one name must agree on all of it but help (the
/// first help text wins, so a rolling deploy that rewords help breaks nobody).
struct family_spec : protocol::family_definition {
    std::vector<double> bounds;            ///< parsed bucket_texts; +Inf is implicit
    std::vector<std::string> le_labels;    ///< canonical `le` texts, then "+Inf" (rendered once)
};

/// Validate a declaration against the family rules (protocol/family_rules.hpp: names, label
/// names, buckets, gauge mode, reserved prefix, limits) and keep what they parsed.
outcome<family_spec> make_family_spec(const protocol::family_decl& decl);

/// Why `b` cannot share a name with `a`, or empty when they are compatible.
std::string conflict_between(const family_spec& a, const family_spec& b);

/// Gauge modes that add a `pid` label (one series per worker process).
using protocol::is_per_pid;
/// Gauge modes that forget a worker's value when it retires.
constexpr bool is_live(protocol::gauge_mode m) noexcept {
    using enum protocol::gauge_mode;
    return m == livesum || m == liveall || m == livemax || m == livemin || m == livemostrecent;
}

/// The sample names a family emits in either exposition format (e.g. a histogram `h` emits
/// `h_bucket`, `h_sum`, `h_count`; a counter `c` emits `c` and `c_total`). Two families whose
/// lists overlap would produce duplicate series, so the store refuses the second.
std::vector<std::string> claimed_names(const family_spec& spec);

} // namespace metricsd::daemon

// The family rules: what a family declaration must satisfy to be accepted (PROTOCOL.md section
// 5.1). One implementation, used by the daemon before a family enters its store and by the C
// and C++ clients, so both refuse exactly the same declarations and a client reports a mistake
// at start-up instead of receiving an ERROR frame later.
//
// Pure functions: each returns the first rule broken, with the error code the daemon reports
// for it, and never throws (beyond std::bad_alloc for the message). The checks that the frame
// decoder already makes at the wire level (lengths, counts, gauge mode) are repeated here with
// the decoder's codes, so a declaration that did not come off the wire (a client's, a Redis
// metadata record, a state file) is held to the same limits.
#pragma once

#include <metricsd/protocol/messages.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::protocol {

/// A broken family rule: the code the daemon reports and a message naming the offending value.
struct rule_violation {
    error_code code = error_code::internal;
    std::string message;
};

/// Empty when every rule checked holds, else the first rule broken.
using rule_result = std::optional<rule_violation>;

/// Metric names starting with this belong to the daemon's own metrics (it appends them to
/// every scrape; a client family there could duplicate one and break the whole scrape).
inline constexpr std::string_view reserved_metric_prefix{"metricsd_"};

/// Gauge modes that add a `pid` label (one series per worker process).
constexpr bool is_per_pid(gauge_mode m) noexcept {
    return m == gauge_mode::all || m == gauge_mode::liveall;
}

/// At most 255 bytes, `[a-zA-Z_:][a-zA-Z0-9_:]*`, not starting with `metricsd_`.
rule_result check_metric_name(std::string_view name);

/// The name a family is known by once declared: a counter's name ends in `_total` (appended
/// when the declaration lacks it), every other type keeps its name. prometheus_client and the
/// OpenMetrics spec name a counter's sample so; the daemon applies it to every declaration, so
/// every client (`counter inc backups` from metricsctl, `Counter("backups")` from Python)
/// exports `backups_total`, and the Redis backend writes that key (a pytheus counter shares it
/// when pytheus names it `backups_total`).
std::string family_name(metric_type type, std::string_view declared);

/// At most 4096 bytes of valid UTF-8 (may be empty).
rule_result check_help(std::string_view help);

/// A known mode, and livesum unless the type is gauge.
rule_result check_gauge_mode(metric_type type, gauge_mode mode);

/// At most 32 names, each at most 255 bytes, `[a-zA-Z_][a-zA-Z0-9_]*`, not reserved (`le`,
/// `quantile`, `__*`), not `pid` in the per-pid gauge modes, no duplicates.
rule_result check_label_names(metric_type type, gauge_mode mode,
                              std::span<const std::string_view> names);

/// None unless the type is histogram; then 1 to 256 texts of at most 64 bytes each, finite
/// numbers (parse_bucket_bound), strictly increasing. `bounds` receives the parsed values
/// (cleared first; complete only when the result is empty).
rule_result check_buckets(metric_type type, std::span<const std::string_view> texts,
                          std::vector<double>& bounds);

/// A known metric type, then every rule above in this order: name, help, gauge mode, label
/// names, buckets. The handle is not looked at. `bounds` as for check_buckets.
rule_result check_family(const family_decl& decl, std::vector<double>& bounds);

/// check_family without the parsed bounds.
rule_result check_family(const family_decl& decl);

} // namespace metricsd::protocol

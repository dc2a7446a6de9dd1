#include "validate.hpp"

#include <metricsd/protocol/names.hpp>

#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>

namespace metricsd::detail {
namespace {

namespace limits = protocol::limits;

[[noreturn]] void reject(const std::string& what) {
    throw std::invalid_argument("metricsd: " + what);
}

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

void validate_label_names(const family_def& def) {
    if (def.label_names.size() > limits::max_labels)
        reject(quoted(def.name) + " has " + std::to_string(def.label_names.size()) +
               " label names; the limit is " + std::to_string(limits::max_labels));
    std::set<std::string_view> seen;
    for (const auto& label : def.label_names) {
        if (!protocol::is_valid_label_name(label) || label.size() > limits::max_name_length)
            reject("label name " + quoted(label) + " is not [a-zA-Z_][a-zA-Z0-9_]* (max 255)");
        if (protocol::is_reserved_label_name(label))
            reject("label name " + quoted(label) + " is reserved (le, quantile, __*)");
        const bool per_pid =
            def.mode == protocol::gauge_mode::all || def.mode == protocol::gauge_mode::liveall;
        if (def.type == protocol::metric_type::gauge && per_pid && label == "pid")
            reject("label name 'pid' is added by gauge mode " +
                   std::string(protocol::to_string(def.mode)));
        if (!seen.insert(label).second)
            reject("label name " + quoted(label) + " is declared twice");
    }
}

std::vector<double> validate_buckets(const family_def& def) {
    std::vector<double> bounds;
    if (def.type != protocol::metric_type::histogram) {
        if (!def.buckets.empty())
            reject("only histograms have buckets (" + quoted(def.name) + ")");
        return bounds;
    }
    if (def.buckets.empty())
        reject(quoted(def.name) + " needs at least one bucket bound (+Inf is implicit)");
    if (def.buckets.size() > limits::max_buckets)
        reject(quoted(def.name) + " has " + std::to_string(def.buckets.size()) +
               " bucket bounds; the limit is " + std::to_string(limits::max_buckets));
    for (const auto& text : def.buckets) {
        double v = 0;
        if (text.size() > limits::max_bucket_text_length || !protocol::parse_bucket_bound(text, v))
            reject("bucket bound " + quoted(text) +
                   " is not a finite number (+Inf is implicit; max 64 bytes)");
        if (!bounds.empty() && v <= bounds.back())
            reject("bucket bounds must increase strictly; " + quoted(text) + " does not");
        bounds.push_back(v);
    }
    return bounds;
}

} // namespace

std::vector<double> validate_family(const family_def& def) {
    if (!protocol::is_valid_metric_name(def.name) || def.name.size() > limits::max_name_length)
        reject("metric name " + quoted(def.name) + " is not [a-zA-Z_:][a-zA-Z0-9_:]* (max 255)");
    if (def.help.size() > limits::max_help_length || !protocol::is_valid_utf8(def.help))
        reject("help of " + quoted(def.name) + " is not UTF-8 of at most 4096 bytes");
    if (def.type != protocol::metric_type::gauge && def.mode != protocol::gauge_mode::livesum)
        reject("only gauges have a gauge mode (" + quoted(def.name) + ")");
    if (static_cast<std::uint8_t>(def.mode) >= protocol::gauge_mode_count)
        reject("unknown gauge mode for " + quoted(def.name));
    validate_label_names(def);
    return validate_buckets(def);
}

void validate_label_values(const family_def& def, std::span<const std::string_view> values) {
    if (values.size() != def.label_names.size())
        reject(quoted(def.name) + " has " + std::to_string(def.label_names.size()) +
               " label(s); got " + std::to_string(values.size()) + " value(s)");
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (values[i].size() > limits::max_label_value_length)
            reject("value of label " + quoted(def.label_names[i]) + " of " + quoted(def.name) +
                   " is longer than 4096 bytes");
        if (!protocol::is_valid_utf8(values[i]))
            reject("value of label " + quoted(def.label_names[i]) + " of " + quoted(def.name) +
                   " is not valid UTF-8");
    }
}

std::string format_bound(double v) {
    if (!std::isfinite(v))
        reject("bucket bound " + std::to_string(v) + " is not finite (+Inf is implicit)");
    char text[32];
    const auto [end, ec] = std::to_chars(text, text + sizeof text, v);
    return std::string(text, end);
}

} // namespace metricsd::detail

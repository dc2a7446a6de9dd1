#include <metricsd/protocol/family_rules.hpp>
#include <metricsd/protocol/names.hpp>

#include <set>

namespace metricsd::protocol {
namespace {

rule_violation fail(error_code code, std::string message) {
    return rule_violation{code, std::move(message)};
}

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

std::string num(std::size_t n) {
    return std::to_string(n);
}

/// `what` is `size` bytes long, above `limit`: the decoder's string_too_long, in its words.
rule_violation too_long(const std::string& what, std::size_t size, std::size_t limit) {
    return fail(error_code::string_too_long,
                what + " is " + num(size) + " bytes; the limit is " + num(limit));
}

rule_result check_label_name(metric_type type, gauge_mode mode, std::string_view label) {
    if (label.size() > limits::max_name_length)
        return too_long("label name " + quoted(label.substr(0, 32)) + "...", label.size(),
                        limits::max_name_length);
    if (!is_valid_label_name(label))
        return fail(error_code::invalid_label_name,
                    "label name " + quoted(label) + " is not [a-zA-Z_][a-zA-Z0-9_]*");
    if (is_reserved_label_name(label))
        return fail(error_code::invalid_label_name,
                    "label name " + quoted(label) + " is reserved (le, quantile, __*)");
    if (type == metric_type::gauge && is_per_pid(mode) && label == "pid")
        return fail(error_code::invalid_label_name,
                    "label name 'pid' is added by gauge mode " + std::string(to_string(mode)));
    return std::nullopt;
}

} // namespace

rule_result check_metric_name(std::string_view name) {
    if (name.size() > limits::max_name_length)
        return too_long("metric name " + quoted(name.substr(0, 32)) + "...", name.size(),
                        limits::max_name_length);
    if (!is_valid_metric_name(name))
        return fail(error_code::invalid_metric_name,
                    "metric name " + quoted(name) + " is not [a-zA-Z_:][a-zA-Z0-9_:]*");
    if (name.starts_with(reserved_metric_prefix))
        return fail(error_code::name_collision,
                    "metric name " + quoted(name) +
                        ": the metricsd_ prefix is reserved for the daemon's own metrics");
    return std::nullopt;
}

std::string family_name(metric_type type, std::string_view declared) {
    std::string name(declared);
    if (type == metric_type::counter && !name.ends_with("_total"))
        name += "_total";
    return name;
}

rule_result check_help(std::string_view help) {
    if (help.size() > limits::max_help_length)
        return too_long("help", help.size(), limits::max_help_length);
    if (!is_valid_utf8(help))
        return fail(error_code::invalid_label_value, "help text is not valid UTF-8");
    return std::nullopt;
}

rule_result check_gauge_mode(metric_type type, gauge_mode mode) {
    const auto value = static_cast<unsigned>(mode);
    if (value >= gauge_mode_count)
        return fail(error_code::invalid_gauge_mode, "gauge mode " + num(value) +
                                                        " is out of range 0.." +
                                                        num(gauge_mode_count - 1));
    if (type != metric_type::gauge && mode != gauge_mode::livesum)
        return fail(error_code::invalid_gauge_mode,
                    "gauge mode " + std::string(to_string(mode)) + " given for a " +
                        std::string(to_string(type)) + "; only gauges take a mode");
    return std::nullopt;
}

rule_result check_label_names(metric_type type, gauge_mode mode,
                              std::span<const std::string_view> names) {
    if (names.size() > limits::max_labels)
        return fail(error_code::too_many_labels, "family declares " + num(names.size()) +
                                                     " label names; the limit is " +
                                                     num(limits::max_labels));
    std::set<std::string_view> seen;
    for (const auto label : names) {
        if (auto v = check_label_name(type, mode, label))
            return v;
        if (!seen.insert(label).second)
            return fail(error_code::invalid_label_name,
                        "label name " + quoted(label) + " is declared twice");
    }
    return std::nullopt;
}

rule_result check_buckets(metric_type type, std::span<const std::string_view> texts,
                          std::vector<double>& bounds) {
    bounds.clear();
    if (type != metric_type::histogram) {
        if (!texts.empty())
            return fail(error_code::too_many_buckets, "only histograms have buckets");
        return std::nullopt;
    }
    if (texts.size() > limits::max_buckets)
        return fail(error_code::too_many_buckets, "histogram declares " + num(texts.size()) +
                                                      " bucket bounds; the limit is " +
                                                      num(limits::max_buckets));
    if (texts.empty())
        return fail(error_code::invalid_buckets,
                    "a histogram needs at least one bucket bound (+Inf is implicit)");
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto text = texts[i];
        if (text.size() > limits::max_bucket_text_length)
            return too_long("bucket bound " + quoted(text.substr(0, 32)) + "...", text.size(),
                            limits::max_bucket_text_length);
        double v = 0;
        if (!parse_bucket_bound(text, v))
            return fail(error_code::invalid_buckets,
                        "bucket bound " + quoted(text) +
                            " is not a finite number (+Inf is implicit)");
        if (!bounds.empty() && v <= bounds.back())
            return fail(error_code::invalid_buckets, "bucket bounds must increase strictly; " +
                                                         quoted(text) + " follows " +
                                                         quoted(texts[i - 1]));
        bounds.push_back(v);
    }
    return std::nullopt;
}

rule_result check_family(const family_decl& d, std::vector<double>& bounds) {
    // Only a cast can make an unknown type (the decoder refuses one on the wire).
    const auto type = static_cast<unsigned>(d.type);
    if (type < 1 || type > 4)
        return fail(error_code::invalid_metric_type,
                    "metric type " + num(type) +
                        " is not 1 (counter), 2 (gauge), 3 (histogram) or 4 (summary)");
    if (auto v = check_metric_name(d.name))
        return v;
    if (auto v = check_help(d.help))
        return v;
    if (auto v = check_gauge_mode(d.type, d.mode))
        return v;
    if (auto v = check_label_names(d.type, d.mode, d.label_names))
        return v;
    return check_buckets(d.type, d.buckets, bounds);
}

rule_result check_family(const family_decl& d) {
    std::vector<double> bounds;
    return check_family(d, bounds);
}

} // namespace metricsd::protocol

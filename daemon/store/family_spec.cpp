#include "daemon/store/family_spec.hpp"

#include "daemon/store/number_format.hpp"

#include <metricsd/protocol/names.hpp>

#include <optional>
#include <set>

namespace metricsd::daemon {
namespace {

using protocol::error_code;

failure fail(error_code code, std::string message) {
    return failure{code, std::move(message)};
}

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

std::optional<failure> check_labels(const protocol::family_decl& d) {
    std::set<std::string_view> seen;
    for (auto label : d.label_names) {
        if (!protocol::is_valid_label_name(label))
            return fail(error_code::invalid_label_name,
                        "label name " + quoted(label) + " is not [a-zA-Z_][a-zA-Z0-9_]*");
        if (protocol::is_reserved_label_name(label))
            return fail(error_code::invalid_label_name,
                        "label name " + quoted(label) + " is reserved (le, quantile, __*)");
        if (d.type == protocol::metric_type::gauge && is_per_pid(d.mode) && label == "pid")
            return fail(error_code::invalid_label_name, "label name 'pid' is added by gauge mode " +
                                                            std::string(to_string(d.mode)));
        if (!seen.insert(label).second)
            return fail(error_code::invalid_label_name,
                        "label name " + quoted(label) + " is declared twice");
    }
    return std::nullopt;
}

std::optional<failure> parse_buckets(const protocol::family_decl& d, family_spec& spec) {
    if (d.type != protocol::metric_type::histogram) {
        if (!d.buckets.empty())
            return fail(error_code::invalid_buckets, "only histograms have buckets");
        return std::nullopt;
    }
    if (d.buckets.empty())
        return fail(error_code::invalid_buckets, "a histogram needs at least one bucket bound");
    for (auto text : d.buckets) {
        double v = 0;
        if (!protocol::parse_bucket_bound(text, v))
            return fail(error_code::invalid_buckets,
                        "bucket bound " + quoted(text) + " is not a finite number");
        if (!spec.bounds.empty() && v <= spec.bounds.back())
            return fail(error_code::invalid_buckets, "bucket bounds must increase strictly; " +
                                                         quoted(text) + " follows " +
                                                         quoted(spec.bucket_texts.back()));
        spec.bounds.push_back(v);
        spec.bucket_texts.emplace_back(text);
        append_bound(spec.le_labels.emplace_back(), v);
    }
    spec.le_labels.emplace_back("+Inf");
    return std::nullopt;
}

} // namespace

outcome<family_spec> make_family_spec(const protocol::family_decl& d) {
    if (!protocol::is_valid_metric_name(d.name))
        return fail(error_code::invalid_metric_name,
                    "metric name " + quoted(d.name) + " is not [a-zA-Z_:][a-zA-Z0-9_:]*");
    // The daemon appends its own metricsd_* families to every scrape; a client family there
    // could duplicate one of them, and Prometheus would reject the whole scrape.
    if (d.name.starts_with("metricsd_"))
        return fail(error_code::name_collision,
                    "metric name " + quoted(d.name) +
                        ": the metricsd_ prefix is reserved for the daemon's own metrics");
    if (!protocol::is_valid_utf8(d.help))
        return fail(error_code::invalid_label_value, "help text is not valid UTF-8");
    if (auto f = check_labels(d))
        return std::move(*f);
    family_spec spec;
    if (auto f = parse_buckets(d, spec))
        return std::move(*f);
    spec.name = d.name;
    spec.help = d.help;
    spec.type = d.type;
    spec.mode = d.type == protocol::metric_type::gauge ? d.mode : protocol::gauge_mode::livesum;
    spec.label_names.assign(d.label_names.begin(), d.label_names.end());
    return spec;
}

std::string conflict_between(const family_spec& a, const family_spec& b) {
    const std::string who = "'" + a.name + "' is already declared";
    if (a.type != b.type)
        return who + " as a " + std::string(to_string(a.type)) + ", not a " +
               std::string(to_string(b.type));
    if (a.label_names != b.label_names)
        return who + " with other label names";
    if (a.bounds != b.bounds)
        return who + " with other bucket bounds";
    if (a.mode != b.mode)
        return who + " with gauge mode " + std::string(to_string(a.mode)) + ", not " +
               std::string(to_string(b.mode));
    return {};
}

std::vector<std::string> claimed_names(const family_spec& s) {
    using protocol::metric_type;
    std::vector<std::string> names{s.name};
    auto add = [&](std::string_view suffix) { names.push_back(s.name + std::string(suffix)); };
    switch (s.type) {
    case metric_type::counter:
        // OpenMetrics exposes counter `x` (or `x_total`) as family `x` with sample `x_total`.
        if (s.name.ends_with("_total"))
            names.push_back(s.name.substr(0, s.name.size() - 6));
        else
            add("_total");
        break;
    case metric_type::histogram:
        add("_bucket");
        [[fallthrough]];
    case metric_type::summary:
        add("_sum");
        add("_count");
        break;
    case metric_type::gauge:
        break;
    }
    return names;
}

} // namespace metricsd::daemon

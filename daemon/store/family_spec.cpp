#include "daemon/store/family_spec.hpp"

#include "daemon/store/number_format.hpp"

#include <metricsd/protocol/family_rules.hpp>

namespace metricsd::daemon {

outcome<family_spec> make_family_spec(const protocol::family_decl& d) {
    family_spec spec;
    // Every rule lives in protocol/ (shared with the clients); this only keeps what it parsed.
    if (auto v = protocol::check_family(d, spec.bounds))
        return failure{v->code, std::move(v->message)};
    spec.name = d.name;
    spec.help = d.help;
    spec.type = d.type;
    spec.mode = d.mode; // livesum unless a gauge: check_family refuses a mode on other types
    spec.label_names.assign(d.label_names.begin(), d.label_names.end());
    spec.bucket_texts.assign(d.buckets.begin(), d.buckets.end());
    spec.le_labels.reserve(spec.bounds.size() + 1);
    for (const double bound : spec.bounds)
        append_bound(spec.le_labels.emplace_back(), bound);
    if (d.type == protocol::metric_type::histogram)
        spec.le_labels.emplace_back("+Inf");
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

#include "daemon/exposition/store_exposition.hpp"

#include "daemon/store/gauge.hpp"
#include "daemon/store/store.hpp"

#include <charconv>
#include <cstdint>
#include <utility>
#include <vector>

namespace metricsd::daemon {
namespace {

void write_gauge(family_writer& w, text_list values, const series& s,
                 protocol::gauge_mode mode) {
    if (!is_per_pid(mode)) {
        if (auto v = combined_value(s, mode))
            w.value(values, *v);
        return;
    }
    // Scratch reused across series and scrapes: a scrape allocates nothing per series here.
    static thread_local std::vector<std::pair<std::int64_t, double>> per_pid;
    per_pid_values(s, mode, per_pid);
    for (const auto& [pid, v] : per_pid) {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, pid);
        w.per_pid_value(values, std::string_view(buf, static_cast<std::size_t>(end - buf)), v);
    }
}

} // namespace

void render_family(const family& fam, exposition_format f, std::string& out) {
    using protocol::metric_type;
    const family_spec& spec = fam.spec();
    family_writer w(family_desc(spec), f, out);
    for (const auto& [values, s] : fam.all_series()) {
        if (!is_visible(s))
            continue; // reset by series expiry while a worker holds it; back at its next op
        switch (spec.type) {
        case metric_type::counter:
            w.value(values, s.value);
            break;
        case metric_type::gauge:
            write_gauge(w, values, s, spec.mode);
            break;
        case metric_type::histogram:
            w.histogram(values, s.histogram().counts, s.histogram().sum, s.histogram().count);
            break;
        case metric_type::summary:
            w.summary(values, s.summary().sum, s.summary().count);
            break;
        }
    }
}

void render_families(const store& s, exposition_format f, std::string& out) {
    for (const auto& [name, fam] : s.families())
        render_family(*fam, f, out);
}

} // namespace metricsd::daemon

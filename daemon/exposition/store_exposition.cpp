#include "daemon/exposition/store_exposition.hpp"

#include "daemon/store/gauge.hpp"
#include "daemon/store/store.hpp"

#include <charconv>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsd::daemon {
namespace {

// Every access to the store's internals (how families and series are kept and found, what a
// cell holds) is in the four functions below, so a change of the store's layout changes them
// and nothing else.

using family_iterator = decltype(std::declval<const store&>().families().begin());
using series_iterator = series_range::iterator;

/// The first family whose name is not less than `name`.
family_iterator family_from(const store& s, std::string_view name) {
    return s.families().lower_bound(name);
}

/// The series of `fam` after `last` (label values), or its first when `has_last` is false.
series_iterator series_after(const family& fam, const std::vector<std::string>& last,
                             bool has_last) {
    return has_last ? fam.all_series().upper_bound(last) : fam.all_series().begin();
}

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

/// One series, whole: every sample line of it comes from the cells as they are now.
void write_series(family_writer& w, const family_spec& spec,
                  text_list values, const series& s) {
    using protocol::metric_type;
    if (!is_visible(s))
        return; // reset by series expiry while a worker holds it; back at its next op
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

} // namespace

void render_family(const family& fam, exposition_format f, std::string& out) {
    const family_spec& spec = fam.spec();
    family_writer w(family_desc(spec), f, out);
    for (const auto& [values, s] : fam.all_series())
        write_series(w, spec, values, s);
}

void render_families(const store& s, exposition_format f, std::string& out) {
    for (const auto& [name, fam] : s.families())
        render_family(*fam, f, out);
}

bool render_families_slice(const store& s, exposition_format f, store_cursor& cursor,
                           std::string& out, std::size_t budget) {
    if (cursor.done)
        return true;
    auto fam_it = family_from(s, cursor.family);
    // Resume inside the family only if it is still there (families are not erased today, but
    // the cursor need not rely on it); otherwise start with the next one, HELP and TYPE first.
    bool resume =
        cursor.in_family && fam_it != s.families().end() && fam_it->first == cursor.family;
    for (; fam_it != s.families().end(); ++fam_it, resume = false) {
        const family& fam = *fam_it->second;
        const family_spec& spec = fam.spec();
        family_writer w(family_desc(spec), f, out, !resume);
        auto it = series_after(fam, cursor.last_series, resume && cursor.has_last);
        const auto end = fam.all_series().end();
        for (; it != end; ++it) {
            write_series(w, spec, it->first, it->second);
            auto next = it;
            if (out.size() >= budget && ++next != end) {
                cursor.family = fam_it->first;
                cursor.last_series.assign(it->first.begin(), it->first.end());
                cursor.in_family = true;
                cursor.has_last = true;
                return false;
            }
        }
        if (out.size() >= budget && std::next(fam_it) != s.families().end()) {
            // The family is complete: the next slice starts with the one after it.
            cursor.family = std::next(fam_it)->first;
            cursor.in_family = false;
            cursor.has_last = false;
            return false;
        }
    }
    cursor.done = true;
    return true;
}

} // namespace metricsd::daemon

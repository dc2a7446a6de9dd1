#include "daemon/exposition/exposition.hpp"

#include "daemon/store/gauge.hpp"
#include "daemon/store/number_format.hpp"
#include "daemon/store/store.hpp"

#include <charconv>

namespace metricsd::daemon {

using protocol::metric_type;

namespace {

void append_escaped(std::string& out, std::string_view s, bool escape_quote) {
    for (char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && escape_quote)
            out += "\\\"";
        else
            out += c;
    }
}

/// One series' sample lines share the metric name and labels; only the suffix, the extra label
/// (`le`, `pid`) and the value change.
struct series_writer {
    std::string& out;
    std::string_view name;
    const std::vector<std::string>& label_names;
    const std::vector<std::string>& label_values;

    void labels(std::string_view extra_name, std::string_view extra_value) const {
        if (label_names.empty() && extra_name.empty())
            return;
        out += '{';
        for (std::size_t i = 0; i < label_names.size(); ++i) {
            if (i)
                out += ',';
            out += label_names[i];
            out += "=\"";
            append_escaped(out, label_values[i], true);
            out += '"';
        }
        if (!extra_name.empty()) {
            if (!label_names.empty())
                out += ',';
            out += extra_name;
            out += "=\"";
            out += extra_value;
            out += '"';
        }
        out += '}';
    }

    void sample(std::string_view suffix, double value, std::string_view extra_name = {},
                std::string_view extra_value = {}) const {
        out += name;
        out += suffix;
        labels(extra_name, extra_value);
        out += ' ';
        append_value(out, value);
        out += '\n';
    }
};

void write_histogram(const series_writer& w, const series& s) {
    const auto& le = s.owner->spec().le_labels;
    const auto& h = s.histogram;
    double cumulative = 0;
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
        cumulative += h.counts[i];
        w.sample("_bucket", cumulative, "le", le[i]);
    }
    w.sample("_sum", h.sum);
    w.sample("_count", h.count);
}

void write_gauge(const series_writer& w, const series& s, protocol::gauge_mode mode) {
    if (!is_per_pid(mode)) {
        if (auto v = combined_value(s, mode))
            w.sample({}, *v);
        return;
    }
    static thread_local std::vector<std::pair<std::int64_t, double>> values;
    per_pid_values(s, mode, values);
    for (const auto& [pid, v] : values) {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, pid);
        w.sample({}, v, "pid", std::string_view(buf, static_cast<std::size_t>(end - buf)));
    }
}

/// OpenMetrics names a counter family without `_total` and its sample with it.
std::string_view family_name(std::string_view n, metric_type type, exposition_format f) {
    if (f == exposition_format::openmetrics && type == metric_type::counter &&
        n.ends_with("_total"))
        n.remove_suffix(6);
    return n;
}

void write_header(std::string_view name, std::string_view help, metric_type type,
                  exposition_format f, std::string& out) {
    if (!help.empty()) {
        out += "# HELP ";
        out += name;
        out += ' ';
        append_escaped(out, help, f == exposition_format::openmetrics);
        out += '\n';
    }
    out += "# TYPE ";
    out += name;
    out += ' ';
    out += to_string(type);
    out += '\n';
}

} // namespace

std::string_view content_type(exposition_format f) noexcept {
    return f == exposition_format::openmetrics
               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
               : "text/plain; version=0.0.4; charset=utf-8";
}

void render_header(std::string_view name, std::string_view help, metric_type type,
                   exposition_format f, std::string& out) {
    write_header(family_name(name, type, f), help, type, f, out);
}

void render_family(const family& fam, exposition_format f, std::string& out) {
    const auto& spec = fam.spec();
    const std::string_view name = family_name(spec.name, spec.type, f);
    write_header(name, spec.help, spec.type, f, out);
    const bool om_counter =
        f == exposition_format::openmetrics && spec.type == metric_type::counter;
    for (const auto& [values, s] : fam.all_series()) {
        if (!is_visible(s))
            continue; // reset by series expiry while a worker holds it; back at its next op
        const series_writer w{out, name, spec.label_names, values};
        switch (spec.type) {
        case metric_type::counter:
            w.sample(om_counter ? "_total" : "", s.value);
            break;
        case metric_type::gauge:
            write_gauge(w, s, spec.mode);
            break;
        case metric_type::histogram:
            write_histogram(w, s);
            break;
        case metric_type::summary:
            w.sample("_sum", s.summary.sum);
            w.sample("_count", s.summary.count);
            break;
        }
    }
}

void render_trailer(exposition_format f, std::string& out) {
    if (f == exposition_format::openmetrics)
        out += "# EOF\n";
}

void render(const store& s, exposition_format f, std::string& out) {
    for (const auto& [name, fam] : s.families())
        render_family(*fam, f, out);
    render_trailer(f, out);
}

} // namespace metricsd::daemon

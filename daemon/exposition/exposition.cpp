#include "daemon/exposition/exposition.hpp"

#include "daemon/store/family_spec.hpp"
#include "daemon/store/number_format.hpp"

#include <cassert>
#include <charconv>

namespace metricsd::daemon {

using protocol::metric_type;

namespace {

/// The one escaper: backslash and newline always; the double quote in label values, and in
/// OpenMetrics HELP text. Text without any of them (nearly all) is appended in one piece.
void append_escaped(std::string& out, std::string_view s, bool escape_quote) {
    const char quote = escape_quote ? '"' : '\\'; // '\\' is escaped anyway: a no-op stand-in
    std::size_t done = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c != '\\' && c != '\n' && c != quote) [[likely]]
            continue;
        out.append(s.data() + done, i - done);
        out += '\\';
        out += c == '\n' ? 'n' : c;
        done = i + 1;
    }
    out.append(s.data() + done, s.size() - done);
}

void append_label(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += "=\"";
    append_escaped(out, value, true);
    out += '"';
}

/// OpenMetrics names a counter family without `_total` and its sample with it.
std::string_view family_name(std::string_view n, metric_type type, exposition_format f) {
    if (f == exposition_format::openmetrics && type == metric_type::counter &&
        n.ends_with("_total"))
        n.remove_suffix(6);
    return n;
}

} // namespace

std::string_view content_type(exposition_format f) noexcept {
    return f == exposition_format::openmetrics
               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
               : "text/plain; version=0.0.4; charset=utf-8";
}

family_desc::family_desc(const family_spec& spec) noexcept
    : name(spec.name), help(spec.help), type(spec.type), label_names(spec.label_names),
      le_labels(spec.le_labels) {}

family_writer::family_writer(const family_desc& fam, exposition_format f, std::string& out,
                             bool header)
    : out_(out), name_(family_name(fam.name, fam.type, f)), label_names_(fam.label_names),
      le_labels_(fam.le_labels) {
    if (f == exposition_format::openmetrics && fam.type == metric_type::counter)
        value_suffix_ = "_total";
    openmetrics_ = f == exposition_format::openmetrics;
    if (openmetrics_ && fam.type == metric_type::histogram)
        for (std::size_t i = 0; i < le_labels_.size() && !negative_bounds_; ++i) {
            const std::string_view le = le_labels_[i];
            double bound = 0;
            const auto end = le.data() + le.size();
            negative_bounds_ = std::from_chars(le.data(), end, bound).ptr == end && bound < 0;
        }
    if (!header)
        return;
    if (!fam.help.empty()) {
        out_ += "# HELP ";
        out_ += name_;
        out_ += ' ';
        append_escaped(out_, fam.help, f == exposition_format::openmetrics);
        out_ += '\n';
    }
    out_ += "# TYPE ";
    out_ += name_;
    out_ += ' ';
    out_ += to_string(fam.type);
    out_ += '\n';
}

void family_writer::begin_series(text_list values) {
    assert(values.size() == label_names_.size());
    labels_.clear();
    for (std::size_t i = 0; i < label_names_.size(); ++i) {
        if (i != 0)
            labels_ += ',';
        append_label(labels_, label_names_[i], values[i]);
    }
}

/// The one sample-line writer. A series' sample lines share the name and labels_; only the
/// suffix, the extra label (`le`, `pid`) and the value change.
void family_writer::sample(std::string_view suffix, double v, std::string_view extra_name,
                           std::string_view extra_value) {
    out_ += name_;
    out_ += suffix;
    if (!labels_.empty() || !extra_name.empty()) {
        out_ += '{';
        out_ += labels_;
        if (!extra_name.empty()) {
            if (!labels_.empty())
                out_ += ',';
            append_label(out_, extra_name, extra_value);
        }
        out_ += '}';
    }
    out_ += ' ';
    append_value(out_, v);
    out_ += '\n';
}

// OpenMetrics 1.0 makes a histogram's or summary's Sum a counter: it MUST NOT be NaN or negative,
// and a histogram with negative bucket thresholds MUST NOT have one at all; strict parsers
// refuse the whole exposition otherwise. Sum is optional, so it is left out then: for the whole
// family when a bound is negative (its sum could go negative at any time), for one series when
// its sum is NaN (+Inf and -Inf observed) or negative. +Inf is a valid counter value and stays.
// The Prometheus 0.0.4 text format has no such rule (its parser takes any float for _sum, and
// PromQL's rate() of a NaN or negative sum is simply NaN or odd), so it keeps every _sum, as
// it always has: scrapers and dashboards reading the text format see no change.
void family_writer::sum(double v) {
    if (openmetrics_ && (negative_bounds_ || !(v >= 0)))
        return;
    sample("_sum", v);
}

void family_writer::value(text_list values, double v) {
    begin_series(values);
    sample(value_suffix_, v);
}

void family_writer::per_pid_value(text_list values, std::string_view pid, double v) {
    begin_series(values);
    sample({}, v, "pid", pid);
}

void family_writer::histogram(text_list values, std::span<const double> bucket_counts, double sum,
                              double count) {
    assert(bucket_counts.size() == le_labels_.size());
    begin_series(values);
    double cumulative = 0;
    for (std::size_t i = 0; i < bucket_counts.size(); ++i) {
        cumulative += bucket_counts[i];
        sample("_bucket", cumulative, "le", le_labels_[i]);
    }
    this->sum(sum);
    sample("_count", count);
}

void family_writer::cumulative_histogram(text_list values, std::span<const double> cumulative,
                                         double sum, double count) {
    assert(cumulative.size() == le_labels_.size());
    begin_series(values);
    for (std::size_t i = 0; i < cumulative.size(); ++i)
        sample("_bucket", cumulative[i], "le", le_labels_[i]);
    this->sum(sum);
    sample("_count", count);
}

void family_writer::summary(text_list values, double sum, double count) {
    begin_series(values);
    this->sum(sum);
    sample("_count", count);
}

void render_trailer(exposition_format f, std::string& out) {
    if (f == exposition_format::openmetrics)
        out += "# EOF\n";
}

} // namespace metricsd::daemon

// Prometheus text exposition 0.0.4 and OpenMetrics 1.0 writers over a neutral model: a family
// is described by a family_desc, and its source (the store, the Redis view, the daemon's own
// metrics) hands each series to a family_writer as label values and the numbers of its type.
// Pure: no IO; of the store it knows only family_spec. The writers keep the order they are
// given, so each source keeps its own stable (families by name, series by label values).
#pragma once

#include <metricsd/protocol/wire.hpp>

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

struct family_spec;

enum class exposition_format {
    text,        ///< text/plain; version=0.0.4
    openmetrics, ///< application/openmetrics-text; version=1.0.0
};

/// The Content-Type header value for a format.
std::string_view content_type(exposition_format f) noexcept;

/// Label names or values as their owner holds them: std::string (the store, Redis) or
/// std::string_view (the daemon's own metrics), without copying them. A view: the owner keeps
/// them alive. A braced list's elements die at the end of the full expression, so pass one
/// only as a call argument; label names, which a family_writer keeps, need a longer-lived array.
class text_list {
public:
    text_list() noexcept = default;
    text_list(std::span<const std::string> s) noexcept : data_(s.data()), size_(s.size()) {}
    text_list(std::span<const std::string_view> s) noexcept
        : data_(s.data()), size_(s.size()), views_(true) {}
    text_list(const std::vector<std::string>& v) noexcept : data_(v.data()), size_(v.size()) {}
    template <std::size_t N>
    text_list(const std::string_view (&a)[N]) noexcept : data_(a), size_(N), views_(true) {}
    text_list(std::initializer_list<std::string_view> s) noexcept
        : data_(s.begin()), size_(s.size()), views_(true) {}

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::string_view operator[](std::size_t i) const noexcept {
        return views_ ? static_cast<const std::string_view*>(data_)[i]
                      : std::string_view(static_cast<const std::string*>(data_)[i]);
    }

private:
    const void* data_ = nullptr;
    std::size_t size_ = 0;
    bool views_ = false;
};

/// What the writers need of a family. Built from a family_spec (which must outlive it), or
/// from constants for the daemon's own metrics.
struct family_desc {
    family_desc(std::string_view name, std::string_view help, protocol::metric_type type,
                text_list label_names = {}) noexcept
        : name(name), help(help), type(type), label_names(label_names) {}
    explicit family_desc(const family_spec& spec) noexcept;

    std::string_view name; ///< as declared: a counter's OpenMetrics family name drops `_total`
    std::string_view help; ///< empty: no HELP line
    protocol::metric_type type;
    text_list label_names; ///< without the per-pid gauges' `pid`, which the writer adds
    text_list le_labels;   ///< histograms: each bucket's `le` text, then "+Inf"
};

/// Writes one family: its HELP and TYPE lines when constructed, then the samples of each
/// series handed to it, in the order given. Call the method of the family's type, with one
/// label value per label name. Each series' label set is escaped once, then copied into each
/// of its sample lines (a histogram has one per bucket). Non-virtual; allocates only while
/// `out` and the label scratch grow.
class family_writer {
public:
    /// `header` false: the family's HELP and TYPE lines were written already (a render that
    /// resumes the family in a later slice).
    family_writer(const family_desc& fam, exposition_format f, std::string& out,
                  bool header = true);

    /// A counter's or gauge's sample (OpenMetrics names a counter's sample `<family>_total`).
    void value(text_list values, double v);
    /// A gauge sample of the per-pid modes: the labels, then `pid`.
    void per_pid_value(text_list values, std::string_view pid, double v);
    /// A histogram's `_bucket` (one count per `le` label, each bucket on its own, as the store
    /// keeps them: written cumulatively), `_sum` and `_count` samples.
    void histogram(text_list values, std::span<const double> bucket_counts, double sum,
                   double count);
    /// Same, from counts that are cumulative already (as Redis keeps them).
    void cumulative_histogram(text_list values, std::span<const double> cumulative, double sum,
                              double count);
    /// A summary's `_sum` and `_count` samples.
    void summary(text_list values, double sum, double count);

private:
    /// Escapes `values` into labels_: the series' label text, shared by its sample lines.
    void begin_series(text_list values);
    /// The `_sum` sample, unless OpenMetrics forbids it for this family or value.
    void sum(double v);
    /// One sample line of the current series (begin_series), with an optional extra label.
    void sample(std::string_view suffix, double v, std::string_view extra_name = {},
                std::string_view extra_value = {});

    std::string& out_;
    std::string_view name_;         ///< the family's name in this format
    std::string_view value_suffix_; ///< "_total" for OpenMetrics counters
    /// OpenMetrics: `_sum` is a counter there, so a NaN or negative one is left out (see
    /// family_writer::sum), and a histogram with a negative bucket bound never has one.
    bool openmetrics_ = false;
    bool negative_bounds_ = false;
    text_list label_names_;
    text_list le_labels_;
    /// `a="x",b="y"` of the current series, escaped; reused across series.
    std::string labels_;
};

/// Append the format's trailer (`# EOF` for OpenMetrics) after the last family.
void render_trailer(exposition_format f, std::string& out);

} // namespace metricsd::daemon

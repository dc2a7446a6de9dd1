// The C API's declarations (families, series) and ops. Client functions are in c_client.cpp.
#include "c_handles.hpp"

#include <metricsd/protocol/wire.hpp>

#include <array>
#include <span>
#include <string>
#include <string_view>

namespace metricsd_c {
namespace {

using series_variant = decltype(metricsd_series::cpp);
using labels_view = std::span<const std::string_view>;

static_assert(METRICSD_GAUGE_LIVESUM == static_cast<int>(metricsd::gauge_mode::livesum));
static_assert(METRICSD_GAUGE_MOSTRECENT == static_cast<int>(metricsd::gauge_mode::mostrecent));
static_assert(METRICSD_GAUGE_LIVEMOSTRECENT ==
              static_cast<int>(metricsd::gauge_mode::livemostrecent));
static_assert(METRICSD_GAUGE_SHARED == static_cast<int>(metricsd::gauge_mode::shared));
static_assert(METRICSD_GAUGE_SHARED + 1 == metricsd::protocol::gauge_mode_count);

std::vector<std::string> to_strings(const char* const* texts, std::size_t n, const char* what) {
    if (n > 0 && !texts)
        throw std::invalid_argument(std::string("metricsd: ") + what +
                                    " is NULL but its count is " + std::to_string(n));
    std::vector<std::string> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (!texts[i])
            throw std::invalid_argument(std::string("metricsd: ") + what + "[" + std::to_string(i) +
                                        "] is NULL");
        out.emplace_back(texts[i]);
    }
    return out;
}

/// The slot for wire handle `handle` in a client's table, growing the table as needed. Called
/// with the tables lock held.
template <class T>
std::unique_ptr<T>& slot(std::vector<std::unique_ptr<T>>& table, std::uint32_t handle) {
    if (table.size() <= handle)
        table.resize(std::size_t{handle} + 1);
    return table[handle];
}

/// The C handle of a C++ family: created on first sight, the same pointer afterwards.
template <class Family>
metricsd_family* adopt_family(metricsd_client* client, const Family& family) {
    auto fresh = std::make_unique<metricsd_family>(metricsd_family{client, family});
    tables_lock lock;
    auto& s = slot(client->families, family.handle());
    if (!s)
        s = std::move(fresh);
    return s.get();
}

metricsd_series* adopt_series(metricsd_client* client, const series_variant& series) {
    const std::uint32_t handle = std::visit([](const auto& s) { return s.handle(); }, series);
    auto fresh = std::make_unique<metricsd_series>(metricsd_series{series});
    tables_lock lock;
    auto& s = slot(client->series, handle);
    if (!s)
        s = std::move(fresh);
    return s.get();
}

/// Shared by the four declaration functions: checks the pointers, converts the C strings and
/// lets `declare(name, help, label_names)` call the C++ client.
template <class Declare>
metricsd_status declare(metricsd_client* client, const char* name, const char* help,
                        const char* const* label_names, std::size_t n_labels, metricsd_family** out,
                        Declare&& declare_cpp) {
    if (!out)
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: out is NULL");
    *out = nullptr;
    if (!client || !name)
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: client or name is NULL");
    return guarded([&] {
        const auto labels = to_strings(label_names, n_labels, "label_names");
        const std::string_view help_text = help ? help : "";
        *out = adopt_family(client, declare_cpp(std::string_view(name), help_text, labels));
        return METRICSD_OK;
    });
}

} // namespace
} // namespace metricsd_c

using metricsd_c::declare;
using metricsd_c::fail;
using metricsd_c::guarded;

extern "C" {

metricsd_status metricsd_counter(metricsd_client* client, const char* name, const char* help,
                                 const char* const* label_names, size_t n_labels,
                                 metricsd_family** out) {
    return declare(client, name, help, label_names, n_labels, out,
                   [&](auto n, auto h, auto& l) { return client->cpp.counter(n, h, l); });
}

metricsd_status metricsd_gauge(metricsd_client* client, const char* name, const char* help,
                               const char* const* label_names, size_t n_labels,
                               metricsd_gauge_mode mode, metricsd_family** out) {
    const auto m = metricsd::protocol::gauge_mode_from_value(static_cast<int>(mode));
    if (!m) {
        if (out)
            *out = nullptr;
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: unknown gauge mode");
    }
    return declare(client, name, help, label_names, n_labels, out,
                   [&](auto n, auto h, auto& l) { return client->cpp.gauge(n, h, l, *m); });
}

metricsd_status metricsd_histogram(metricsd_client* client, const char* name, const char* help,
                                   const char* const* label_names, size_t n_labels,
                                   const char* const* bucket_texts, size_t n_buckets,
                                   metricsd_family** out) {
    return declare(client, name, help, label_names, n_labels, out, [&](auto n, auto h, auto& l) {
        const auto buckets = metricsd_c::to_strings(bucket_texts, n_buckets, "bucket_texts");
        return client->cpp.histogram(n, h, l, buckets);
    });
}

metricsd_status metricsd_summary(metricsd_client* client, const char* name, const char* help,
                                 const char* const* label_names, size_t n_labels,
                                 metricsd_family** out) {
    return declare(client, name, help, label_names, n_labels, out,
                   [&](auto n, auto h, auto& l) { return client->cpp.summary(n, h, l); });
}

metricsd_status metricsd_labels(metricsd_family* family, const char* const* values, size_t n_values,
                                metricsd_series** out) {
    if (!out)
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: out is NULL");
    *out = nullptr;
    if (!family || (n_values > 0 && !values))
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: family or values is NULL");
    constexpr std::size_t max_labels = metricsd::protocol::limits::max_labels;
    if (n_values > max_labels)
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: more label values than labels");
    return guarded([&] {
        std::array<std::string_view, max_labels> views;
        for (std::size_t i = 0; i < n_values; ++i) {
            if (!values[i])
                return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: a label value is NULL");
            views[i] = values[i];
        }
        const metricsd_c::labels_view span(views.data(), n_values);
        const auto series = std::visit(
            [&](const auto& f) { return metricsd_c::series_variant(f.labels(span)); }, family->cpp);
        *out = metricsd_c::adopt_series(family->owner, series);
        return METRICSD_OK;
    });
}

metricsd_status metricsd_inc(metricsd_series* series, double value) {
    if (!series) [[unlikely]]
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: series is NULL");
    if (const auto* c = std::get_if<metricsd::counter_series>(&series->cpp)) {
        c->inc(value);
        return METRICSD_OK;
    }
    if (const auto* g = std::get_if<metricsd::gauge_series>(&series->cpp)) {
        g->inc(value);
        return METRICSD_OK;
    }
    return fail(METRICSD_E_INVALID_OP, "metricsd: inc needs a counter or gauge series");
}

metricsd_status metricsd_dec(metricsd_series* series, double value) {
    if (!series) [[unlikely]]
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: series is NULL");
    if (const auto* g = std::get_if<metricsd::gauge_series>(&series->cpp)) {
        g->dec(value);
        return METRICSD_OK;
    }
    return fail(METRICSD_E_INVALID_OP, "metricsd: dec needs a gauge series");
}

metricsd_status metricsd_set(metricsd_series* series, double value) {
    if (!series) [[unlikely]]
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: series is NULL");
    if (const auto* g = std::get_if<metricsd::gauge_series>(&series->cpp)) {
        g->set(value);
        return METRICSD_OK;
    }
    return fail(METRICSD_E_INVALID_OP, "metricsd: set needs a gauge series");
}

metricsd_status metricsd_observe(metricsd_series* series, double value) {
    if (!series) [[unlikely]]
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: series is NULL");
    if (const auto* h = std::get_if<metricsd::histogram_series>(&series->cpp)) {
        h->observe(value);
        return METRICSD_OK;
    }
    if (const auto* s = std::get_if<metricsd::summary_series>(&series->cpp)) {
        s->observe(value);
        return METRICSD_OK;
    }
    return fail(METRICSD_E_INVALID_OP, "metricsd: observe needs a histogram or summary series");
}

} // extern "C"

#include "client_core.hpp"
#include "validate.hpp"

#include <metricsd/client.hpp>

#include <cstdlib>
#include <stdexcept>
#include <utility>

namespace metricsd {
namespace {

using protocol::metric_type;

detail::family_def make_def(std::string_view name, std::string_view help, metric_type type,
                            const std::vector<std::string>& label_names) {
    detail::family_def def;
    def.name = name;
    def.help = help;
    def.type = type;
    def.label_names = label_names;
    return def;
}

} // namespace

std::string default_socket_path() {
    // getenv is fine here: options are built at start-up, before threads call setenv.
    const char* env = std::getenv("METRICSD_SOCKET");
    return env && *env ? std::string(env) : std::string("/run/metricsd/ingest.sock");
}

namespace detail {

series_id family_ref::find_series(std::span<const std::string_view> values) const {
    if (!core_)
        throw std::invalid_argument("metricsd: labels() on a default-constructed family handle");
    if (values.empty() && label_count_ == 0)
        return unlabelled_;
    return core_->declare_series(handle_, values);
}

series_id family_ref::unlabelled() const {
    if (!core_ || label_count_ != 0)
        throw std::invalid_argument("metricsd: this family has " + std::to_string(label_count_) +
                                    " label(s); use labels(...) with one value per label name");
    return unlabelled_;
}

} // namespace detail

client::client(client_options options)
    : core_(std::make_unique<detail::client_core>(std::move(options))) {}

client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

counter_family client::counter(std::string_view name, std::string_view help,
                               const std::vector<std::string>& label_names) {
    const auto f = core_->declare_family(make_def(name, help, metric_type::counter, label_names));
    return counter_family(core_.get(), f.handle, f.label_count, f.unlabelled);
}

gauge_family client::gauge(std::string_view name, std::string_view help,
                           const std::vector<std::string>& label_names, gauge_mode mode) {
    auto def = make_def(name, help, metric_type::gauge, label_names);
    def.mode = mode;
    const auto f = core_->declare_family(std::move(def));
    return gauge_family(core_.get(), f.handle, f.label_count, f.unlabelled);
}

histogram_family client::histogram(std::string_view name, std::string_view help,
                                   const std::vector<std::string>& label_names,
                                   const std::vector<std::string>& buckets) {
    auto def = make_def(name, help, metric_type::histogram, label_names);
    def.bucket_texts = buckets;
    const auto f = core_->declare_family(std::move(def));
    return histogram_family(core_.get(), f.handle, f.label_count, f.unlabelled);
}

histogram_family client::histogram(std::string_view name, std::string_view help,
                                   const std::vector<std::string>& label_names,
                                   const std::vector<double>& buckets) {
    std::vector<std::string> texts;
    texts.reserve(buckets.size());
    for (const double b : buckets)
        texts.push_back(detail::format_bound(b));
    return histogram(name, help, label_names, texts);
}

summary_family client::summary(std::string_view name, std::string_view help,
                               const std::vector<std::string>& label_names) {
    const auto f = core_->declare_family(make_def(name, help, metric_type::summary, label_names));
    return summary_family(core_.get(), f.handle, f.label_count, f.unlabelled);
}

bool client::flush(std::chrono::milliseconds timeout) {
    return core_->flush(timeout);
}

std::uint64_t client::dropped_ops() const noexcept {
    return core_->dropped();
}

std::uint64_t client::rejected() const noexcept {
    return core_->rejected();
}

std::string client::last_error() const {
    return core_->last_error();
}

bool client::connected() const noexcept {
    return core_->connected();
}

} // namespace metricsd

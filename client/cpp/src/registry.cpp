#include "registry.hpp"

#include <metricsd/protocol/encoder.hpp>

#include <cstring>
#include <stdexcept>

namespace metricsd::detail {
namespace {

/// Modes whose value the daemon keeps per connection, so a reconnect must re-send it: every
/// mode but sum (the retired connection's value is still counted; re-sending would double it)
/// and shared (one cell for all workers; the deltas already landed in it).
bool needs_tracking(const family_def& def) {
    using enum protocol::gauge_mode;
    return def.type == protocol::metric_type::gauge && def.mode != sum && def.mode != shared;
}

/// A map key for label values: each value with a length prefix, so ("a","bc") != ("ab","c").
std::string series_key(std::span<const std::string_view> values) {
    std::string key;
    for (const auto v : values) {
        const auto length = static_cast<std::uint32_t>(v.size());
        key.append(reinterpret_cast<const char*>(&length), sizeof length);
        key.append(v);
    }
    return key;
}

std::string describe(const family_def& d) {
    std::string s = std::string(protocol::to_string(d.type));
    if (d.type == protocol::metric_type::gauge)
        s += " (mode " + std::string(protocol::to_string(d.mode)) + ")";
    s += " with labels [";
    for (std::size_t i = 0; i < d.label_names.size(); ++i)
        s += (i ? "," : "") + d.label_names[i];
    return s + "]" + (d.bucket_texts.empty() ? "" : " and its buckets");
}

} // namespace

registry::family_result registry::add_family(family_def def) {
    auto bounds = validate_family(def);
    if (auto it = by_name_.find(def.name); it != by_name_.end()) {
        const family_entry& f = families_[it->second];
        if (f.def.type != def.type || f.def.mode != def.mode ||
            f.def.label_names != def.label_names || f.bounds != bounds)
            throw std::invalid_argument("metricsd: '" + def.name + "' is already declared as " +
                                        describe(f.def) + ", not as " + describe(def));
        return {it->second, f.def.label_names.size(), false};
    }
    if (families_.size() > protocol::limits::max_family_handle)
        throw std::length_error("metricsd: no family handle left (65536 families declared)");
    const auto handle = static_cast<std::uint32_t>(families_.size());
    family_entry& f = families_.emplace_back();
    f.tracked = needs_tracking(def);
    f.bounds = std::move(bounds);
    f.def = std::move(def);
    try {
        encode_family(handle, f);
        by_name_.emplace(f.def.name, handle);
    } catch (...) {
        families_.pop_back();
        throw;
    }
    return {handle, f.def.label_names.size(), true};
}

void registry::encode_family(std::uint32_t handle, const family_entry& f) {
    protocol::encode(frames_, protocol::family_decl_view(f.def, handle).decl());
}

registry::series_result registry::add_series(std::uint32_t family,
                                             std::span<const std::string_view> values) {
    family_entry& f = families_.at(family);
    validate_label_values(f.def, values);
    auto key = series_key(values);
    if (auto it = f.series.find(key); it != f.series.end())
        return {it->second, false};
    if (next_series_ > protocol::limits::max_series_handle)
        throw std::length_error("metricsd: no series handle left (1048576 series declared)");
    series_id id{next_series_, f.tracked ? next_slot_ : no_slot};
    const std::size_t before = frames_.size();
    protocol::encode(frames_, protocol::series_decl{id.handle, family, values});
    try {
        f.series.emplace(std::move(key), id);
    } catch (...) {
        frames_.resize(before);
        throw;
    }
    next_slot_ += f.tracked ? 1 : 0;
    ++next_series_;
    return {id, true};
}

} // namespace metricsd::detail

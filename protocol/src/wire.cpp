#include <metricsd/protocol/wire.hpp>

#include <array>
#include <bit>

namespace metricsd::protocol {
namespace {

// Indexed by wire value: the one table of gauge-mode names, read both ways below.
constexpr std::array<std::string_view, gauge_mode_count> gauge_mode_names{
    "livesum",        // 0
    "sum",            // 1
    "max",            // 2
    "min",            // 3
    "mostrecent",     // 4
    "all",            // 5
    "liveall",        // 6
    "livemax",        // 7
    "livemin",        // 8
    "livemostrecent", // 9
    "shared",         // 10
};
static_assert(gauge_mode_names[static_cast<std::size_t>(gauge_mode::shared)] == "shared");
static_assert(gauge_mode_names[static_cast<std::size_t>(gauge_mode::liveall)] == "liveall");

} // namespace

static_assert(std::endian::native == std::endian::little,
              "wire protocol v1 code copies little-endian integers and doubles with memcpy");

std::string_view to_string(error_code c) noexcept {
    switch (c) {
    case error_code::bad_magic:
        return "bad_magic";
    case error_code::unsupported_version:
        return "unsupported_version";
    case error_code::bad_handshake:
        return "bad_handshake";
    case error_code::frame_too_large:
        return "frame_too_large";
    case error_code::bad_frame_header:
        return "bad_frame_header";
    case error_code::handshake_timeout:
        return "handshake_timeout";
    case error_code::idle_timeout:
        return "idle_timeout";
    case error_code::connection_memory_limit:
        return "connection_memory_limit";
    case error_code::peer_not_allowed:
        return "peer_not_allowed";
    case error_code::unknown_frame_type:
        return "unknown_frame_type";
    case error_code::malformed_frame:
        return "malformed_frame";
    case error_code::string_too_long:
        return "string_too_long";
    case error_code::invalid_metric_type:
        return "invalid_metric_type";
    case error_code::invalid_gauge_mode:
        return "invalid_gauge_mode";
    case error_code::too_many_labels:
        return "too_many_labels";
    case error_code::too_many_buckets:
        return "too_many_buckets";
    case error_code::handle_out_of_range:
        return "handle_out_of_range";
    case error_code::invalid_metric_name:
        return "invalid_metric_name";
    case error_code::invalid_label_name:
        return "invalid_label_name";
    case error_code::invalid_label_value:
        return "invalid_label_value";
    case error_code::invalid_buckets:
        return "invalid_buckets";
    case error_code::family_conflict:
        return "family_conflict";
    case error_code::name_collision:
        return "name_collision";
    case error_code::handle_conflict:
        return "handle_conflict";
    case error_code::unknown_family:
        return "unknown_family";
    case error_code::label_count_mismatch:
        return "label_count_mismatch";
    case error_code::family_series_limit:
        return "family_series_limit";
    case error_code::total_series_limit:
        return "total_series_limit";
    case error_code::family_not_permitted:
        return "family_not_permitted";
    case error_code::peer_family_quota:
        return "peer_family_quota";
    case error_code::peer_series_quota:
        return "peer_series_quota";
    case error_code::unknown_series:
        return "unknown_series";
    case error_code::invalid_op:
        return "invalid_op";
    case error_code::invalid_value:
        return "invalid_value";
    case error_code::too_many_connections:
        return "too_many_connections";
    case error_code::shutting_down:
        return "shutting_down";
    case error_code::internal:
        return "internal";
    }
    return "unknown";
}

std::string_view to_string(metric_type t) noexcept {
    switch (t) {
    case metric_type::counter:
        return "counter";
    case metric_type::gauge:
        return "gauge";
    case metric_type::histogram:
        return "histogram";
    case metric_type::summary:
        return "summary";
    }
    return "unknown";
}

std::string_view to_string(gauge_mode m) noexcept {
    const auto v = static_cast<std::size_t>(m);
    return v < gauge_mode_names.size() ? gauge_mode_names[v] : "unknown";
}

std::optional<gauge_mode> parse_gauge_mode(std::string_view name) noexcept {
    for (std::size_t v = 0; v < gauge_mode_names.size(); ++v)
        if (gauge_mode_names[v] == name)
            return static_cast<gauge_mode>(v);
    return std::nullopt;
}

std::optional<gauge_mode> gauge_mode_from_value(long long value) noexcept {
    if (value < 0 || value >= gauge_mode_count)
        return std::nullopt;
    return static_cast<gauge_mode>(value);
}

std::string_view to_string(op_code o) noexcept {
    switch (o) {
    case op_code::inc:
        return "inc";
    case op_code::dec:
        return "dec";
    case op_code::set:
        return "set";
    case op_code::observe:
        return "observe";
    }
    return "unknown";
}

} // namespace metricsd::protocol

#include "validate.hpp"

#include <metricsd/protocol/family_rules.hpp>
#include <metricsd/protocol/names.hpp>

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace metricsd::detail {
namespace {

namespace limits = protocol::limits;

[[noreturn]] void reject(const std::string& what) {
    throw std::invalid_argument("metricsd: " + what);
}

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

} // namespace

std::vector<double> validate_family(const family_def& def) {
    // The rules are the daemon's (protocol/family_rules.hpp); only the views are built here.
    const protocol::family_decl_view view(def);
    std::vector<double> bounds;
    if (auto v = protocol::check_family(view.decl(), bounds))
        reject(v->message);
    return bounds;
}

void validate_label_values(const family_def& def, std::span<const std::string_view> values) {
    if (values.size() != def.label_names.size())
        reject(quoted(def.name) + " has " + std::to_string(def.label_names.size()) +
               " label(s); got " + std::to_string(values.size()) + " value(s)");
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (values[i].size() > limits::max_label_value_length)
            reject("value of label " + quoted(def.label_names[i]) + " of " + quoted(def.name) +
                   " is longer than 4096 bytes");
        if (!protocol::is_valid_utf8(values[i]))
            reject("value of label " + quoted(def.label_names[i]) + " of " + quoted(def.name) +
                   " is not valid UTF-8");
    }
}

std::string format_bound(double v) {
    if (!std::isfinite(v))
        reject("bucket bound " + std::to_string(v) + " is not finite (+Inf is implicit)");
    char text[32];
    const auto [end, ec] = std::to_chars(text, text + sizeof text, v);
    return std::string(text, end);
}

} // namespace metricsd::detail

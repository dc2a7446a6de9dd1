#include "daemon/store/series_expiry.hpp"

#include <metricsd/protocol/names.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace metricsd::daemon {
namespace {

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

std::chrono::seconds parse_seconds(std::string_view entry, std::string_view text) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() ||
        n > max_series_ttl_seconds)
        throw std::invalid_argument("entry \"" + std::string(entry) +
                                    "\": seconds must be an integer from 0 to " +
                                    std::to_string(max_series_ttl_seconds));
    return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(n));
}

} // namespace

std::chrono::seconds series_ttl_policy::ttl_for(std::string_view family) const {
    auto it = families.find(family);
    // A counter is declared as `x` or `x_total` and known as `x_total`: either spelling names it.
    if (it == families.end() && family.ends_with("_total"))
        it = families.find(family.substr(0, family.size() - 6));
    return it == families.end() ? default_ttl : it->second;
}

std::string series_ttl_policy::near_miss(std::string_view family) const {
    if (families.empty() || families.find(family) != families.end() ||
        (family.ends_with("_total") &&
         families.find(family.substr(0, family.size() - 6)) != families.end()))
        return {};
    for (const auto& [name, ttl] : families)
        if (protocol::edit_distance(name, family) <= 2)
            return name;
    return {};
}

bool series_ttl_policy::enabled() const noexcept {
    return default_ttl.count() > 0 ||
           std::any_of(families.begin(), families.end(),
                       [](const auto& f) { return f.second.count() > 0; });
}

std::chrono::seconds sweep_period(const series_ttl_policy& p) noexcept {
    std::chrono::seconds shortest{0};
    auto consider = [&](std::chrono::seconds ttl) {
        if (ttl.count() > 0 && (shortest.count() == 0 || ttl < shortest))
            shortest = ttl;
    };
    consider(p.default_ttl);
    for (const auto& [name, ttl] : p.families)
        consider(ttl);
    if (shortest.count() == 0)
        return shortest;
    return std::max(std::chrono::seconds(1), shortest / 4);
}

series_ttl_policy parse_series_ttl(std::string_view text) {
    series_ttl_policy p;
    bool has_default = false;
    if (trimmed(text).empty())
        return p;
    for (;;) {
        const auto comma = text.find(',');
        const auto entry = trimmed(text.substr(0, comma));
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos)
            throw std::invalid_argument("entry \"" + std::string(entry) +
                                        "\": expected NAME=SECONDS, or *=SECONDS for the default");
        const auto name = trimmed(entry.substr(0, eq));
        const auto seconds = parse_seconds(entry, trimmed(entry.substr(eq + 1)));
        if (name == "*") {
            if (has_default)
                throw std::invalid_argument("the default (*) is given twice");
            has_default = true;
            p.default_ttl = seconds;
        } else if (!protocol::is_valid_metric_name(name)) {
            throw std::invalid_argument("entry \"" + std::string(entry) + "\": \"" +
                                        std::string(name) + "\" is not a valid metric name");
        } else if (!p.families.emplace(std::string(name), seconds).second) {
            throw std::invalid_argument("family \"" + std::string(name) + "\" is given twice");
        }
        if (comma == std::string_view::npos)
            return p;
        text.remove_prefix(comma + 1);
    }
}

std::string to_string(const series_ttl_policy& p) {
    std::string s;
    for (const auto& [name, ttl] : p.families)
        s += (s.empty() ? "" : ",") + name + "=" + std::to_string(ttl.count());
    if (p.default_ttl.count() != 0)
        s += (s.empty() ? "*=" : ",*=") + std::to_string(p.default_ttl.count());
    return s;
}

} // namespace metricsd::daemon

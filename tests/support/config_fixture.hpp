// Helpers shared by the config tests: parse errors as text and a fixed environment.
#pragma once

#include "daemon/config/config.hpp"

#include <map>
#include <string>

namespace metricsd::test {

/// The message parse_config throws for `text`, or "" when it loads.
inline std::string error_of(const std::string& text) {
    try {
        daemon::parse_config(text, "test.json");
    } catch (const daemon::config_error& e) {
        return e.what();
    }
    return "";
}

/// An environment lookup over a fixed map.
inline auto env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
        const auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

} // namespace metricsd::test

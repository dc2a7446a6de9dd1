// Helpers for tests of series expiry: sweep times and the sample lines a store renders.
// Header-only; the test binary links metricsd::exposition for render_families.
#pragma once

#include "daemon/exposition/store_exposition.hpp"
#include "daemon/store/store.hpp"

#include <chrono>
#include <string>

namespace metricsd::test {

/// Sweep times: a steady_clock time point `t` seconds after an arbitrary origin.
inline std::chrono::steady_clock::time_point at(int t) {
    return std::chrono::steady_clock::time_point{} + std::chrono::hours(1) +
           std::chrono::seconds(t);
}

/// The store rendered in the text format, without a trailer.
inline std::string render(const daemon::store& s) {
    std::string out;
    daemon::render_families(s, daemon::exposition_format::text, out);
    return out;
}

/// The sample lines of `name` in the rendered store (HELP/TYPE lines left out).
inline std::string samples(const daemon::store& s, const std::string& name) {
    const std::string text = render(s);
    std::string out;
    for (std::size_t pos = 0; pos < text.size();) {
        const auto end = text.find('\n', pos);
        const std::string line = text.substr(pos, end - pos + 1);
        if (line.starts_with(name) && !line.starts_with("#"))
            out += line;
        pos = end + 1;
    }
    return out;
}

} // namespace metricsd::test

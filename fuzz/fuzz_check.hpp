// What the fuzz targets share: an invariant check that stops the run with a reproducer
// (libFuzzer saves the input when the process aborts), and small formatting helpers.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

/// Abort with the failed condition when an invariant does not hold. Not assert(): it must
/// hold in every build type.
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                  \
        }                                                                                  \
    } while (false)

namespace metricsd::fuzz {

/// Lower-case hex of bytes, for transcripts and messages.
inline std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes) {
        out += digits[static_cast<unsigned char>(c) >> 4];
        out += digits[static_cast<unsigned char>(c) & 15];
    }
    return out;
}

/// Abort, printing `what` and the text it is about (an exposition, a config) first.
[[noreturn]] inline void fail(std::string_view what, std::string_view text) {
    std::fprintf(stderr, "invariant failed: %.*s\n---\n%.*s\n---\n", int(what.size()), what.data(),
                 int(text.size()), text.data());
    std::abort();
}

} // namespace metricsd::fuzz

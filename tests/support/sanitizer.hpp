#pragma once
// Whether this build is an AddressSanitizer build (`make test-sanitize`, build-asan/). Every
// target of a build gets the same -fsanitize flags (metricsd_options), so a test binary built
// with ASan runs against a daemon built with ASan: what the test sees at compile time is true of
// the daemon it starts.
//
// Only bounds on the daemon's RSS or descriptors may use this, and only to skip that one bound
// (never to loosen it): ASan keeps freed memory in its quarantine instead of returning it, adds
// a redzone around every allocation and 1/8 of the touched memory as shadow, so RSS under ASan
// measures ASan as much as the daemon. The one other use: a foreign, uninstrumented program
// (php) that would have to dlopen our ASan-built library, which ASan's runtime refuses.

namespace metricsd::test {

#if defined(__SANITIZE_ADDRESS__) // g++
inline constexpr bool address_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) // clang
inline constexpr bool address_sanitizer = true;
#else
inline constexpr bool address_sanitizer = false;
#endif
#else
inline constexpr bool address_sanitizer = false;
#endif

} // namespace metricsd::test

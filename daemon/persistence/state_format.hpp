// Internal to state_decode.cpp and state_encode.cpp: the header line both sides must agree on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace metricsd::daemon::detail {

/// zlib crc32 of the body; `crc` continues one over the bytes before `body`.
std::uint32_t state_crc32(std::string_view body, std::uint32_t crc = 0);

/// "metricsd-state 1 crc32=1a2b3c4d bytes=1234\n": the only spelling restore accepts.
std::string state_header(std::uint32_t crc, std::size_t body_bytes);

} // namespace metricsd::daemon::detail

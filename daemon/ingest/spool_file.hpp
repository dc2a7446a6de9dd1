// A spool file: what a client that could not reach the daemon by its exit left for it to read
// back (protocol/SPOOL.md). Pure: it checks and applies bytes already read; spool_reader does
// the IO.
#pragma once

#include "daemon/ingest/ingest_handler.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace metricsd::daemon {

/// The first 8 bytes of every spool file; a little-endian int64 pid follows, then what a
/// connection carries from its handshake on.
inline constexpr std::string_view spool_magic = "MTRDSPL1";
inline constexpr std::size_t spool_header_size = 16;

enum class spool_verdict {
    applied,     ///< every frame decoded and was applied as a connection's would be
    bad_header,  ///< not a spool file (magic) or an impossible pid: nothing applied
    bad_stream,  ///< a frame that does not decode, or a truncated one: nothing applied
};

struct spool_outcome {
    spool_verdict verdict = spool_verdict::bad_header;
    std::int64_t pid = 0;     ///< the writer's, from the header
    ingest_stats stats;       ///< of the replay (ops applied, refused, ...) when applied
    std::string reason;       ///< why not applied, for the log
};

/// Check that all of `bytes` decodes (the header, the handshake, whole frames only), and only
/// then apply it to `s` exactly as one connection from the writer's pid sending it would: all
/// or nothing for anything the file itself gets wrong. The replayed worker is retired at the
/// end, as at a disconnect (its live* gauge values vanish: the writer has exited).
spool_outcome apply_spool(store& s, std::string_view bytes, const ingest_limits& limits);

} // namespace metricsd::daemon

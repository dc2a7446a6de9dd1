// The one interface between the two halves of a client: the producer (what application threads
// touch: handles, registry, op buffer) and the sender (what only the background thread touches:
// socket, decoder, reconnects). The sender pulls from an outbox; the producer never sees a
// socket, and the sender never sees the registry, the buffer lock or a handle.
#pragma once

#include "op_buffer.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace metricsd::detail {

/// OPS frames are capped well below the daemon's 1 MiB frame limit, so the daemon never
/// buffers much of a frame before applying it.
inline constexpr std::size_t max_ops_frame_payload = 64 * 1024;

/// The client's copy of a tracked gauge's value (see registry.cpp, needs_tracking).
struct gauge_value {
    double value = 0;
    std::uint32_t series = 0;
    bool written = false; ///< never-written gauges are not re-sent (0 is not "no value")
};

/// What the sender takes from the outbox in one go. Owned by the sender thread; the buffers
/// are swapped, not copied, so their capacity is reused from take to take.
struct batch {
    /// Declarations, OPS frames and SYNCs in stream order, the open OPS frame sealed.
    op_buffer frames;
    /// Newest SYNC token queued when the batch was taken: every SYNC up to it is in frames or
    /// went out in an earlier batch.
    std::uint64_t newest_token = 0;
    /// Every written tracked gauge value, including every op in frames and nothing after
    /// them; filled only when asked for (after a connect, to re-send them).
    std::vector<gauge_value> gauges;
};

/// The producer as the sender sees it. Each call is thread-safe, short and never does IO; the
/// sender makes them from its own thread only.
class outbox {
public:
    /// Move everything buffered into out (whose frames must be empty). with_gauges: also copy
    /// the tracked gauge values into out.gauges (otherwise it is left empty).
    virtual void take(batch& out, bool with_gauges) = 0;
    /// Append the DECLARE frames a new connection must send before its first batch: every
    /// declaration so far except those still buffered (those go out with the next take), so
    /// each declaration reaches each connection exactly once, before its first use.
    virtual void append_declarations(std::string& out) = 0;
    /// The newest SYNC token queued so far, taken or not.
    virtual std::uint64_t newest_token() = 0;
    /// The daemon's limit on one OPS frame's payload (from its WELCOME), for frames not yet
    /// built.
    virtual void set_max_ops_payload(std::size_t bytes) = 0;

protected:
    outbox() = default;
    ~outbox() = default;
    outbox(const outbox&) = default;
    outbox& operator=(const outbox&) = default;
};

} // namespace metricsd::detail

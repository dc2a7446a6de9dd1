#include "daemon/ingest/spool_file.hpp"

#include <limits>

namespace metricsd::daemon {

namespace {

std::int64_t read_le64(std::string_view bytes) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    return static_cast<std::int64_t>(v);
}

/// Empty when every byte of `body` belongs to the handshake or a frame that decodes; else why.
std::string check_stream(std::string_view body, std::uint32_t max_frame_payload) {
    using status = protocol::decode_result::status;
    protocol::decoder d(protocol::role::daemon, max_frame_payload);
    d.feed(body);
    for (;;) {
        auto r = d.next();
        if (r.state == status::need_more)
            break;
        if (r.state == status::error)
            return "frame " + std::to_string(d.frames()) + ": " + r.error.message;
    }
    if (!d.handshake_done())
        return "no handshake";
    if (d.buffered() != 0)
        return "truncated: the last " + std::to_string(d.buffered()) + " bytes are no whole frame";
    return {};
}

} // namespace

spool_outcome apply_spool(store& s, std::string_view bytes, const ingest_limits& limits) {
    spool_outcome out;
    if (bytes.size() < spool_header_size || bytes.substr(0, spool_magic.size()) != spool_magic) {
        out.reason = "not a spool file (no " + std::string(spool_magic) + " header)";
        return out;
    }
    out.pid = read_le64(bytes.substr(spool_magic.size(), 8));
    // Linux pids fit in 22 bits; the pid becomes a label value of `all`/`liveall` gauges.
    if (out.pid <= 0 || out.pid > std::numeric_limits<std::int32_t>::max()) {
        out.reason = "impossible pid " + std::to_string(out.pid);
        return out;
    }
    const std::string_view body = bytes.substr(spool_header_size);
    if (auto why = check_stream(body, limits.max_frame_payload); !why.empty()) {
        out.verdict = spool_verdict::bad_stream;
        out.reason = std::move(why);
        return out;
    }
    ingest_handler h(s, out.pid, limits);
    h.feed(body);
    h.process(); // the responses (WELCOME, ERROR) have no reader; refusals are in the stats
    out.stats = h.stats();
    out.verdict = spool_verdict::applied;
    return out;
}

} // namespace metricsd::daemon

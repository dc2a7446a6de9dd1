// The logical messages of wire protocol v1, as the decoder yields them and the encoder takes them.
#pragma once

#include <metricsd/protocol/wire.hpp>

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <variant>

namespace metricsd::protocol {

/// Client -> daemon, first 8 bytes of the stream.
struct handshake {
    std::uint16_t version = protocol::version;
};

/// DECLARE_FAMILY: bind a client-chosen family handle to a metric family.
/// Views point into the decoder's buffer (or the caller's storage when encoding).
struct family_decl {
    std::uint32_t handle = 0;
    metric_type type = metric_type::counter;
    gauge_mode mode = gauge_mode::livesum; ///< must be livesum (0) unless type == gauge
    std::string_view name;
    std::string_view help;
    std::span<const std::string_view> label_names;
    std::span<const std::string_view> buckets; ///< histogram bounds as text; empty otherwise
};

/// DECLARE_SERIES: bind a client-chosen series handle to (family handle, label values).
struct series_decl {
    std::uint32_t handle = 0;
    std::uint32_t family = 0;
    std::span<const std::string_view> label_values;
};

/// One fixed-size op record.
struct op_record {
    op_code op = op_code::inc;
    std::uint32_t handle = 0;
    double value = 0;
};

/// Encode one record into exactly op_record_size bytes at dst (little-endian host assumed,
/// checked at compile time in the .cpp files).
inline void store_op_record(char* dst, const op_record& r) noexcept {
    dst[0] = static_cast<char>(r.op);
    dst[1] = dst[2] = dst[3] = 0;
    std::memcpy(dst + 4, &r.handle, 4);
    std::memcpy(dst + 8, &r.value, 8);
}

/// Decode one record from op_record_size bytes (already validated by the decoder).
inline op_record load_op_record(const char* src) noexcept {
    op_record r;
    r.op = static_cast<op_code>(static_cast<unsigned char>(src[0]));
    std::memcpy(&r.handle, src + 4, 4);
    std::memcpy(&r.value, src + 8, 8);
    return r;
}

/// OPS: a view over the validated records of one frame. Decoding a record is two memcpys;
/// nothing is allocated.
class op_batch {
public:
    op_batch() = default;
    explicit op_batch(std::string_view raw) noexcept : raw_(raw) {}

    std::size_t size() const noexcept { return raw_.size() / op_record_size; }
    bool empty() const noexcept { return raw_.empty(); }
    op_record operator[](std::size_t i) const noexcept {
        return load_op_record(raw_.data() + i * op_record_size);
    }
    std::string_view raw() const noexcept { return raw_; }

private:
    std::string_view raw_;
};

/// FOLD: many observations of one histogram or summary series, folded by a client whose
/// outbox was full (PROTOCOL.md section 4.7). The per-bucket counts are a view over the
/// payload's little-endian u64s (not cumulative; the last is +Inf); empty for a summary.
struct fold {
    std::uint32_t handle = 0;
    std::uint64_t count = 0;
    double sum = 0;
    std::string_view raw_buckets;

    std::size_t buckets() const noexcept { return raw_buckets.size() / 8; }
    std::uint64_t bucket(std::size_t i) const noexcept {
        std::uint64_t v;
        std::memcpy(&v, raw_buckets.data() + i * 8, 8);
        return v;
    }
};

/// CLIENT_STATS: what the client itself counts, for the daemon to export per client
/// (PROTOCOL.md section 4.8). Cumulative over the connection: each frame carries the total
/// so far, so the daemon keeps the last one and a lost frame loses nothing.
struct client_stats {
    std::uint64_t dropped_ops = 0; ///< ops dropped, not reported on an earlier connection
};

/// SYNC (client -> daemon) and ACK (daemon -> client) carry the same token.
struct sync {
    std::uint64_t token = 0;
};
struct ack {
    std::uint64_t token = 0;
};

/// WELCOME: the daemon's answer to a valid handshake, with its limits. `version` is the
/// revision of version 1 the daemon speaks (1 or 2; see protocol::revision).
struct welcome {
    std::uint16_t version = protocol::revision;
    std::uint32_t max_frame_payload = limits::max_frame_payload;
    std::uint32_t max_family_handle = limits::max_family_handle;
    std::uint32_t max_series_handle = limits::max_series_handle;
};

/// ERROR: what went wrong, which handle (or no_handle) and which frame (0-based count of
/// frames after the handshake; no_frame for the handshake itself).
inline constexpr std::uint64_t no_frame = 0xffffffffffffffffull;
struct error {
    error_code code = error_code::internal;
    std::uint32_t handle = no_handle;
    std::uint64_t frame = no_frame;
    std::string_view message;
};

using message = std::variant<handshake, family_decl, series_decl, op_batch, sync, ack, welcome,
                             error, fold, client_stats>;

} // namespace metricsd::protocol

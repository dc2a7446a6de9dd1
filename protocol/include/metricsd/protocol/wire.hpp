// Wire protocol v1: constants, enumerations and the logical messages. See protocol/PROTOCOL.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace metricsd::protocol {

/// The four bytes every client sends first: ASCII "MTRD".
inline constexpr std::string_view magic{"MTRD", 4};
/// The only protocol version this code speaks (the handshake's version).
inline constexpr std::uint16_t version = 1;
/// The revision of version 1 a daemon announces in WELCOME: 1 for the first frames, 2 once it
/// also accepts FOLD and CLIENT_STATS. Additive, so the handshake still asks for version 1; a
/// client sends CLIENT_STATS only to a daemon that announced revision 2 (PROTOCOL.md 4.5).
inline constexpr std::uint16_t revision = 2;
inline constexpr std::uint16_t client_stats_revision = 2;

/// Handshake: magic (4) + u16 version + u16 flags (must be 0).
inline constexpr std::size_t handshake_size = 8;
/// Frame header: u32 payload length + u16 frame type + u16 reserved (must be 0).
inline constexpr std::size_t frame_header_size = 8;
/// One op record: u8 op + 3 reserved zero bytes + u32 series handle + f64 value.
inline constexpr std::size_t op_record_size = 16;

/// Protocol limits. A daemon may lower max_frame_payload (it announces its value in WELCOME).
namespace limits {
inline constexpr std::uint32_t max_frame_payload = 1u << 20;   ///< 1 MiB
inline constexpr std::uint32_t max_family_handle = (1u << 16) - 1; ///< handles 0..65535
inline constexpr std::uint32_t max_series_handle = (1u << 20) - 1; ///< handles 0..1048575
inline constexpr std::size_t max_name_length = 255;        ///< metric and label names, bytes
inline constexpr std::size_t max_help_length = 4096;       ///< bytes
inline constexpr std::size_t max_label_value_length = 4096; ///< bytes (daemon may lower it)
inline constexpr std::size_t max_bucket_text_length = 64;  ///< bytes
inline constexpr std::size_t max_labels = 32;              ///< label names per family
inline constexpr std::size_t max_buckets = 256;            ///< declared bounds per histogram
inline constexpr std::size_t max_error_message_length = 1024;
} // namespace limits

/// Frame types. 0x01..0x7f travel client -> daemon, 0x81..0xff daemon -> client.
enum class frame_type : std::uint16_t {
    declare_family = 0x01,
    declare_series = 0x02,
    ops = 0x03,
    sync = 0x04,
    fold = 0x05,
    client_stats = 0x06,
    welcome = 0x81,
    ack = 0x82,
    error = 0x83,
};

enum class metric_type : std::uint8_t {
    counter = 1,
    gauge = 2,
    histogram = 3,
    summary = 4,
};

/// How a gauge combines the values of several worker processes (prometheus_client names).
enum class gauge_mode : std::uint8_t {
    livesum = 0, ///< default: sum over live workers
    sum = 1,
    max = 2,
    min = 3,
    mostrecent = 4,
    all = 5, ///< one series per pid, retired workers kept
    liveall = 6,
    livemax = 7,
    livemin = 8,
    livemostrecent = 9,
    shared = 10, ///< one cell for everybody; set = last writer
};
inline constexpr std::uint8_t gauge_mode_count = 11;

enum class op_code : std::uint8_t {
    inc = 1,
    dec = 2,
    set = 3,
    observe = 4,
};

/// Every error the daemon can report. Values are stable: clients switch on them.
enum class error_code : std::uint16_t {
    // Stream-level (fatal: the daemon closes the connection after sending the ERROR frame).
    bad_magic = 1,           ///< first 4 bytes are not "MTRD"
    unsupported_version = 2, ///< handshake version is not 1
    bad_handshake = 3,       ///< handshake flags not zero
    frame_too_large = 4,     ///< payload length above the daemon's max_frame_payload
    bad_frame_header = 5,    ///< reserved header bytes not zero (garbage on the stream)
    handshake_timeout = 6,   ///< no complete handshake within the daemon's handshake timeout
    idle_timeout = 7,        ///< silent past the idle timeout while the daemon needed the slot
    connection_memory_limit = 8, ///< the connection would hold more bytes than the daemon allows
    peer_not_allowed = 9, ///< the peer's uid/gid (SO_PEERCRED) is not on the daemon's allow-list
    // Frame-level (the frame is ignored, the connection stays open).
    unknown_frame_type = 16,
    malformed_frame = 17, ///< payload does not parse: truncated, trailing bytes, bad record
    string_too_long = 18,
    invalid_metric_type = 19,
    invalid_gauge_mode = 20,
    too_many_labels = 21,
    too_many_buckets = 22,
    handle_out_of_range = 23,
    // Declaration-level (the declaration is rejected; later ops on its handle are dropped).
    invalid_metric_name = 32,
    invalid_label_name = 33, ///< bad syntax, reserved (le, quantile, __*, pid in all modes), dup
    invalid_label_value = 34, ///< not UTF-8 or too long
    invalid_buckets = 35,     ///< not a number, NaN, or not strictly increasing
    family_conflict = 36,     ///< same name declared with other type/labels/buckets/mode
    name_collision = 37,      ///< generated sample names overlap another family's
    handle_conflict = 38,     ///< handle already bound to something else on this connection
    unknown_family = 39,      ///< DECLARE_SERIES names a family handle never declared
    label_count_mismatch = 40,
    family_series_limit = 41,
    total_series_limit = 42,
    family_not_permitted = 43, ///< an ownership rule reserves the family for other uids/gids
    peer_family_quota = 44,    ///< the peer's uid already created its quota of families
    peer_series_quota = 45,    ///< the peer's uid already created its quota of series
    // Op-level (that op is dropped; at most one ERROR frame per OPS frame).
    unknown_series = 48,
    invalid_op = 49,    ///< op not allowed for the type (dec on counter, inc on histogram, ...)
    invalid_value = 50, ///< negative or non-finite counter inc, NaN observation, ...
    // Daemon-level.
    too_many_connections = 64, ///< fatal
    shutting_down = 65,        ///< fatal
    internal = 66,
};

/// True when the daemon closes the connection after reporting this error.
constexpr bool is_fatal(error_code c) noexcept {
    const auto v = static_cast<std::uint16_t>(c);
    return v < 16 || c == error_code::too_many_connections || c == error_code::shutting_down;
}

/// Stable lower-case identifier of an error code ("bad_magic", ...); "unknown" otherwise.
std::string_view to_string(error_code c) noexcept;
std::string_view to_string(metric_type t) noexcept;
std::string_view to_string(gauge_mode m) noexcept;
std::string_view to_string(op_code o) noexcept;

/// The gauge mode that to_string() spells `name` ("livesum", "liveall", ...), or nullopt: the
/// one parser of gauge-mode names (CLI flags, Redis metadata records).
std::optional<gauge_mode> parse_gauge_mode(std::string_view name) noexcept;
/// The gauge mode whose wire value is `value` (0..gauge_mode_count-1), or nullopt.
std::optional<gauge_mode> gauge_mode_from_value(long long value) noexcept;

/// Marker for "no handle" in ERROR frames.
inline constexpr std::uint32_t no_handle = 0xffffffffu;

} // namespace metricsd::protocol

// Internal to the decoder: one parser per frame payload. Each fills its message (views into
// the payload) and returns the first problem found, checking fields in wire order.
#pragma once

#include "reader.hpp"

#include <metricsd/protocol/messages.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace metricsd::protocol::detail {

inline constexpr auto npos = std::string_view::npos;
inline constexpr std::size_t family_fixed_size = 12;
inline constexpr std::size_t series_fixed_size = 12;
inline constexpr std::size_t welcome_size = 16;
inline constexpr std::size_t error_fixed_size = 16;
inline constexpr std::size_t token_size = 8;

inline std::string type_name(metric_type t) {
    return std::string(to_string(t));
}

inline check check_family_head(std::uint32_t handle, std::uint8_t type, std::uint8_t mode,
                               std::uint16_t labels, std::uint16_t buckets) {
    using enum error_code;
    if (handle > limits::max_family_handle) {
        return problem{handle_out_of_range, "family handle " + num(handle) +
                                                " is out of range; the limit is " +
                                                num(limits::max_family_handle)};
    }
    if (type < 1 || type > 4) {
        return problem{invalid_metric_type, "metric type " + num(type) +
                                                " is not 1 (counter), 2 (gauge), 3 (histogram) "
                                                "or 4 (summary)"};
    }
    const auto t = static_cast<metric_type>(type);
    if (mode >= gauge_mode_count) {
        return problem{invalid_gauge_mode, "gauge mode " + num(mode) + " is out of range 0.." +
                                               num(gauge_mode_count - 1)};
    }
    if (mode != 0 && t != metric_type::gauge) {
        return problem{invalid_gauge_mode,
                       "gauge mode " + std::string(to_string(static_cast<gauge_mode>(mode))) +
                           " (" + num(mode) + ") given for a " + type_name(t) +
                           "; only gauges take a mode"};
    }
    if (labels > limits::max_labels) {
        return problem{too_many_labels, "family declares " + num(labels) +
                                            " label names; the limit is " +
                                            num(limits::max_labels)};
    }
    if (buckets != 0 && t != metric_type::histogram) {
        return problem{too_many_buckets, type_name(t) + " family declares " + num(buckets) +
                                             " bucket bounds; only histograms take buckets"};
    }
    if (buckets > limits::max_buckets) {
        return problem{too_many_buckets, "histogram declares " + num(buckets) +
                                             " bucket bounds; the limit is " +
                                             num(limits::max_buckets)};
    }
    return std::nullopt;
}

// Checks follow the field order; the first failure is reported (see PROTOCOL.md).
inline check parse_family(std::string_view payload, family_decl& m,
                          std::vector<std::string_view>& names,
                          std::vector<std::string_view>& bounds) {
    constexpr const char* frame = "DECLARE_FAMILY";
    reader in{payload};
    std::uint32_t handle = 0;
    std::uint8_t type = 0, mode = 0;
    std::uint16_t labels = 0, buckets = 0, reserved = 0;
    const bool complete = in.read(handle, type, mode, labels, buckets, reserved);
    if (auto p = check_fixed_part(complete, payload.size(), family_fixed_size, frame)) {
        return p;
    }
    m.handle = handle;
    if (auto p = check_reserved(reserved, frame)) {
        return p;
    }
    if (auto p = check_family_head(handle, type, mode, labels, buckets)) {
        return p;
    }
    m.type = static_cast<metric_type>(type);
    m.mode = static_cast<gauge_mode>(mode);
    check p = read_text(in, m.name, frame, "metric name", npos, limits::max_name_length);
    if (!p) {
        p = read_text(in, m.help, frame, "help", npos, limits::max_help_length);
    }
    if (!p) {
        p = read_texts(in, labels, names, frame, "label name", limits::max_name_length);
    }
    if (!p) {
        p = read_texts(in, buckets, bounds, frame, "bucket bound", limits::max_bucket_text_length);
    }
    m.label_names = names;
    m.buckets = bounds;
    return p ? std::move(p) : check_end(in, frame);
}

// The fixed part, reserved field and series handle of DECLARE_SERIES and FOLD, checked in that
// (wire) order; a truncated fixed part names no handle.
inline check check_series_head(bool complete, std::size_t payload_size, std::size_t fixed_size,
                               const char* frame, std::uint16_t reserved, std::uint32_t& handle) {
    if (auto p = check_fixed_part(complete, payload_size, fixed_size, frame)) {
        handle = no_handle;
        return p;
    }
    if (auto p = check_reserved(reserved, frame)) {
        return p;
    }
    if (handle > limits::max_series_handle) {
        return problem{error_code::handle_out_of_range,
                       "series handle " + num(handle) + " is out of range; the limit is " +
                           num(limits::max_series_handle)};
    }
    return std::nullopt;
}

inline check parse_series(std::string_view payload, series_decl& m,
                          std::vector<std::string_view>& values) {
    using enum error_code;
    constexpr const char* frame = "DECLARE_SERIES";
    reader in{payload};
    std::uint16_t count = 0, reserved = 0;
    const bool complete = in.read(m.handle, m.family, count, reserved);
    if (auto p = check_series_head(complete, payload.size(), series_fixed_size, frame, reserved,
                                   m.handle)) {
        return p;
    }
    if (m.family > limits::max_family_handle) {
        return problem{handle_out_of_range, "family handle " + num(m.family) +
                                                " is out of range; the limit is " +
                                                num(limits::max_family_handle)};
    }
    if (count > limits::max_labels) {
        return problem{too_many_labels, "series declares " + num(count) +
                                            " label values; the limit is " +
                                            num(limits::max_labels)};
    }
    check p = read_texts(in, count, values, frame, "label value", limits::max_label_value_length);
    m.label_values = values;
    return p ? std::move(p) : check_end(in, frame);
}

inline problem bad_record(const char* record, std::size_t index, std::size_t count) {
    const std::string where = "OPS record " + num(index) + " of " + num(count);
    if (record[1] != 0 || record[2] != 0 || record[3] != 0) {
        return malformed(where + ": reserved bytes are " + describe_bytes({record + 1, 3}) +
                         "; they must be zero");
    }
    return malformed(where + ": op code " + num(static_cast<unsigned char>(record[0])) +
                     " is not 1 (inc), 2 (dec), 3 (set) or 4 (observe)");
}

// The hot path: one load and one compare per record, nothing allocated unless a record is bad.
inline check check_ops(std::string_view payload) {
    if (payload.empty()) {
        return malformed("OPS frame holds no records");
    }
    if (payload.size() % op_record_size != 0) {
        return malformed("OPS payload is " + num(payload.size()) +
                         " bytes; not a multiple of the 16-byte record size");
    }
    const std::size_t count = payload.size() / op_record_size;
    const char* record = payload.data();
    for (std::size_t i = 0; i < count; ++i, record += op_record_size) {
        // The op code is the low byte and the three reserved zero bytes sit above it, so a
        // valid record's first u32 is exactly 1..4; unsigned wrap makes 0 fail too.
        if (load<std::uint32_t>(record) - 1u >= 4u) {
            return bad_record(record, i, count);
        }
    }
    return std::nullopt;
}

inline constexpr std::size_t fold_fixed_size = 24;

// FOLD: the counts must add up, so the daemon can apply a frame without checking it again.
inline check parse_fold(std::string_view payload, fold& m) {
    using enum error_code;
    constexpr const char* frame = "FOLD";
    reader in{payload};
    std::uint16_t buckets = 0, reserved = 0;
    const bool complete = in.read(m.handle, buckets, reserved, m.count, m.sum);
    if (auto p = check_series_head(complete, payload.size(), fold_fixed_size, frame, reserved,
                                   m.handle)) {
        return p;
    }
    if (buckets > limits::max_buckets + 1) {
        return problem{too_many_buckets, "FOLD carries " + num(buckets) +
                                             " bucket counts; the limit is " +
                                             num(limits::max_buckets + 1) + " (+Inf included)"};
    }
    const std::size_t want = fold_fixed_size + std::size_t{buckets} * 8;
    if (payload.size() != want) {
        return malformed("FOLD payload is " + num(payload.size()) + " bytes; " + num(buckets) +
                         " bucket counts make it " + num(want));
    }
    m.raw_buckets = payload.substr(fold_fixed_size);
    if (buckets == 0) {
        return std::nullopt;
    }
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < buckets; ++i) {
        const std::uint64_t c = m.bucket(i);
        if (c > m.count - total) {
            return malformed("FOLD bucket counts add up to more than its count " + num(m.count));
        }
        total += c;
    }
    if (total != m.count) {
        return malformed("FOLD bucket counts add up to " + num(total) + ", not its count " +
                         num(m.count));
    }
    return std::nullopt;
}

inline check parse_token(std::string_view payload, std::uint64_t& token, const char* frame) {
    if (auto p = check_exact_size(payload.size(), token_size, frame)) {
        return p;
    }
    token = load<std::uint64_t>(payload.data());
    return std::nullopt;
}

inline check parse_welcome(std::string_view payload, welcome& m) {
    if (auto p = check_exact_size(payload.size(), welcome_size, "WELCOME")) {
        return p;
    }
    reader in{payload};
    std::uint16_t reserved = 0;
    in.read(m.version, reserved, m.max_frame_payload, m.max_family_handle, m.max_series_handle);
    return check_reserved(reserved, "WELCOME");
}

inline check parse_error(std::string_view payload, error& m) {
    constexpr const char* frame = "ERROR";
    reader in{payload};
    std::uint16_t code = 0, reserved = 0;
    const bool complete = in.read(code, reserved, m.handle, m.frame);
    if (auto p = check_fixed_part(complete, payload.size(), error_fixed_size, frame)) {
        return p;
    }
    // Unknown codes pass through: a newer daemon may send codes this client does not know.
    m.code = static_cast<error_code>(code);
    if (auto p = check_reserved(reserved, frame)) {
        return p;
    }
    if (auto p = read_text(in, m.message, frame, "error message", npos,
                           limits::max_error_message_length)) {
        return p;
    }
    return check_end(in, frame);
}

} // namespace metricsd::protocol::detail

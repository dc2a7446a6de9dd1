#include <metricsd/protocol/encoder.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace metricsd::protocol {

static_assert(std::endian::native == std::endian::little,
              "wire protocol v1 code copies little-endian integers and doubles with memcpy");

namespace {

template <class T>
void put(std::string& out, T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    out.append(bytes, sizeof(T));
}

/// A count or length that must fit a u16 field; larger is the caller's bug.
std::uint16_t u16_or_throw(std::size_t v, const char* what) {
    if (v > std::numeric_limits<std::uint16_t>::max()) {
        throw std::length_error(std::string("metricsd::protocol::encode: ") + what + " is " +
                                std::to_string(v) + ", more than a u16 field holds");
    }
    return static_cast<std::uint16_t>(v);
}

void put_string(std::string& out, std::string_view s) {
    put(out, u16_or_throw(s.size(), "string length"));
    out.append(s);
}

void put_strings(std::string& out, std::span<const std::string_view> list) {
    for (const auto s : list) {
        put_string(out, s);
    }
}

/// Header with a zero length; finish_frame patches it once the payload is written.
std::size_t begin_frame(std::string& out, frame_type type) {
    const std::size_t at = out.size();
    put(out, std::uint32_t{0});
    put(out, static_cast<std::uint16_t>(type));
    put(out, std::uint16_t{0});
    return at;
}

void finish_frame(std::string& out, std::size_t at) {
    const std::size_t length = out.size() - at - frame_header_size;
    if (length > std::numeric_limits<std::uint32_t>::max()) {
        throw std::length_error("metricsd::protocol::encode: payload of " + std::to_string(length) +
                                " bytes does not fit a u32 length");
    }
    const auto l32 = static_cast<std::uint32_t>(length);
    std::memcpy(out.data() + at, &l32, sizeof l32);
}

/// Writes one whole frame, or on an exception leaves out exactly as it was.
template <class Body>
void frame(std::string& out, frame_type type, Body&& body) {
    const std::size_t size = out.size();
    try {
        const std::size_t at = begin_frame(out, type);
        body();
        finish_frame(out, at);
    } catch (...) {
        out.resize(size);
        throw;
    }
}

} // namespace

void encode(std::string& out, const handshake& m) {
    out.append(magic);
    put(out, m.version);
    put(out, std::uint16_t{0}); // flags: none defined in v1
}

void encode(std::string& out, const family_decl& m) {
    frame(out, frame_type::declare_family, [&] {
        put(out, m.handle);
        put(out, static_cast<std::uint8_t>(m.type));
        put(out, static_cast<std::uint8_t>(m.mode));
        put(out, u16_or_throw(m.label_names.size(), "label count"));
        put(out, u16_or_throw(m.buckets.size(), "bucket count"));
        put(out, std::uint16_t{0});
        put_string(out, m.name);
        put_string(out, m.help);
        put_strings(out, m.label_names);
        put_strings(out, m.buckets);
    });
}

void encode(std::string& out, const series_decl& m) {
    frame(out, frame_type::declare_series, [&] {
        put(out, m.handle);
        put(out, m.family);
        put(out, u16_or_throw(m.label_values.size(), "label value count"));
        put(out, std::uint16_t{0});
        put_strings(out, m.label_values);
    });
}

void encode(std::string& out, const sync& m) {
    frame(out, frame_type::sync, [&] { put(out, m.token); });
}

void encode(std::string& out, const ack& m) {
    frame(out, frame_type::ack, [&] { put(out, m.token); });
}

void encode(std::string& out, const welcome& m) {
    frame(out, frame_type::welcome, [&] {
        put(out, m.version);
        put(out, std::uint16_t{0});
        put(out, m.max_frame_payload);
        put(out, m.max_family_handle);
        put(out, m.max_series_handle);
    });
}

void encode(std::string& out, const error& m) {
    frame(out, frame_type::error, [&] {
        put(out, static_cast<std::uint16_t>(m.code));
        put(out, std::uint16_t{0});
        put(out, m.handle);
        put(out, m.frame);
        put_string(out, m.message);
    });
}

void encode(std::string& out, const client_stats& m) {
    frame(out, frame_type::client_stats, [&] { put(out, m.dropped_ops); });
}

void encode_fold(std::string& out, std::uint32_t handle, std::uint64_t count, double sum,
                 std::span<const std::uint64_t> buckets) {
    frame(out, frame_type::fold, [&] {
        put(out, handle);
        put(out, u16_or_throw(buckets.size(), "bucket count"));
        put(out, std::uint16_t{0});
        put(out, count);
        put(out, sum);
        for (const std::uint64_t c : buckets) {
            put(out, c);
        }
    });
}

void encode_ops(std::string& out, std::span<const op_record> records) {
    if (records.size() > std::numeric_limits<std::uint32_t>::max() / op_record_size) {
        throw std::length_error("metricsd::protocol::encode_ops: " +
                                std::to_string(records.size()) + " records overflow a u32 length");
    }
    const std::size_t at = begin_ops(out);
    out.resize(out.size() + records.size() * op_record_size);
    char* dst = out.data() + at + frame_header_size;
    for (const op_record& r : records) {
        store_op_record(dst, r);
        dst += op_record_size;
    }
    finish_ops(out, at);
}

std::size_t begin_ops(std::string& out) {
    return begin_frame(out, frame_type::ops);
}

void append_op(std::string& out, const op_record& r) {
    char bytes[op_record_size];
    store_op_record(bytes, r);
    out.append(bytes, op_record_size);
}

void finish_ops(std::string& out, std::size_t header_offset) {
    // An OPS frame without records is malformed: an empty batch sends nothing at all.
    if (out.size() - header_offset == frame_header_size) {
        out.resize(header_offset);
        return;
    }
    finish_frame(out, header_offset);
}

} // namespace metricsd::protocol

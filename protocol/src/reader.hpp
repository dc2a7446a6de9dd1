// Internal to the decoder: a bounds-checked little-endian cursor over one frame payload, and
// the field checks every frame parser shares. Error texts name the offending value.
#pragma once

#include <metricsd/protocol/wire.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace metricsd::protocol::detail {

static_assert(std::endian::native == std::endian::little,
              "wire protocol v1 code copies little-endian integers and doubles with memcpy");

/// Load a trivially copyable little-endian value from p (unaligned access is fine).
template <class T>
T load(const char* p) noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

/// Reads fields front to back. A read that needs more bytes than remain returns false and
/// consumes nothing, so the caller can report where the payload ended.
class reader {
public:
    explicit reader(std::string_view bytes) noexcept : rest_(bytes), size_(bytes.size()) {}

    template <class... T>
    bool read(T&... fields) noexcept {
        if (rest_.size() < (sizeof(T) + ...)) {
            return false;
        }
        (read_one(fields), ...);
        return true;
    }

    /// A u16 byte length followed by that many bytes; the view points into the payload.
    bool read_string(std::string_view& s) noexcept {
        if (rest_.size() < 2) {
            return false;
        }
        const auto length = load<std::uint16_t>(rest_.data());
        if (rest_.size() - 2 < length) {
            return false;
        }
        s = rest_.substr(2, length);
        rest_.remove_prefix(2 + std::size_t{length});
        return true;
    }

    std::size_t remaining() const noexcept { return rest_.size(); }
    std::size_t offset() const noexcept { return size_ - rest_.size(); }

private:
    template <class T>
    void read_one(T& v) noexcept {
        v = load<T>(rest_.data());
        rest_.remove_prefix(sizeof(T));
    }

    std::string_view rest_;
    std::size_t size_;
};

/// What is wrong with a frame payload; the decoder adds the frame index and the handle.
struct problem {
    error_code code;
    std::string text;
};
/// Empty when the checked part is fine. Only the error path allocates (for the text).
using check = std::optional<problem>;

inline std::string num(std::uint64_t v) {
    return std::to_string(v);
}

inline std::string hex(std::uint64_t v) {
    constexpr char digits[] = "0123456789abcdef";
    std::string s;
    do {
        s.insert(s.begin(), digits[v & 0xf]);
        v >>= 4;
    } while (v != 0);
    return "0x" + s;
}

/// "GET " (47 45 54 20): a human sees at once what connected instead of a metricsd client.
inline std::string describe_bytes(std::string_view bytes) {
    constexpr char digits[] = "0123456789abcdef";
    std::string text = "\"";
    std::string hexes;
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        text += (u >= 0x20 && u < 0x7f) ? c : '.';
        hexes += hexes.empty() ? "" : " ";
        hexes += digits[u >> 4];
        hexes += digits[u & 0xf];
    }
    return text + "\" (" + hexes + ")";
}

inline problem malformed(std::string text) {
    return {error_code::malformed_frame, std::move(text)};
}

/// "metric name", or "label name 3" for the fourth of a list (index npos = not in a list).
inline std::string field_name(const char* what, std::size_t index) {
    return index == std::string_view::npos ? std::string(what) : what + (" " + num(index));
}

/// A length-prefixed string: structure first (truncation is malformed_frame), then the limit.
inline check read_text(reader& in, std::string_view& s, const char* frame, const char* what,
                       std::size_t index, std::size_t limit) {
    if (!in.read_string(s)) {
        return malformed(std::string(frame) + " payload ends inside " + field_name(what, index) +
                         " (byte offset " + num(in.offset()) + ")");
    }
    if (s.size() > limit) {
        return problem{error_code::string_too_long, field_name(what, index) + " is " +
                                                        num(s.size()) + " bytes; the limit is " +
                                                        num(limit)};
    }
    return std::nullopt;
}

/// count strings into out, which is cleared first so its capacity is reused across frames.
inline check read_texts(reader& in, std::size_t count, std::vector<std::string_view>& out,
                        const char* frame, const char* what, std::size_t limit) {
    out.clear();
    for (std::size_t i = 0; i < count; ++i) {
        std::string_view s;
        if (auto p = read_text(in, s, frame, what, i, limit)) {
            return p;
        }
        out.push_back(s);
    }
    return std::nullopt;
}

inline check check_fixed_part(bool complete, std::size_t payload_size, std::size_t fixed,
                              const char* frame) {
    if (!complete) {
        return malformed(std::string(frame) + " payload is " + num(payload_size) +
                         " bytes; its fixed part alone is " + num(fixed));
    }
    return std::nullopt;
}

inline check check_exact_size(std::size_t payload_size, std::size_t size, const char* frame) {
    if (payload_size != size) {
        return malformed(std::string(frame) + " payload is " + num(payload_size) +
                         " bytes; it must be exactly " + num(size));
    }
    return std::nullopt;
}

inline check check_reserved(std::uint64_t value, const char* frame) {
    if (value != 0) {
        return malformed(std::string(frame) + " reserved field is " + hex(value) + "; must be 0");
    }
    return std::nullopt;
}

inline check check_end(const reader& in, const char* frame) {
    if (in.remaining() != 0) {
        return malformed(std::string(frame) + " has " + num(in.remaining()) +
                         " trailing bytes after its last field");
    }
    return std::nullopt;
}

} // namespace metricsd::protocol::detail

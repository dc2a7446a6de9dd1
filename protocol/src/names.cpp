#include <metricsd/protocol/names.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace metricsd::protocol {
namespace {

constexpr bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

} // namespace

bool is_valid_metric_name(std::string_view name) noexcept {
    if (name.empty() || is_digit(name.front()))
        return false;
    for (char c : name)
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != ':')
            return false;
    return true;
}

bool is_valid_label_name(std::string_view name) noexcept {
    if (name.empty() || is_digit(name.front()))
        return false;
    for (char c : name)
        if (!is_alpha(c) && !is_digit(c) && c != '_')
            return false;
    return true;
}

bool is_reserved_label_name(std::string_view name) noexcept {
    return name == "le" || name == "quantile" || name.starts_with("__");
}

bool parse_bucket_bound(std::string_view text, double& out) noexcept {
    if (!text.empty() && text.front() == '+') {
        text.remove_prefix(1); // from_chars takes no '+'; Python's float() does
        if (!text.empty() && text.front() == '-')
            return false; // "+-1": one sign only, as float() and strtod() read it
    }
    if (text.empty())
        return false;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && ptr == text.data() + text.size() && std::isfinite(out);
}

bool is_valid_utf8(std::string_view text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const unsigned char c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        int extra = 0;
        char32_t cp = 0;
        char32_t min = 0;
        if ((c & 0xe0) == 0xc0) {
            extra = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false; // stray continuation byte or 0xf8..0xff
        }
        if (end - p <= extra)
            return false;
        for (int i = 1; i <= extra; ++i) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += extra + 1;
    }
    return true;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = up;
        }
    }
    return row[b.size()];
}

} // namespace metricsd::protocol

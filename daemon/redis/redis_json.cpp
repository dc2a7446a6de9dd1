// Strings are nlohmann's: its dump with ensure_ascii and the replace handler writes a string
// byte-for-byte as Python's json.dumps does (checked against Python 3.11 on every fixture in
// redis_layout_test.cpp, and on 200k random byte strings when this was written). What stays
// here is what the library does not do: Python's `", "` and `": "` separators with keys in our
// order (nlohmann writes `,` and `:`, and its objects sort their keys), a plain copy of strings
// that need no escape (speed), and the reader below.
#include "daemon/redis/redis_json.hpp"

#include <metricsd/protocol/names.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace metricsd::daemon {
namespace {

using json = nlohmann::json;

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// A recursive-descent reader for the small JSON subset our fields use. Every method returns
// false on malformed input and leaves the cursor somewhere undefined.
class json_cursor {
public:
    explicit json_cursor(std::string_view text) : s_(text) {}

    void skip_ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
            ++i_;
    }
    bool eat(char c) {
        skip_ws();
        if (i_ >= s_.size() || s_[i_] != c)
            return false;
        ++i_;
        return true;
    }
    bool peek(char c) {
        skip_ws();
        return i_ < s_.size() && s_[i_] == c;
    }
    bool at_end() {
        skip_ws();
        return i_ == s_.size();
    }

    bool string(std::string& out) {
        out.clear();
        if (!eat('"'))
            return false;
        while (i_ < s_.size()) {
            const char c = s_[i_++];
            if (c == '"')
                return true;
            if (static_cast<unsigned char>(c) < 0x20)
                return false;
            if (c != '\\') {
                out += c;
            } else if (!escape(out)) {
                return false;
            }
        }
        return false;
    }

    bool string_array(std::vector<std::string>& out) {
        if (!eat('['))
            return false;
        if (eat(']'))
            return true;
        do {
            if (!string(out.emplace_back()))
                return false;
        } while (eat(','));
        return eat(']');
    }

private:
    bool escape(std::string& out) {
        if (i_ >= s_.size())
            return false;
        switch (const char c = s_[i_++]) {
        case '"':
        case '\\':
        case '/':
            out += c;
            return true;
        case 'b':
            out += '\b';
            return true;
        case 'f':
            out += '\f';
            return true;
        case 'n':
            out += '\n';
            return true;
        case 'r':
            out += '\r';
            return true;
        case 't':
            out += '\t';
            return true;
        case 'u':
            return unicode_escape(out);
        default:
            return false;
        }
    }

    bool hex4(unsigned& unit) {
        if (s_.size() - i_ < 4)
            return false;
        unit = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[i_++];
            const int d = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
            if (d < 0)
                return false;
            unit = unit * 16 + static_cast<unsigned>(d);
        }
        return true;
    }

    // A lone surrogate has no UTF-8 form; such a field cannot name a label value we could
    // emit, so it counts as malformed.
    bool unicode_escape(std::string& out) {
        unsigned hi = 0, lo = 0;
        if (!hex4(hi) || (hi >= 0xDC00 && hi <= 0xDFFF))
            return false;
        if (hi < 0xD800 || hi > 0xDBFF) {
            append_utf8(out, hi);
            return true;
        }
        if (s_.substr(i_, 2) != "\\u")
            return false;
        i_ += 2;
        if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF)
            return false;
        append_utf8(out, 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
        return true;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

} // namespace

void append_python_json_string(std::string& out, std::string_view s) {
    // Most label names and values (GET, 200, /api/users) need no escape at all, and a dump
    // costs a json value and a result string: on the flush path that made the label field four
    // times slower. Such a string is its own JSON between quotes; everything else is nlohmann's.
    const bool verbatim = std::all_of(
        s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (verbatim) {
        out += '"';
        out += s;
        out += '"';
        return;
    }
    out += json(s).dump(-1, ' ', true, json::error_handler_t::replace);
}

void append_python_json_labels(std::string& out, std::span<const std::string> names,
                               std::span<const std::string> values) {
    out += '{';
    for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
        if (i != 0)
            out += ", ";
        append_python_json_string(out, names[i]);
        out += ": ";
        append_python_json_string(out, values[i]);
    }
    out += '}';
}

void append_python_json_array(std::string& out, std::span<const std::string> items) {
    out += '[';
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i != 0)
            out += ", ";
        append_python_json_string(out, items[i]);
    }
    out += ']';
}

// Hand-written rather than nlohmann's SAX parser: a scrape parses every field of every key
// (~1.3 M fields for 100 k histogram series), and nlohmann's parser took ~1.9 us per 3-label
// field against ~0.7 us here (parse_scrape of 20 k fields: ~40 ms against ~18 ms).
std::optional<json_flat_object> parse_json_flat_object(std::string_view text) {
    // Raw bytes that are not UTF-8 are refused, as Python's json.loads refuses them: /metrics
    // must not carry them as label values. Escapes cannot produce them (lone surrogates are
    // refused where they are decoded), so checking the raw text once is enough.
    if (!protocol::is_valid_utf8(text))
        return std::nullopt;
    json_cursor in(text);
    json_flat_object members;
    if (!in.eat('{'))
        return std::nullopt;
    if (!in.eat('}')) {
        do {
            auto& [key, value] = members.emplace_back();
            if (!in.string(key) || !in.eat(':'))
                return std::nullopt;
            value.is_array = in.peek('[');
            if (value.is_array ? !in.string_array(value.items) : !in.string(value.text))
                return std::nullopt;
            for (std::size_t k = 0; k + 1 < members.size(); ++k)
                if (members[k].first == key)
                    return std::nullopt;
        } while (in.eat(','));
        if (!in.eat('}'))
            return std::nullopt;
    }
    if (!in.at_end())
        return std::nullopt;
    return members;
}

std::optional<std::vector<std::string>> parse_label_json(std::string_view field,
                                                         std::span<const std::string> names) {
    auto members = parse_json_flat_object(field);
    if (!members || members->size() != names.size())
        return std::nullopt;
    std::vector<std::string> values(names.size());
    for (auto& [key, value] : *members) {
        const auto it = std::find(names.begin(), names.end(), key);
        if (it == names.end() || value.is_array)
            return std::nullopt;
        values[static_cast<std::size_t>(it - names.begin())] = std::move(value.text);
    }
    // Sizes match, keys are unique and each is a name, so every name got its value.
    return values;
}

} // namespace metricsd::daemon

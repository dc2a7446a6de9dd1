// The JSON itself is nlohmann's: its dump with ensure_ascii and the replace handler writes a
// string byte-for-byte as Python's json.dumps does (checked against Python 3.11 on every
// fixture in redis_layout_test.cpp, and on 200k random byte strings when this was written),
// and its SAX parser reads the fields. What stays here is what the library does not do:
// Python's `", "` and `": "` separators with keys in our order (nlohmann writes `,` and `:`,
// and its objects sort their keys), the shape rules of a flat object, two guards against
// leniencies of nlohmann's lexer, and a plain copy of strings that need no escape (speed).
#include "daemon/redis/redis_json.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace metricsd::daemon {
namespace {

using json = nlohmann::json;

// nlohmann's SAX events for a flat object whose values are strings or arrays of strings; any
// other event refuses the text. Members keep their order (a json object would sort them), and a
// repeated key is refused (a json object would keep the last one silently).
class flat_object_reader {
public:
    bool start_object(std::size_t) { return depth_++ == 0; }
    bool end_object() { return --depth_, true; }
    bool key(json::string_t& k) {
        for (const auto& m : members_)
            if (m.first == k)
                return false;
        members_.emplace_back(std::move(k), json_flat_value{});
        return true;
    }
    bool start_array(std::size_t) {
        if (depth_ != 1)
            return false;
        members_.back().second.is_array = true;
        return ++depth_, true;
    }
    bool end_array() { return --depth_, true; }
    bool string(json::string_t& s) {
        if (depth_ == 1) // the grammar puts a key before it: it is that member's value
            members_.back().second.text = std::move(s);
        else if (depth_ == 2)
            members_.back().second.items.push_back(std::move(s));
        return depth_ == 1 || depth_ == 2;
    }
    bool null() { return false; }
    bool boolean(bool) { return false; }
    bool number_integer(json::number_integer_t) { return false; }
    bool number_unsigned(json::number_unsigned_t) { return false; }
    bool number_float(json::number_float_t, const json::string_t&) { return false; }
    bool binary(json::binary_t&) { return false; }
    bool parse_error(std::size_t, const std::string&, const json::exception&) { return false; }

    json_flat_object take() { return std::move(members_); }

private:
    int depth_ = 0;
    json_flat_object members_;
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

std::optional<json_flat_object> parse_json_flat_object(std::string_view text) {
    // Two leniencies of nlohmann's lexer that JSON does not have: it skips a leading UTF-8 byte
    // order mark, and it takes a NUL byte for the end of the input (for C strings), so
    // `{...}\0junk` would parse. A raw NUL is never valid JSON, and no writer puts a BOM in a
    // Redis field: a field that differs from another by one must not merge with it.
    if (text.starts_with("\xef\xbb\xbf") || text.find('\0') != std::string_view::npos)
        return std::nullopt;
    flat_object_reader reader;
    if (!json::sax_parse(text.begin(), text.end(), &reader))
        return std::nullopt;
    return reader.take();
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

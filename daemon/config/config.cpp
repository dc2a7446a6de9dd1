#include "daemon/config/config.hpp"

#include "daemon/config/config_fields.hpp"
#include "daemon/config/json_locator.hpp"

#include <metricsd/protocol/names.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace metricsd::daemon {
namespace {

using detail::config_field;
using detail::setting_value;
using json = nlohmann::json;

/// Where the file walk is: the text (for positions) and the source name (for messages).
struct file_context {
    std::string_view source;
    const json_key_index& index;

    [[noreturn]] void fail_at(text_position p, const std::string& message) const {
        throw config_error(std::string(source) + ":" + to_string(p) + ": " + message);
    }
};

std::string shown(const json& v) {
    std::string s = v.dump();
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// A typo ("max_serie") or a key in the wrong section ("max_series" at the top level).
std::string suggestion(std::string_view path) {
    const auto leaf = path.substr(path.rfind('.') + 1);
    for (const auto& f : detail::config_fields()) {
        const auto key = f.name.key;
        if (protocol::edit_distance(path, key) <= 2 || key.substr(key.rfind('.') + 1) == leaf)
            return " (did you mean \"" + std::string(key) + "\"?)";
    }
    return "";
}

bool is_section(std::string_view path) {
    return std::any_of(detail::config_fields().begin(), detail::config_fields().end(),
                       [&](const config_field& f) {
                           return f.name.key.size() > path.size() && f.name.key.starts_with(path) &&
                                  f.name.key[path.size()] == '.';
                       });
}

// An object field reads its own members and names the one at fault.
void set_object_from_json(config& c, const config_field& f, const json& v,
                          const file_context& ctx) {
    const std::string key(f.name.key);
    if (!v.is_object())
        ctx.fail_at(ctx.index.value(key), key + ": expected an object, got " + shown(v));
    try {
        f.set(c, f.from_json(v));
    } catch (const detail::bad_member& e) {
        ctx.fail_at(e.at_key ? ctx.index.key(e.path) : ctx.index.value(e.path), e.what());
    } catch (const detail::bad_value& e) {
        ctx.fail_at(ctx.index.value(key), key + ": " + e.what());
    }
    c.origins[key] = std::string(ctx.source) + ":" + to_string(ctx.index.key(key));
}

void set_from_json(config& c, const config_field& f, const json& v, const file_context& ctx) {
    if (f.name.is_object)
        return set_object_from_json(c, f, v, ctx);
    const auto where = ctx.index.value(f.name.key);
    std::string key(f.name.key);
    if (f.name.is_integer && !v.is_number_unsigned())
        ctx.fail_at(where, key + ": expected a non-negative integer, got " + shown(v));
    if (!f.name.is_integer && !v.is_string())
        ctx.fail_at(where, key + ": expected a string, got " + shown(v));
    try {
        f.set(c, f.name.is_integer ? setting_value(v.get<std::uint64_t>())
                                   : setting_value(v.get<std::string>()));
    } catch (const detail::bad_value& e) {
        ctx.fail_at(where, key + ": " + e.what() + (f.secret ? "" : ", got " + shown(v)));
    }
    c.origins[key] = std::string(ctx.source) + ":" + to_string(ctx.index.key(f.name.key));
}

void walk_object(config& c, const json& object, const std::string& prefix,
                 const file_context& ctx) {
    for (const auto& [name, value] : object.items()) {
        const std::string path = prefix.empty() ? name : prefix + "." + name;
        if (path == "$schema" && value.is_string())
            continue; // editors' pointer to metricsd.schema.json
        if (const auto* f = detail::find_field(path)) {
            set_from_json(c, *f, value, ctx);
        } else if (is_section(path)) {
            if (!value.is_object())
                ctx.fail_at(ctx.index.value(path),
                            path + ": expected an object, got " + shown(value));
            walk_object(c, value, path, ctx);
        } else {
            ctx.fail_at(ctx.index.key(path), "unknown key \"" + path + "\"" + suggestion(path));
        }
    }
}

// nlohmann's message carries its own "[json.exception...] parse error at line L, column C: "
// prefix; our message leads with file:line:col instead, computed from the byte offset.
[[noreturn]] void fail_parse(std::string_view text, std::string_view source,
                             const json::parse_error& e) {
    std::string detail = e.what();
    const auto colon = detail.find(": ", detail.find("parse error"));
    if (colon != std::string::npos)
        detail = detail.substr(colon + 2);
    const auto at = position_of_offset(text, e.byte == 0 ? 0 : e.byte - 1);
    throw config_error(std::string(source) + ":" + to_string(at) + ": invalid JSON: " + detail);
}

setting_value from_text(const config_field& f, std::string_view text) {
    if (!f.name.is_integer)
        return std::string(text);
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
        return std::string(text); // not a number: the setter says which range it expects
    return n;
}

void set_from_text(config& c, const config_field& f, std::string_view text,
                   std::string_view origin) {
    // A config file cannot hold bytes that are not UTF-8 (the JSON parser refuses them), and
    // the effective configuration is written out as JSON (to_json, --check-config), which
    // would throw on them: flags and variables get the file's rule. The text is not shown.
    if (!protocol::is_valid_utf8(text))
        throw config_error(std::string(origin) + ": is not valid UTF-8");
    try {
        f.set(c, from_text(f, text));
    } catch (const detail::bad_value& e) {
        const std::string shown_text = f.secret ? "" : "=\"" + std::string(text) + "\"";
        throw config_error(std::string(origin) + shown_text + ": " + e.what());
    }
    c.origins[std::string(f.name.key)] = std::string(origin);
}

} // namespace

const std::vector<config_key>& config_keys() {
    static const std::vector<config_key> keys = [] {
        std::vector<config_key> k;
        for (const auto& f : detail::config_fields())
            k.push_back(f.name);
        return k;
    }();
    return keys;
}

config parse_config(std::string_view json_text, std::string_view source) {
    json doc;
    try {
        doc = json::parse(json_text);
    } catch (const json::parse_error& e) {
        fail_parse(json_text, source, e);
    }
    const json_key_index index(json_text);
    const file_context ctx{source, index};
    if (!index.duplicates().empty()) {
        const auto& d = index.duplicates().front();
        ctx.fail_at(d.where, "duplicate key \"" + d.path + "\"");
    }
    if (!doc.is_object())
        ctx.fail_at({}, "expected a JSON object at the top level, got " + shown(doc));
    config c;
    walk_object(c, doc, "", ctx);
    validate(c);
    return c;
}

config load_config_file(const std::string& path) {
    // A directory opens as a stream and reads as nothing, which the parser would call invalid
    // JSON; say what it is.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw config_error("cannot read config file " + path + ": " +
                           std::strerror(EISDIR));
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    const int open_errno = errno;
    std::ostringstream text;
    if (in)
        text << in.rdbuf();
    if (!in || in.bad()) {
        const int err = open_errno != 0 ? open_errno : errno;
        throw config_error("cannot read config file " + path +
                           (err != 0 ? ": " + std::string(std::strerror(err)) : std::string()));
    }
    return parse_config(text.str(), path);
}

void apply_environment(config& c, const std::function<const char*(const char*)>& lookup) {
    for (const auto& f : detail::config_fields()) {
        const std::string name(f.name.env);
        if (const char* value = lookup(name.c_str()))
            set_from_text(c, f, value, name);
    }
    validate(c);
}

std::vector<std::string> unknown_environment(const std::vector<std::string>& entries) {
    std::vector<std::string> unknown;
    for (const auto& entry : entries) {
        const std::string name = entry.substr(0, entry.find('='));
        if (!name.starts_with("METRICSD_") || name == config_file_env)
            continue;
        const auto& fields = detail::config_fields();
        if (std::none_of(fields.begin(), fields.end(),
                         [&](const config_field& f) { return f.name.env == name; }))
            unknown.push_back(name);
    }
    return unknown;
}

void apply_setting(config& c, std::string_view key, std::string_view text,
                   std::string_view origin) {
    const auto* f = detail::find_field(key);
    if (!f)
        throw config_error("unknown setting \"" + std::string(key) + "\"");
    set_from_text(c, *f, text, origin);
}

std::string setting_text(const config& c, std::string_view key) {
    const auto* f = detail::find_field(key);
    if (!f)
        throw config_error("unknown setting \"" + std::string(key) + "\"");
    const auto value = f->get(c);
    if (const auto* n = std::get_if<std::uint64_t>(&value))
        return std::to_string(*n);
    return std::get<std::string>(value);
}

void validate(const config& c) {
    // Each value again through its setter: catches settings changed in code, not only parsed.
    config scratch;
    for (const auto& f : detail::config_fields()) {
        try {
            f.set(scratch, f.get(c));
        } catch (const detail::bad_value& e) {
            const auto origin = c.origins.find(f.name.key);
            throw config_error(
                std::string(f.name.key) + ": " + e.what() +
                (origin == c.origins.end() ? "" : " (set by " + origin->second + ")"));
        }
    }
    if (!c.state.file.empty() && c.state.file == c.socket)
        throw config_error("state.file and socket name the same path: " + c.socket);
}

std::string to_json(const config& c) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::object();
    for (const auto& f : detail::config_fields()) {
        nlohmann::ordered_json* at = &doc;
        std::string_view key = f.name.key;
        for (auto dot = key.find('.'); dot != std::string_view::npos; dot = key.find('.')) {
            at = &(*at)[std::string(key.substr(0, dot))];
            key.remove_prefix(dot + 1);
        }
        if (f.name.is_object)
            (*at)[std::string(key)] = f.to_json(c);
        else
            std::visit([&](const auto& v) { (*at)[std::string(key)] = v; }, f.get(c));
    }
    return doc.dump(2) + "\n";
}

} // namespace metricsd::daemon

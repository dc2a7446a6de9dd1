#include "daemon/config/config_docs.hpp"

#include "daemon/config/config.hpp"
#include "daemon/config/config_fields.hpp"

#include <nlohmann/json.hpp>

namespace metricsd::daemon {
namespace {

using detail::config_field;
using ordered_json = nlohmann::ordered_json;

ordered_json default_of(const config_field& f) {
    const config defaults;
    if (f.name.is_object)
        return f.to_json(defaults);
    return std::visit([](const auto& v) { return ordered_json(v); }, f.get(defaults));
}

ordered_json leaf_schema(const config_field& f) {
    ordered_json entry = {{"type", f.name.is_object    ? "object"
                                   : f.name.is_integer ? "integer"
                                                       : "string"}};
    entry["default"] = default_of(f);
    std::string description =
        std::string(f.name.help) + ". Environment: " + std::string(f.name.env);
    if (!f.name.flag.empty())
        description += "; flag: " + std::string(f.name.flag);
    entry["description"] = description + ".";
    if (f.name.is_integer) {
        entry["minimum"] = f.name.min;
        entry["maximum"] = f.name.max;
    }
    if (!f.name.allowed.empty())
        entry["enum"] = f.name.allowed;
    if (f.doc.min_length != 0)
        entry["minLength"] = f.doc.min_length;
    if (f.doc.max_length != 0)
        entry["maxLength"] = f.doc.max_length;
    if (!f.doc.pattern.empty())
        entry["pattern"] = f.doc.pattern;
    if (f.schema) {
        const ordered_json object = f.schema(); // outlives the loop over its members
        for (const auto& [name, value] : object.items())
            if (name != "type")
                entry[name] = value;
    }
    return entry;
}

std::string_view section_description(std::string_view name) {
    for (const auto& s : detail::config_sections())
        if (s.name == name)
            return s.description;
    throw config_error("setting section \"" + std::string(name) + "\" has no description");
}

// Emphasis characters in plain help text would turn into Markdown formatting in the table.
std::string markdown_text(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '*' || c == '|' || c == '_')
            out += '\\';
        out += c;
    }
    return out;
}

std::string code(std::string_view text) {
    return "`" + std::string(text) + "`";
}

std::string values_of(const config_field& f) {
    if (f.name.is_integer)
        return std::to_string(f.name.min) + "–" + std::to_string(f.name.max);
    if (!f.name.allowed.empty()) {
        std::string list;
        for (auto a : f.name.allowed)
            list += (list.empty() ? "" : ", ") + code(a);
        return list;
    }
    if (f.doc.values.empty() && f.doc.max_length != 0)
        return std::to_string(f.doc.min_length) + "–" + std::to_string(f.doc.max_length) +
               " bytes";
    return std::string(f.doc.values);
}

} // namespace

std::string config_schema() {
    ordered_json schema = {
        {"$schema", "https://json-schema.org/draft/2020-12/schema"},
        {"title", "metricsd configuration"},
        {"description",
         "The file given to metricsd --config. Every key is optional; see config/README.md. "
         "Precedence: defaults < this file < METRICSD_* environment < command-line flags. "
         "Generated from daemon/config/config_fields.cpp."},
        {"type", "object"},
        {"additionalProperties", false},
        {"properties",
         {{"$schema",
           {{"type", "string"}, {"description", "Editors' hint; ignored by metricsd."}}}}},
    };
    for (const auto& f : detail::config_fields()) {
        ordered_json* properties = &schema["properties"];
        std::string_view key = f.name.key;
        for (auto dot = key.find('.'); dot != std::string_view::npos; dot = key.find('.')) {
            const std::string section(key.substr(0, dot));
            auto& object = (*properties)[section];
            if (object.is_null())
                object = {{"type", "object"},
                          {"additionalProperties", false},
                          {"description", section_description(section)},
                          {"properties", ordered_json::object()}};
            properties = &object["properties"];
            key.remove_prefix(dot + 1);
        }
        (*properties)[std::string(key)] = leaf_schema(f);
    }
    return schema.dump(2) + "\n";
}

std::string config_settings_table() {
    std::string out = "| key | environment variable | flag | default | values | meaning |\n"
                      "|---|---|---|---|---|---|\n";
    for (const auto& f : detail::config_fields()) {
        std::string meaning = markdown_text(f.name.help);
        if (!f.doc.notes.empty())
            meaning += "; " + std::string(f.doc.notes);
        out += "| " + code(f.name.key) + " | " + code(f.name.env) + " | " +
               (f.name.flag.empty() ? "—" : code(f.name.flag)) + " | " +
               code(default_of(f).dump()) + " | " + values_of(f) + " | " + meaning + " |\n";
    }
    return out;
}

std::string with_settings_table(std::string_view readme) {
    const auto begin = readme.find(settings_table_begin);
    const auto end = readme.find(settings_table_end);
    if (begin == std::string_view::npos || end == std::string_view::npos || end < begin)
        throw config_error("the README has no settings table markers");
    const auto after_begin = begin + settings_table_begin.size();
    return std::string(readme.substr(0, after_begin)) + config_settings_table() +
           std::string(readme.substr(end));
}

} // namespace metricsd::daemon

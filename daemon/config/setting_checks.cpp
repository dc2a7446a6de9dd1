#include "daemon/config/setting_checks.hpp"

#include "daemon/access/access_policy.hpp"
#include "daemon/config/host_port.hpp"
#include "daemon/config/redis_url.hpp"

#include <metricsd/protocol/names.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace metricsd::daemon::detail {

std::uint64_t integer(const setting_value& v, std::uint64_t lo, std::uint64_t hi) {
    const auto* n = std::get_if<std::uint64_t>(&v);
    if (!n || *n < lo || *n > hi)
        throw bad_value("expected an integer from " + std::to_string(lo) + " to " +
                        std::to_string(hi));
    return *n;
}

const std::string& text(const setting_value& v) {
    const auto* s = std::get_if<std::string>(&v);
    if (!s)
        throw bad_value("expected a string");
    return *s;
}

const std::string& one_of(const setting_value& v, const std::vector<std::string_view>& allowed) {
    const auto& s = text(v);
    if (std::find(allowed.begin(), allowed.end(), s) != allowed.end())
        return s;
    std::string list;
    for (auto a : allowed)
        list += (list.empty() ? "" : ", ") + std::string(a);
    throw bad_value("expected one of: " + list);
}

std::vector<std::string_view> backend_choices() {
    std::vector<std::string_view> names;
    for (const auto& [kind, name] : backend_names)
        names.push_back(name);
    return names;
}

backend_kind backend(const setting_value& v) {
    return *parse_backend(one_of(v, backend_choices()));
}

// A JSON number would be read as decimal 660, which is why the mode is a string.
unsigned socket_mode(const setting_value& v) {
    const auto& s = text(v);
    unsigned mode = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), mode, 8);
    if (s.size() < 3 || s.size() > 4 || ec != std::errc{} || end != s.data() + s.size() ||
        mode > 0777)
        throw bad_value("expected octal permissions as a string, like \"0660\"");
    return mode;
}

std::string format_mode(unsigned mode) {
    std::string s = "0000";
    for (int i = 3; i > 0; --i, mode >>= 3)
        s[static_cast<std::size_t>(i)] = static_cast<char>('0' + (mode & 7));
    return s;
}

// The host is resolved at bind time; here only its shape is checked. A missing port and a bad
// one keep their long-standing messages; the other shape errors add the parser's detail.
const std::string& listen_address(const setting_value& v) {
    const auto& s = text(v);
    const std::string expect = "expected HOST:PORT (e.g. 127.0.0.1:9477, [::1]:9477, 0.0.0.0:0)";
    try {
        parse_host_port(s, listen_address_rules);
    } catch (const host_port_error& e) {
        if (e.code == host_port_errc::bad_port)
            throw bad_value("port must be a number from 0 to 65535");
        if (e.code == host_port_errc::missing_port)
            throw bad_value(expect);
        throw bad_value(expect + ": " + e.what());
    }
    return s;
}

const std::string& socket_path(const setting_value& v) {
    const auto& s = text(v);
    if (s.empty() || s.size() > max_socket_path)
        throw bad_value("expected a socket path of 1 to " + std::to_string(max_socket_path) +
                        " bytes");
    return s;
}

// The backend's own parser decides, so the config accepts exactly what it can connect to.
const std::string& redis_url(const setting_value& v) {
    const auto& s = text(v);
    try {
        parse_redis_url(s);
    } catch (const std::invalid_argument& e) {
        std::string_view why = e.what();
        if (why.starts_with("--redis-url: ")) // the parser's CLI wording; we name the key
            why.remove_prefix(13);
        throw bad_value("expected redis://[[user]:password@]HOST[:PORT][/DB] or unix:///PATH: " +
                        std::string(why));
    }
    return s;
}

const std::string& state_path(const setting_value& v) {
    const auto& s = text(v);
    if (!s.empty() && s.back() == '/')
        throw bad_value("expected a file path (not a directory), or \"\" for no state file");
    return s;
}

const std::string& spool_dir(const setting_value& v) {
    return text(v); // any path: the directory is created at start if missing
}

const std::string& web_config_path(const setting_value& v) {
    const auto& s = text(v);
    if (!s.empty() && s.back() == '/')
        throw bad_value("expected a file path (not a directory), or \"\" for none");
    return s;
}

namespace {

/// Parses with every name accepted: the syntax is checked here, the names at start-up.
const principal_resolver any_name = [](principal_kind, std::string_view) {
    return std::optional<std::uint32_t>(0);
};

} // namespace

const std::string& principal_name(const setting_value& v) {
    const auto& s = text(v);
    if (s.find_first_of(",+@ ") != std::string::npos)
        throw bad_value("expected one user or group name or number, or \"\"");
    return s;
}

const std::string& principal_list(const setting_value& v) {
    const auto& s = text(v);
    try {
        parse_id_list(principal_kind::user, s, any_name);
    } catch (const access_error& e) {
        throw bad_value(std::string("expected names or numbers separated by commas: ") + e.what());
    }
    return s;
}

const std::string& family_owner_rules(const setting_value& v) {
    const auto& s = text(v);
    try {
        parse_family_owners(s, any_name);
    } catch (const access_error& e) {
        throw bad_value(std::string("expected GLOB=OWNER+@GROUP,...: ") + e.what());
    }
    return s;
}

series_ttl_policy series_ttl(const setting_value& v) {
    try {
        return parse_series_ttl(text(v));
    } catch (const std::invalid_argument& e) {
        throw bad_value(e.what());
    }
}

namespace {

std::string shown(const nlohmann::json& v) {
    std::string s = v.dump();
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

/// One TTL in the file: seconds, 0 to max_series_ttl_seconds.
std::chrono::seconds ttl_seconds(const nlohmann::json& v, const std::string& path) {
    if (!v.is_number_unsigned())
        throw bad_member(path, false, path + ": expected a non-negative integer, got " + shown(v));
    const auto n = v.get<std::uint64_t>();
    if (n > max_series_ttl_seconds)
        throw bad_member(path, false,
                         path + ": expected an integer from 0 to " +
                             std::to_string(max_series_ttl_seconds) + ", got " + shown(v));
    return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(n));
}

} // namespace

// Read here, member by member, so each mistake gets its own position; the result goes to the
// field's setter in the text form.
setting_value series_ttl_from_json(const nlohmann::json& v) {
    series_ttl_policy p;
    for (const auto& [member, value] : v.items()) {
        const std::string path = "series_ttl." + member;
        if (member == "default_s") {
            p.default_ttl = ttl_seconds(value, path);
        } else if (member == "families") {
            if (!value.is_object())
                throw bad_member(path, false,
                                 path + ": expected an object of family name: seconds, got " +
                                     shown(value));
            for (const auto& [name, ttl] : value.items()) {
                if (!protocol::is_valid_metric_name(name))
                    throw bad_member(path + "." + name, true,
                                     path + ": \"" + name + "\" is not a valid metric name");
                p.families.emplace(name, ttl_seconds(ttl, path + "." + name));
            }
        } else {
            throw bad_member(path, true,
                             "unknown key \"" + path +
                                 "\" (series_ttl has \"default_s\" and \"families\")");
        }
    }
    return to_string(p);
}

nlohmann::ordered_json series_ttl_to_json(const config& c) {
    nlohmann::ordered_json families = nlohmann::ordered_json::object();
    for (const auto& [name, ttl] : c.series_ttl.families)
        families[name] = ttl.count();
    return {{"default_s", c.series_ttl.default_ttl.count()}, {"families", std::move(families)}};
}

nlohmann::ordered_json series_ttl_schema() {
    using json = nlohmann::ordered_json;
    const json seconds = {{"type", "integer"}, {"minimum", 0}, {"maximum", max_series_ttl_seconds}};
    json default_s = seconds;
    default_s["default"] = 0;
    default_s["description"] = "TTL of every family not listed in families; 0: never.";
    json families = {
        {"type", "object"},
        {"default", json::object()},
        {"description",
         "TTL by family name; 0 keeps that family's series whatever default_s says."},
        // protocol::is_valid_metric_name, as a regular expression.
        {"propertyNames", {{"pattern", "^[a-zA-Z_:][a-zA-Z0-9_:]*$"}}},
        {"additionalProperties", seconds},
    };
    return {
        {"type", "object"},
        {"additionalProperties", false},
        {"properties", {{"default_s", std::move(default_s)}, {"families", std::move(families)}}}};
}

} // namespace metricsd::daemon::detail

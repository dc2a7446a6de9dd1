#include "daemon/config/config_fields.hpp"

#include "daemon/config/redis_url.hpp"
#include "daemon/store/series_expiry.hpp"

#include <metricsd/protocol/names.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace metricsd::daemon::detail {
namespace {

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

const std::string& one_of(const setting_value& v, std::initializer_list<std::string_view> allowed) {
    const auto& s = text(v);
    if (std::find(allowed.begin(), allowed.end(), s) != allowed.end())
        return s;
    std::string list;
    for (auto a : allowed)
        list += (list.empty() ? "" : ", ") + std::string(a);
    throw bad_value("expected one of: " + list);
}

// "0660" or "660": octal permission bits. A JSON number would be read as decimal 660, which is
// why the mode is a string.
unsigned parse_mode(const setting_value& v) {
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

// HOST:PORT, [IPv6]:PORT. The host is resolved at bind time; here only its shape is checked.
const std::string& listen_address(const setting_value& v) {
    const auto& s = text(v);
    const auto colon = s.rfind(':');
    const char* expect = "expected HOST:PORT (e.g. 127.0.0.1:9477, [::1]:9477, 0.0.0.0:0)";
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
        throw bad_value(expect);
    const std::string_view host(s.data(), colon);
    if (host.front() == '[' ? host.back() != ']' || host.size() < 3
                            : host.find(':') != std::string_view::npos)
        throw bad_value(expect);
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
    if (ec != std::errc{} || end != s.data() + s.size() || port > 65535)
        throw bad_value("port must be a number from 0 to 65535");
    return s;
}

// sun_path holds 108 bytes including the terminating NUL.
const std::string& socket_path(const setting_value& v) {
    const auto& s = text(v);
    if (s.empty() || s.size() > 107)
        throw bad_value("expected a socket path of 1 to 107 bytes");
    return s;
}

// The backend's own parser decides, so the config accepts exactly what it can connect to. Its
// messages never contain the password.
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

std::uint64_t to_u64(std::uint64_t v) {
    return v;
}
template <class Rep, class Period>
std::uint64_t to_u64(std::chrono::duration<Rep, Period> d) {
    return static_cast<std::uint64_t>(d.count());
}
void from_u64(std::uint64_t& out, std::uint64_t v) {
    out = v;
}
template <class Rep, class Period>
void from_u64(std::chrono::duration<Rep, Period>& out, std::uint64_t v) {
    out = std::chrono::duration<Rep, Period>(static_cast<Rep>(v));
}

/// A JSON number from lo to hi; `at` is a generic lambda returning the member (const or not).
template <class Access>
config_field integer_field(std::string_view key, std::string_view env, Access at, std::uint64_t lo,
                           std::uint64_t hi) {
    return {
        {key, env, true},
        [at](const config& c) -> setting_value { return to_u64(at(c)); },
        [at, lo, hi](config& c, const setting_value& v) { from_u64(at(c), integer(v, lo, hi)); }};
}

/// A JSON string accepted by `check` (which returns it or throws bad_value).
template <class Access, class Check>
config_field text_field(std::string_view key, std::string_view env, Access at, Check check) {
    return {{key, env, false},
            [at](const config& c) -> setting_value { return at(c); },
            [at, check](config& c, const setting_value& v) { at(c) = check(v); }};
}

config_field secret(config_field f) {
    f.secret = true;
    return f;
}

const std::string& backend_name(const setting_value& v) {
    return one_of(v, {"memory", "redis"});
}

const std::string& log_level(const setting_value& v) {
    return one_of(v, {"trace", "debug", "info", "warn", "error", "critical", "off"});
}

series_ttl_policy series_ttl(const setting_value& v) {
    try {
        return parse_series_ttl(text(v));
    } catch (const std::invalid_argument& e) {
        throw bad_value(e.what());
    }
}

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

// {"default_s": 0, "families": {"name": 600}}: read here, member by member, so each mistake
// gets its own position; the result goes to the field's setter in the text form.
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

} // namespace

const std::vector<config_field>& config_fields() {
    // `[](auto& c) -> auto&` serves both the const getter and the setter.
    static const std::vector<config_field> fields{
        text_field(
            "socket", "METRICSD_SOCKET", [](auto& c) -> auto& { return c.socket; }, socket_path),
        config_field{{"socket_mode", "METRICSD_SOCKET_MODE", false},
                     [](const config& c) -> setting_value { return format_mode(c.socket_mode); },
                     [](config& c, const setting_value& v) { c.socket_mode = parse_mode(v); }},
        text_field(
            "listen", "METRICSD_LISTEN", [](auto& c) -> auto& { return c.listen; }, listen_address),
        text_field(
            "backend", "METRICSD_BACKEND", [](auto& c) -> auto& { return c.backend; },
            backend_name),
        text_field(
            "log_level", "METRICSD_LOG_LEVEL", [](auto& c) -> auto& { return c.log_level; },
            log_level),
        integer_field(
            "shutdown_timeout_s", "METRICSD_SHUTDOWN_TIMEOUT_S",
            [](auto& c) -> auto& { return c.shutdown_timeout; }, 1, 3600),
        secret(text_field(
            "redis.url", "METRICSD_REDIS_URL", [](auto& c) -> auto& { return c.redis.url; },
            redis_url)),
        text_field(
            "redis.key_prefix", "METRICSD_REDIS_KEY_PREFIX",
            [](auto& c) -> auto& { return c.redis.key_prefix; }, text),
        integer_field(
            "redis.expire_key_time", "METRICSD_REDIS_EXPIRE_KEY_TIME",
            [](auto& c) -> auto& { return c.redis.expire_key_time; }, 1, 31'536'000),
        integer_field(
            "redis.flush_interval_ms", "METRICSD_REDIS_FLUSH_INTERVAL_MS",
            [](auto& c) -> auto& { return c.redis.flush_interval; }, 1, 60'000),
        integer_field(
            "redis.live_lease_ms", "METRICSD_REDIS_LIVE_LEASE_MS",
            [](auto& c) -> auto& { return c.redis.live_lease; }, 100, 3'600'000),
        integer_field(
            "limits.max_connections", "METRICSD_LIMITS_MAX_CONNECTIONS",
            [](auto& c) -> auto& { return c.limits.max_connections; }, 1, 1'000'000),
        integer_field(
            "limits.max_series", "METRICSD_LIMITS_MAX_SERIES",
            [](auto& c) -> auto& { return c.limits.max_series; }, 1, 100'000'000),
        integer_field(
            "limits.max_series_per_family", "METRICSD_LIMITS_MAX_SERIES_PER_FAMILY",
            [](auto& c) -> auto& { return c.limits.max_series_per_family; }, 1, 100'000'000),
        integer_field(
            "limits.max_families", "METRICSD_LIMITS_MAX_FAMILIES",
            [](auto& c) -> auto& { return c.limits.max_families; }, 1, 1'000'000),
        integer_field(
            "limits.max_label_value_length", "METRICSD_LIMITS_MAX_LABEL_VALUE_LENGTH",
            [](auto& c) -> auto& { return c.limits.max_label_value_length; }, 1, 4096),
        integer_field(
            "limits.max_frame", "METRICSD_LIMITS_MAX_FRAME",
            [](auto& c) -> auto& { return c.limits.max_frame; }, 4096, 1u << 20),
        text_field(
            "state.file", "METRICSD_STATE_FILE", [](auto& c) -> auto& { return c.state.file; },
            state_path),
        integer_field(
            "state.snapshot_interval_s", "METRICSD_STATE_SNAPSHOT_INTERVAL_S",
            [](auto& c) -> auto& { return c.state.snapshot_interval; }, 0, 86'400),
        config_field{{"series_ttl", "METRICSD_SERIES_TTL", false, true},
                     [](const config& c) -> setting_value { return to_string(c.series_ttl); },
                     [](config& c, const setting_value& v) { c.series_ttl = series_ttl(v); },
                     false,
                     series_ttl_from_json,
                     series_ttl_to_json},
    };
    return fields;
}

const config_field* find_field(std::string_view key) {
    for (const auto& f : config_fields())
        if (f.name.key == key)
            return &f;
    return nullptr;
}

} // namespace metricsd::daemon::detail

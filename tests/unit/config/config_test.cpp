// Config file, environment and command-line settings: every key, every error message, the
// precedence, and agreement between the loader, the example file, the schema and the README.
#include "config_fixture.hpp"
#include "daemon/config/config.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace metricsd::daemon {
namespace {

using json = nlohmann::json;

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string source_file(const std::string& relative) {
    return read(std::string(METRICSD_SOURCE_DIR) + "/" + relative);
}

using test::env_of;
using test::error_of;

std::string env_error(std::map<std::string, std::string> vars) {
    config c;
    try {
        apply_environment(c, env_of(std::move(vars)));
    } catch (const config_error& e) {
        return e.what();
    }
    return "";
}

bool is_config_key(std::string_view path) {
    const auto& keys = config_keys();
    return std::any_of(keys.begin(), keys.end(), [&](const auto& k) { return k.key == path; });
}

/// Leaf key paths of a schema's properties ("limits.max_series"), recursing into objects that
/// are sections (an object-valued key such as "series_ttl" is a leaf).
void schema_keys(const json& schema, const std::string& prefix, std::set<std::string>& out) {
    EXPECT_EQ(schema.value("additionalProperties", true), false) << "at '" << prefix << "'";
    for (const auto& [name, sub] : schema.at("properties").items()) {
        if (name == "$schema")
            continue;
        const std::string path = prefix.empty() ? name : prefix + "." + name;
        if (sub.value("type", "") == "object" && !is_config_key(path))
            schema_keys(sub, path, out);
        else
            out.insert(path);
    }
}

TEST(config, defaults_are_the_documented_ones) {
    const config c;
    EXPECT_EQ(c.socket, "/run/metricsd/ingest.sock");
    EXPECT_EQ(c.socket_mode, 0660u);
    EXPECT_EQ(c.listen, "127.0.0.1:9477");
    EXPECT_EQ(c.backend, backend_kind::memory);
    EXPECT_EQ(c.limits.max_frame, 1u << 20);
    EXPECT_EQ(c.state.file, "");
    EXPECT_NO_THROW(validate(c));
    EXPECT_TRUE(c.origins.empty());
}

TEST(config, example_file_sets_every_key_to_its_default) {
    const std::string path = std::string(METRICSD_SOURCE_DIR) + "/config/metricsd.json";
    const config c = load_config_file(path);
    EXPECT_EQ(c.origins.size(), config_keys().size());
    EXPECT_EQ(to_json(c), to_json(config{}));
    EXPECT_EQ(c.origins.at("limits.max_series"), path + ":20:5");
}

TEST(config, schema_and_loader_agree_on_keys_and_defaults) {
    const json schema = json::parse(source_file("config/metricsd.schema.json"));
    std::set<std::string> from_schema;
    schema_keys(schema, "", from_schema);
    std::set<std::string> from_loader;
    for (const auto& k : config_keys())
        from_loader.insert(std::string(k.key));
    EXPECT_EQ(from_schema, from_loader);
    const json defaults = json::parse(to_json(config{}));
    for (const auto& k : config_keys()) {
        std::string in_config, in_schema;
        std::stringstream parts{std::string(k.key)};
        for (std::string part; std::getline(parts, part, '.');) {
            in_config += "/" + part;
            in_schema += "/properties/" + part;
        }
        const auto& entry = schema.at(json::json_pointer(in_schema));
        EXPECT_EQ(entry.at("default"), defaults.at(json::json_pointer(in_config))) << k.key;
        EXPECT_EQ(entry.at("type"), k.is_object    ? "object"
                                    : k.is_integer ? "integer"
                                                   : "string")
            << k.key;
        // Range, values and names, key by key, against the table.
        if (k.is_integer) {
            EXPECT_EQ(entry.at("minimum"), k.min) << k.key;
            EXPECT_EQ(entry.at("maximum"), k.max) << k.key;
        } else {
            EXPECT_FALSE(entry.contains("minimum") || entry.contains("maximum")) << k.key;
        }
        if (!k.allowed.empty()) {
            EXPECT_EQ(entry.at("enum"),
                      json(std::vector<std::string>(k.allowed.begin(), k.allowed.end())))
                << k.key;
        } else {
            EXPECT_FALSE(entry.contains("enum")) << k.key;
        }
        const std::string description = entry.at("description");
        EXPECT_NE(description.find(std::string(k.env)), std::string::npos) << k.key;
        EXPECT_NE(description.find(std::string(k.help)), std::string::npos) << k.key;
        if (!k.flag.empty()) {
            EXPECT_NE(description.find(std::string(k.flag)), std::string::npos) << k.key;
        }
    }
}

TEST(config, readme_documents_every_key_and_variable) {
    const std::string readme = source_file("config/README.md");
    std::vector<std::string> missing;
    for (const auto& k : config_keys())
        for (auto name : {k.key, k.env, k.flag})
            if (!name.empty() && readme.find("`" + std::string(name) + "`") == std::string::npos)
                missing.emplace_back(name);
    EXPECT_EQ(missing, std::vector<std::string>{});
}

TEST(config, environment_names_follow_the_key_paths) {
    for (const auto& k : config_keys()) {
        std::string expected = "METRICSD_";
        for (char ch : k.key)
            expected += ch == '.' ? '_' : static_cast<char>(std::toupper(ch));
        EXPECT_EQ(k.env, expected);
    }
}

TEST(config, every_key_round_trips_through_the_file) {
    config c;
    c.socket = "/tmp/m.sock";
    c.socket_mode = 0600;
    c.listen = "[::1]:0";
    c.backend = backend_kind::redis;
    c.log_level = "debug";
    c.shutdown_timeout = std::chrono::seconds(3);
    c.redis = {"unix:///run/redis.sock", "app", std::chrono::seconds(60),
               std::chrono::milliseconds(250), std::chrono::milliseconds(2000)};
    c.limits = {10, 20, 30, 40, 50, 8192, 5, std::chrono::milliseconds(2000),
                std::chrono::seconds(60), 1u << 20, 64u << 20, 1000, 32u << 20};
    c.http = {1, 0, std::chrono::seconds(3), std::chrono::seconds(4), 8192};
    c.state = {"/var/lib/metricsd/state", std::chrono::seconds(0)};
    c.spool = {"/var/spool/metricsd", 1u << 20, std::chrono::seconds(0), "any"};
    c.series_ttl.default_ttl = std::chrono::seconds(600);
    c.socket_owner = "metricsd";
    c.socket_group = "1002";
    c.access = {"alice,1001", "metrics", "app_*=alice+@web", 100, 1000};
    c.web = {"/etc/metricsd/web.yml", "open"};
    const std::string text = to_json(c);
    const config back = parse_config(text, "round.json");
    EXPECT_EQ(to_json(back), text);
    EXPECT_EQ(back.origins.size(), config_keys().size());
    // Each key differs from its default, so the round trip proves that each one is read.
    const json changed = json::parse(text), defaults = json::parse(to_json(config{}));
    EXPECT_EQ(json::diff(defaults, changed).size(), config_keys().size());
}

TEST(config, partial_file_keeps_other_defaults_and_records_origins) {
    const config c = parse_config("{\n  \"limits\": {\"max_series\": 5}\n}\n", "p.json");
    EXPECT_EQ(c.limits.max_series, 5u);
    EXPECT_EQ(c.limits.max_families, 10'000u);
    EXPECT_TRUE(c.is_set("limits.max_series"));
    EXPECT_FALSE(c.is_set("limits.max_families"));
    EXPECT_EQ(c.origins.at("limits.max_series"), "p.json:2:14");
}

TEST(config, unknown_key_names_the_path_and_position) {
    EXPECT_EQ(error_of("{\n  \"limits\": {\n    \"max_series\": 5,\n    \"max_serie\": 6\n  }\n}"),
              "test.json:4:5: unknown key \"limits.max_serie\" "
              "(did you mean \"limits.max_series\"?)");
    EXPECT_EQ(error_of("{\"max_frame\": 4096}"),
              "test.json:1:2: unknown key \"max_frame\" (did you mean \"limits.max_frame\"?)");
    EXPECT_EQ(error_of("{\n\t\"colour\": 1}"), "test.json:2:2: unknown key \"colour\"");
}

TEST(config, wrong_type_names_the_path_position_and_value) {
    EXPECT_EQ(error_of("{\n  \"limits\": {\"max_series\": \"5\"}\n}"),
              "test.json:2:28: limits.max_series: expected a non-negative integer, got \"5\"");
    EXPECT_EQ(error_of("{\"limits\": {\"max_series\": -1}}"),
              "test.json:1:27: limits.max_series: expected a non-negative integer, got -1");
    EXPECT_EQ(error_of("{\"limits\": {\"max_series\": 2.5}}"),
              "test.json:1:27: limits.max_series: expected a non-negative integer, got 2.5");
    EXPECT_EQ(error_of("{\"listen\": 9477}"),
              "test.json:1:12: listen: expected a string, got 9477");
    EXPECT_EQ(error_of("{\"redis\": \"redis://x\"}"),
              "test.json:1:11: redis: expected an object, got \"redis://x\"");
    EXPECT_EQ(error_of("[1]"), "test.json:1:1: expected a JSON object at the top level, got [1]");
}

TEST(config, invalid_values_say_what_is_expected) {
    EXPECT_EQ(error_of("{\"limits\": {\"max_label_value_length\": 5000}}"),
              "test.json:1:39: limits.max_label_value_length: expected an integer from 1 to "
              "4096, got 5000");
    EXPECT_EQ(error_of("{\"redis\": {\"live_lease_ms\": 50}}"),
              "test.json:1:29: redis.live_lease_ms: expected an integer from 100 to 3600000, "
              "got 50");
    EXPECT_EQ(error_of("{\"socket_mode\": \"0999\"}"),
              "test.json:1:17: socket_mode: expected octal permissions as a string, like "
              "\"0660\", got \"0999\"");
    EXPECT_EQ(error_of("{\"socket_mode\": 660}"),
              "test.json:1:17: socket_mode: expected a string, got 660");
    EXPECT_EQ(error_of("{\"backend\": \"postgres\"}"),
              "test.json:1:13: backend: expected one of: memory, redis, got \"postgres\"");
    EXPECT_EQ(error_of("{\"listen\": \"localhost:70000\"}"),
              "test.json:1:12: listen: port must be a number from 0 to 65535, got "
              "\"localhost:70000\"");
    EXPECT_NE(error_of("{\"listen\": \"9477\"}").find("expected HOST:PORT"), std::string::npos);
    EXPECT_NE(error_of("{\"listen\": \"::1:9477\"}").find("expected HOST:PORT"), std::string::npos);
    // The shared HOST:PORT parser says which part is wrong.
    EXPECT_EQ(
        error_of("{\"listen\": \"::1:9477\"}"),
        "test.json:1:12: listen: expected HOST:PORT (e.g. 127.0.0.1:9477, [::1]:9477, "
        "0.0.0.0:0): host '::1' has a ':'; write an IPv6 address as [addr], got \"::1:9477\"");
    // An empty host or `*` is every interface, as Prometheus exporters write it.
    EXPECT_EQ(error_of("{\"listen\": \":9477\"}"), "");
    EXPECT_EQ(error_of("{\"listen\": \"*:9477\"}"), "");
    EXPECT_NE(error_of("{\"listen\": \"[]:9477\"}").find("the host is missing"), std::string::npos);
    EXPECT_NE(error_of("{\"listen\": \"[::1:9477\"}").find("closing ']'"), std::string::npos);
    EXPECT_NE(error_of("{\"listen\": \"h:\"}").find("expected HOST:PORT"), std::string::npos);
    EXPECT_NE(error_of("{\"listen\": \"h:-1\"}").find("port must be a number from 0 to 65535"),
              std::string::npos);
    EXPECT_EQ(error_of("{\"redis\": {\"url\": \"http://x\"}}"),
              "test.json:1:19: redis.url: expected redis://[[user]:password@]HOST[:PORT][/DB] or "
              "unix:///PATH: unknown scheme 'http' (known: redis, unix, redis+unix)");
    // A Redis URL may hold a password: its value is never echoed.
    const auto secret = env_error({{"METRICSD_REDIS_URL", "redis://:hunter2@h:99999"}});
    EXPECT_EQ(secret.find("hunter2"), std::string::npos) << secret;
    EXPECT_TRUE(secret.starts_with("METRICSD_REDIS_URL: expected redis://")) << secret;
    EXPECT_NE(error_of("{\"socket\": \"\"}").find("1 to 107 bytes"), std::string::npos);
    EXPECT_NE(error_of("{\"state\": {\"file\": \"/var/lib/\"}}").find("not a directory"),
              std::string::npos);
    EXPECT_EQ(error_of("{\"socket\": \"/x\", \"state\": {\"file\": \"/x\"}}"),
              "state.file and socket name the same path: /x");
}

TEST(config, accepted_edge_values) {
    EXPECT_EQ(error_of("{\"listen\": \"[::]:0\", \"socket_mode\": \"666\"}"), "");
    EXPECT_EQ(
        error_of("{\"limits\": {\"max_frame\": 4096}, \"state\": {\"snapshot_interval_s\": 0}}"),
        "");
    EXPECT_EQ(error_of("{\"$schema\": \"./metricsd.schema.json\"}"), "");
    EXPECT_EQ(parse_config("{\"socket_mode\": \"0640\"}", "m").socket_mode, 0640u);
}

TEST(config, syntax_errors_carry_line_and_column) {
    EXPECT_EQ(error_of("{\n  \"listen\": \"x:1\",\n  }"),
              "test.json:3:3: invalid JSON: syntax error while parsing object key - unexpected "
              "'}'; expected string literal");
    EXPECT_EQ(error_of(""), "test.json:1:1: invalid JSON: syntax error while parsing value - "
                            "unexpected end of input; expected '[', '{', or a literal");
}

TEST(config, duplicate_keys_are_errors) {
    EXPECT_EQ(error_of("{\"limits\": {\"max_series\": 1,\n \"max_series\": 2}}"),
              "test.json:2:2: duplicate key \"limits.max_series\"");
}

TEST(config, unreadable_file_names_the_path) {
    EXPECT_THROW(
        {
            try {
                load_config_file("/nonexistent/metricsd.json");
            } catch (const config_error& e) {
                EXPECT_STREQ(e.what(),
                             "cannot read config file /nonexistent/metricsd.json: No such file or "
                             "directory");
                throw;
            }
        },
        config_error);
}

TEST(config, environment_overrides_every_kind_of_key) {
    config c;
    apply_environment(c, env_of({{"METRICSD_SOCKET", "/tmp/e.sock"},
                                 {"METRICSD_SOCKET_MODE", "0600"},
                                 {"METRICSD_LISTEN", "0.0.0.0:9477"},
                                 {"METRICSD_BACKEND", "redis"},
                                 {"METRICSD_REDIS_URL", "redis://redis:6379/1"},
                                 {"METRICSD_REDIS_KEY_PREFIX", ""},
                                 {"METRICSD_LIMITS_MAX_SERIES", "77"},
                                 {"METRICSD_STATE_FILE", "/var/lib/metricsd/state"},
                                 {"METRICSD_STATE_SNAPSHOT_INTERVAL_S", "0"}}));
    EXPECT_EQ(c.socket, "/tmp/e.sock");
    EXPECT_EQ(c.socket_mode, 0600u);
    EXPECT_EQ(c.listen, "0.0.0.0:9477");
    EXPECT_EQ(c.backend, backend_kind::redis);
    EXPECT_EQ(c.redis.url, "redis://redis:6379/1");
    EXPECT_EQ(c.limits.max_series, 77u);
    EXPECT_EQ(c.state.file, "/var/lib/metricsd/state");
    EXPECT_EQ(c.state.snapshot_interval.count(), 0);
    EXPECT_EQ(c.origins.at("limits.max_series"), "METRICSD_LIMITS_MAX_SERIES");
    EXPECT_TRUE(c.is_set("redis.key_prefix")); // set, to the empty string
}

TEST(config, invalid_environment_values_name_the_variable) {
    EXPECT_EQ(env_error({{"METRICSD_LIMITS_MAX_SERIES", "lots"}}),
              "METRICSD_LIMITS_MAX_SERIES=\"lots\": expected an integer from 1 to 100000000");
    EXPECT_EQ(env_error({{"METRICSD_LIMITS_MAX_SERIES", "-3"}}),
              "METRICSD_LIMITS_MAX_SERIES=\"-3\": expected an integer from 1 to 100000000");
    EXPECT_EQ(env_error({{"METRICSD_LIMITS_MAX_FRAME", "100"}}),
              "METRICSD_LIMITS_MAX_FRAME=\"100\": expected an integer from 4096 to 1048576");
    EXPECT_EQ(env_error({{"METRICSD_BACKEND", "Memory"}}),
              "METRICSD_BACKEND=\"Memory\": expected one of: memory, redis");
    EXPECT_EQ(env_error({{"METRICSD_SOCKET_MODE", "rw"}}),
              "METRICSD_SOCKET_MODE=\"rw\": expected octal permissions as a string, like \"0660\"");
    EXPECT_EQ(env_error({{"METRICSD_LISTEN", ""}}),
              "METRICSD_LISTEN=\"\": expected HOST:PORT (e.g. 127.0.0.1:9477, [::1]:9477, "
              "0.0.0.0:0)");
}

TEST(config, precedence_is_defaults_then_file_then_environment_then_flags) {
    config c = parse_config(R"({"listen": "127.0.0.1:1", "log_level": "debug",
                                "limits": {"max_series": 10, "max_families": 20}})",
                            "f.json");
    apply_environment(
        c, env_of({{"METRICSD_LISTEN", "127.0.0.1:2"}, {"METRICSD_LIMITS_MAX_SERIES", "11"}}));
    apply_setting(c, "limits.max_series", "12", "--max-series");
    EXPECT_EQ(c.backend, backend_kind::memory); // default
    EXPECT_EQ(c.log_level, "debug");            // file
    EXPECT_EQ(c.limits.max_families, 20u);      // file
    EXPECT_EQ(c.listen, "127.0.0.1:2");         // environment over file
    EXPECT_EQ(c.limits.max_series, 12u);        // flag over environment over file
    EXPECT_EQ(c.origins.at("log_level"), "f.json:1:27");
    EXPECT_EQ(c.origins.at("listen"), "METRICSD_LISTEN");
    EXPECT_EQ(c.origins.at("limits.max_series"), "--max-series");
}

TEST(config, apply_setting_validates_like_the_other_sources) {
    config c;
    try {
        apply_setting(c, "limits.max_label_value_length", "0", "--max-label-value-length");
        FAIL() << "accepted 0";
    } catch (const config_error& e) {
        EXPECT_STREQ(e.what(),
                     "--max-label-value-length=\"0\": expected an integer from 1 to 4096");
    }
    EXPECT_THROW(apply_setting(c, "no.such", "1", "--x"), config_error);
    EXPECT_EQ(c.limits.max_label_value_length, 1024u); // unchanged after the failure
}

TEST(config, validate_catches_values_set_in_code) {
    config c;
    c.limits.max_frame = 10;
    c.origins["limits.max_frame"] = "--max-frame";
    try {
        validate(c);
        FAIL() << "accepted max_frame 10";
    } catch (const config_error& e) {
        EXPECT_STREQ(e.what(), "limits.max_frame: expected an integer from 4096 to 1048576 "
                               "(set by --max-frame)");
    }
}

TEST(config, unknown_environment_variables_are_reported) {
    EXPECT_EQ(unknown_environment({"PATH=/bin", "METRICSD_LISTEN=x", "METRICSD_CONFIG=/c.json",
                                   "METRICSD_LIMITS_MAX_SERIE=5", "METRICSD_SOCKET"}),
              std::vector<std::string>{"METRICSD_LIMITS_MAX_SERIE"});
}

} // namespace
} // namespace metricsd::daemon

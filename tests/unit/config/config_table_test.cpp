// The table of settings itself: unique names, help for every key, ranges and values that the
// loader enforces, the backend enum, and the text form flags take.
#include "daemon/config/config.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <string_view>

namespace metricsd::daemon {
namespace {

using json = nlohmann::json;

TEST(config_table, table_ranges_and_values_are_what_the_loader_enforces) {
    for (const auto& k : config_keys()) {
        const std::string key(k.key);
        config c;
        if (k.is_integer) {
            const std::string expected = "--x=\"" + std::to_string(k.max + 1) +
                                         "\": expected an integer from " + std::to_string(k.min) +
                                         " to " + std::to_string(k.max);
            EXPECT_NO_THROW(apply_setting(c, key, std::to_string(k.min), "--x")) << key;
            EXPECT_NO_THROW(apply_setting(c, key, std::to_string(k.max), "--x")) << key;
            try {
                apply_setting(c, key, std::to_string(k.max + 1), "--x");
                ADD_FAILURE() << key << " accepted max + 1";
            } catch (const config_error& e) {
                EXPECT_EQ(e.what(), expected);
            }
            if (k.min > 0) {
                EXPECT_THROW(apply_setting(c, key, std::to_string(k.min - 1), "--x"), config_error)
                    << key;
            }
        }
        for (auto value : k.allowed)
            EXPECT_NO_THROW(apply_setting(c, key, value, "--x")) << key << " " << value;
        if (!k.allowed.empty()) {
            EXPECT_THROW(apply_setting(c, key, "bogus", "--x"), config_error) << key;
        }
    }
}

TEST(config_table, every_flag_and_variable_is_unique) {
    std::set<std::string_view> flags, variables;
    for (const auto& k : config_keys()) {
        EXPECT_TRUE(variables.insert(k.env).second) << k.env;
        if (!k.flag.empty()) {
            EXPECT_TRUE(k.flag.starts_with("--")) << k.flag;
            EXPECT_TRUE(flags.insert(k.flag).second) << k.flag;
        }
        EXPECT_FALSE(k.help.empty()) << k.key;
        if (k.usage_checked) {
            EXPECT_TRUE(k.is_integer || !k.allowed.empty()) << k.key << ": nothing to check";
        }
    }
}

TEST(config_table, backend_is_parsed_once_into_an_enum) {
    for (const auto& [kind, name] : backend_names) {
        EXPECT_EQ(to_string(kind), name);
        EXPECT_EQ(parse_backend(name), kind);
        EXPECT_EQ(parse_config("{\"backend\": \"" + std::string(name) + "\"}", "b").backend, kind);
    }
    EXPECT_EQ(parse_backend("Redis"), std::nullopt);
    EXPECT_EQ(parse_backend(""), std::nullopt);
    config c;
    c.backend = backend_kind::redis;
    EXPECT_EQ(setting_text(c, "backend"), "redis");
    EXPECT_EQ(json::parse(to_json(c)).at("backend"), "redis");
}

TEST(config_table, setting_text_is_the_form_flags_take) {
    const config c;
    EXPECT_EQ(setting_text(c, "socket_mode"), "0660");
    EXPECT_EQ(setting_text(c, "limits.max_frame"), "1048576");
    EXPECT_EQ(setting_text(c, "series_ttl"), "");
    EXPECT_THROW(setting_text(c, "no.such"), config_error);
    // Every default, given back as text, is accepted and changes nothing.
    for (const auto& k : config_keys()) {
        config back;
        apply_setting(back, k.key, setting_text(c, k.key), "--x");
        EXPECT_EQ(to_json(back), to_json(c)) << k.key;
    }
}

// Found by fuzz/config_parser: a flag or variable holding bytes that are not UTF-8 (here
// 0xF7) was accepted, then to_json (--check-config) threw nlohmann's type_error 316.
TEST(config_table, text_that_is_not_utf8_is_refused_like_in_a_file) {
    for (const auto& k : config_keys()) {
        config c;
        try {
            apply_setting(c, k.key, "/tmp/s\xf7o", "--flag");
            ADD_FAILURE() << k.key << " accepted invalid UTF-8";
        } catch (const config_error& e) {
            EXPECT_EQ(std::string(e.what()), "--flag: is not valid UTF-8") << k.key;
        }
        EXPECT_FALSE(c.is_set(k.key)) << k.key;
    }
    config c;
    const char* value = "127.0.0.1:\xf7";
    EXPECT_THROW(apply_environment(c, [&](const char* name) {
                     return std::string_view(name) == "METRICSD_LISTEN" ? value : nullptr;
                 }),
                 config_error);
    apply_setting(c, "socket", "/run/m\xc3\xa9trics.sock", "--socket"); // UTF-8 is fine
    EXPECT_EQ(setting_text(c, "socket"), "/run/m\xc3\xa9trics.sock");
    EXPECT_NE(to_json(c).find("/run/m\xc3\xa9trics.sock"), std::string::npos);
}

} // namespace
} // namespace metricsd::daemon

// The documents derived from the table of settings: the checked-in schema and README table are
// exactly what the table gives, and each row says what the loader does.
#include "daemon/config/config.hpp"
#include "daemon/config/config_docs.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace metricsd::daemon {
namespace {

using json = nlohmann::json;

std::string source_file(const std::string& relative) {
    std::ifstream in(std::string(METRICSD_SOURCE_DIR) + "/" + relative, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

constexpr const char* regenerate = "the table of settings changed: run "
                                   "`build/bin/metricsd_config_docs --update .` and commit";

TEST(config_docs, checked_in_schema_is_the_generated_one) {
    EXPECT_EQ(source_file("config/metricsd.schema.json"), config_schema()) << regenerate;
}

TEST(config_docs, checked_in_readme_table_is_the_generated_one) {
    const std::string readme = source_file("config/README.md");
    ASSERT_NE(readme.find(settings_table_begin), std::string::npos);
    ASSERT_NE(readme.find(settings_table_end), std::string::npos);
    EXPECT_EQ(with_settings_table(readme), readme) << regenerate;
}

TEST(config_docs, readme_rows_give_variable_flag_default_and_range) {
    const json defaults = json::parse(to_json(config{}));
    const std::string table = config_settings_table();
    for (const auto& k : config_keys()) {
        const std::string start = "| `" + std::string(k.key) + "` |";
        const auto at = table.find(start);
        ASSERT_NE(at, std::string::npos) << k.key;
        const std::string row = table.substr(at, table.find('\n', at) - at);
        std::string pointer;
        std::stringstream parts{std::string(k.key)};
        for (std::string part; std::getline(parts, part, '.');)
            pointer += "/" + part;
        const std::string default_text = defaults.at(json::json_pointer(pointer)).dump();
        for (const std::string& cell :
             {"`" + std::string(k.env) + "`",
              k.flag.empty() ? "—" : "`" + std::string(k.flag) + "`", "`" + default_text + "`"})
            EXPECT_NE(row.find("| " + cell + " |"), std::string::npos) << row << "\nlacks " << cell;
        if (k.is_integer) {
            EXPECT_NE(row.find(std::to_string(k.min) + "–" + std::to_string(k.max)),
                      std::string::npos)
                << row;
        }
        for (auto value : k.allowed)
            EXPECT_NE(row.find("`" + std::string(value) + "`"), std::string::npos) << row;
    }
}

TEST(config_docs, schema_accepts_the_example_keys_only) {
    // Every section and key of the example is in the schema, and nothing else.
    const json schema = json::parse(config_schema());
    const json example = json::parse(source_file("config/metricsd.json"));
    for (const auto& [name, value] : example.items()) {
        ASSERT_TRUE(schema.at("properties").contains(name)) << name;
        const auto& entry = schema.at("properties").at(name);
        if (value.is_object() && entry.contains("properties") && name != "series_ttl") {
            for (const auto& [member, ignored] : value.items())
                EXPECT_TRUE(entry.at("properties").contains(member)) << name << "." << member;
        }
    }
    EXPECT_EQ(schema.at("properties").size(), example.size());
}

TEST(config_docs, missing_markers_are_an_error) {
    EXPECT_THROW(with_settings_table("# no table here\n"), config_error);
}

} // namespace
} // namespace metricsd::daemon

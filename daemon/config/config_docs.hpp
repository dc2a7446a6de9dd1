// The documents derived from the table of settings (config_fields.cpp): the JSON schema of the
// config file and the settings table of config/README.md. Both are checked in; config_test
// fails when a checked-in copy differs from what the table gives, and metricsd_config_docs
// rewrites them. Pure.
#pragma once

#include <string>
#include <string_view>

namespace metricsd::daemon {

/// config/metricsd.schema.json: JSON Schema draft 2020-12, 2-space indented, ending in "\n".
std::string config_schema();

/// The Markdown table of every setting: key, environment variable, flag, default, values and
/// meaning, one row per setting in documentation order, ending in "\n".
std::string config_settings_table();

/// The lines around the generated table in config/README.md.
inline constexpr std::string_view settings_table_begin =
    "<!-- settings table: generated from daemon/config/config_fields.cpp by "
    "metricsd_config_docs; edit the table there -->\n";
inline constexpr std::string_view settings_table_end = "<!-- end of settings table -->\n";

/// `readme` with the text between the two marker lines replaced by config_settings_table().
/// Throws config_error when a marker is missing.
std::string with_settings_table(std::string_view readme);

} // namespace metricsd::daemon

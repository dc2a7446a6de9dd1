// Command line + config file + environment -> the daemon's settings (CLI11). Start-up code:
// errors throw.
#pragma once

#include "daemon/app/app.hpp"
#include "daemon/config/config.hpp"

#include <functional>
#include <string>
#include <vector>

namespace metricsd::daemon {

struct cli_result {
    config settings;                   ///< defaults < --config file < METRICSD_* < flags, validated
    bool check_config = false;         ///< --check-config: print `settings` and exit
    std::string config_path;           ///< the file read (--config or $METRICSD_CONFIG), or empty
    /// For the log once it is set up, or stderr with --check-config: unknown METRICSD_*
    /// variables, series_ttl entries that can never match a family.
    std::vector<std::string> warnings;
};

/// Thrown when parsing ends the program: --help/--version (code 0) or a usage error (code 1,
/// whatever CLI11's own code); CLI11 has already printed the message.
struct cli_exit {
    int code = 0;
};

/// Parse the flags, then load the config file (--config, else $METRICSD_CONFIG), apply the
/// environment (`env`, std::getenv fits) and the flags actually given. Invalid settings throw
/// config_error with the operator's message.
cli_result parse_command_line(int argc, char** argv,
                              const std::function<const char*(const char*)>& env);

/// What the daemon runs with. Throws config_error for settings this build cannot serve.
app_options to_app_options(const config& c);

} // namespace metricsd::daemon

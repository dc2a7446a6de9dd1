// Command-line options -> app_options (CLI11). Start-up code: errors throw.
#pragma once

#include "daemon/app.hpp"

#include <string>

namespace metricsd::daemon {

struct cli_result {
    app_options options;
    std::string log_level = "info";
};

/// Thrown when parsing ends the program: --help/--version (code 0) or a usage error (code 2);
/// CLI11 has already printed the message.
struct cli_exit {
    int code = 0;
};

cli_result parse_command_line(int argc, char** argv);

} // namespace metricsd::daemon

// metricsd: read the configuration (flags, config file, environment), set up logging, run the
// daemon. Exit codes: 0 clean stop or valid --check-config, 1 start-up failure (invalid
// configuration, a command-line usage error, socket in use, ...), 2 final state snapshot
// failed (app::run).
#include "daemon/app/app.hpp"
#include "daemon/app/cli.hpp"
#include "daemon/app/logging.hpp"
#include "daemon/app/socket_directory.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    using namespace metricsd::daemon;
    // Writes to a vanished peer must fail with EPIPE, not kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);
    cli_result cli;
    app_options options;
    try {
        cli = parse_command_line(argc, argv, [](const char* name) { return std::getenv(name); });
        options = to_app_options(cli.settings);
        options.config_file = cli.config_path;
    } catch (const cli_exit& e) {
        return e.code; // --help, --version, or a usage error already printed
    } catch (const config_error& e) {
        // Before logging is set up (the log level is part of the configuration).
        std::cerr << "metricsd: " << e.what() << '\n';
        return 1;
    }
    if (cli.check_config) {
        // The same warnings a start would log, so a check shows everything a start would say.
        for (const auto& w : cli.warnings)
            std::cerr << "metricsd: warning: " << w << '\n';
        // A socket whose directory no user could get is an error; one this user cannot make
        // (systemd's RuntimeDirectory or root may) a warning. A directory the daemon will
        // create is fine as it is.
        const auto dir = plan_socket_directory(cli.settings.socket);
        if (dir.what == socket_directory_plan::action::refuse) {
            std::cerr << "metricsd: " << (dir.depends_on_user ? "warning: " : "") << "socket "
                      << cli.settings.socket << ": " << dir.reason << '\n';
            if (!dir.depends_on_user)
                return 1;
        }
        std::cout << to_json(cli.settings);
        return 0;
    }
    setup_logging(cli.settings.log_level);
    for (const auto& w : cli.warnings)
        spdlog::warn("{}", w);
    try {
        app daemon(options);
        return daemon.run();
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
}

// metricsd: parse the command line, set up logging, run the daemon. Exit codes: 0 clean stop,
// 1 start-up failure (bad option, socket in use, ...).
#include "daemon/app.hpp"
#include "daemon/cli.hpp"
#include "daemon/logging.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <exception>

int main(int argc, char** argv) {
    using namespace metricsd::daemon;
    // Writes to a vanished peer must fail with EPIPE, not kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);
    cli_result cli;
    try {
        cli = parse_command_line(argc, argv);
    } catch (const cli_exit& e) {
        return e.code; // --help, --version, or a usage error already printed
    }
    setup_logging(cli.log_level);
    try {
        app daemon(cli.options);
        return daemon.run();
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
}

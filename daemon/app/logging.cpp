#include "daemon/app/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace metricsd::daemon {

void setup_logging(const std::string& level) {
    auto logger = spdlog::stderr_logger_st("metricsd");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
    if (std::getenv("JOURNAL_STREAM") != nullptr)
        spdlog::set_pattern("%l: %v");
    else
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    // Errors should reach the terminal or journal at once, not when a buffer fills.
    spdlog::flush_on(spdlog::level::debug);
}

} // namespace metricsd::daemon

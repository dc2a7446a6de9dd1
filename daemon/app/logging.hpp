// spdlog set-up for the daemon: one stderr logger; no timestamps under journald.
#pragma once

#include <string>

namespace metricsd::daemon {

/// Log to stderr at `level` ("info", "debug", ...). Under systemd (JOURNAL_STREAM set) lines
/// carry no timestamp, because journald adds its own.
void setup_logging(const std::string& level);

} // namespace metricsd::daemon

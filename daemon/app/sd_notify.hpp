// systemd's readiness/watchdog notifications and socket activation, spoken directly (the
// protocols are a datagram and three environment variables; no libsystemd needed).
// Start-up and io_context thread only. Outside systemd every function is a harmless no-op.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <system_error>
#include <vector>

namespace metricsd::daemon {

/// Looks an environment variable up; returns nullptr when unset (std::getenv fits).
using env_lookup = std::function<const char*(const char*)>;

/// Sends sd_notify(3) messages to $NOTIFY_SOCKET (a path, or "@name" for an abstract socket).
class systemd_notifier {
public:
    /// Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once; `pid` is this process's.
    systemd_notifier(const env_lookup& env, pid_t pid);

    /// True when started by systemd with Type=notify (NOTIFY_SOCKET set).
    bool enabled() const noexcept { return !socket_.empty(); }

    /// Send newline-separated assignments, e.g. "READY=1\nSTATUS=serving". Returns the send
    /// error (the caller logs it; a lost notification must not stop the daemon); no-op and
    /// success when not enabled.
    std::error_code notify(std::string_view state) const;

    /// The WatchdogSec= interval when the watchdog is on for this process; send "WATCHDOG=1" at
    /// half of it.
    std::optional<std::chrono::microseconds> watchdog_interval() const noexcept {
        return watchdog_;
    }

private:
    std::string socket_;
    std::optional<std::chrono::microseconds> watchdog_;
};

/// A socket passed by socket activation: its descriptor and its FileDescriptorName=.
struct activated_socket {
    int fd = -1;
    std::string name;
};

/// The sockets systemd passed to `pid` (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES; descriptors
/// start at 3), marked close-on-exec. Empty when none were passed to this process. Malformed
/// variables throw std::runtime_error (start-up error).
std::vector<activated_socket> activated_sockets(const env_lookup& env, pid_t pid);

} // namespace metricsd::daemon

// The daemon's side of systemd's Type=notify protocol: READY=1 once serving, STOPPING=1 at
// shutdown, WATCHDOG=1 pings while running. Outside systemd (no NOTIFY_SOCKET) it does
// nothing. io_context thread only.
#pragma once

#include "daemon/net/net.hpp"
#include "daemon/app/sd_notify.hpp"

#include <string>
#include <string_view>

namespace metricsd::daemon {

class service_notifier {
public:
    /// Reads NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID from the process environment.
    explicit service_notifier(net::io_context& ioc);

    /// Both sockets listen: READY=1 with a STATUS line, and start the watchdog pings.
    void ready(std::string_view status);
    /// STOPPING=1 and cancel the pings so ioc.run() can return. Idempotent.
    void stopping();

private:
    net::awaitable<void> ping_watchdog();
    /// Send, logging a failure: a lost notification must not stop the daemon.
    void send(std::string_view state) const;

    systemd_notifier notifier_;
    net::steady_timer timer_;
    bool stopped_ = false;
};

} // namespace metricsd::daemon

#include "daemon/app/service_notify.hpp"

#include "daemon/net/spawn.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <unistd.h>

namespace metricsd::daemon {

service_notifier::service_notifier(net::io_context& ioc)
    : notifier_([](const char* name) { return std::getenv(name); }, ::getpid()), timer_(ioc) {}

void service_notifier::ready(std::string_view status) {
    send("READY=1\nSTATUS=" + std::string(status));
    if (notifier_.watchdog_interval())
        spawn_logged(timer_.get_executor(), ping_watchdog(), "watchdog pings");
}

void service_notifier::stopping() {
    if (stopped_)
        return;
    stopped_ = true;
    timer_.cancel();
    send("STOPPING=1\nSTATUS=draining connections");
}

void service_notifier::send(std::string_view state) const {
    if (const auto ec = notifier_.notify(state))
        spdlog::warn("systemd notification failed: {}", ec.message());
}

net::awaitable<void> service_notifier::ping_watchdog() {
    // Half the interval, as sd_watchdog_enabled(3) advises: one late ping is not a restart.
    const auto period = *notifier_.watchdog_interval() / 2;
    // stopped_ too: stopping() may come before the first wait exists to be cancelled.
    while (!stopped_) {
        send("WATCHDOG=1");
        timer_.expires_after(period);
        boost::system::error_code ec;
        co_await timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (ec)
            co_return;
    }
}

} // namespace metricsd::daemon

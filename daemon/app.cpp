#include "daemon/app.hpp"

#include "daemon/config.hpp"
#include "daemon/exposition.hpp"
#include "daemon/http_server.hpp"
#include "daemon/sd_notify.hpp"
#include "daemon/spawn.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <sys/socket.h>
#include <unistd.h>

namespace metricsd::daemon {

namespace {

/// The first listening Unix socket systemd passed us (LISTEN_FDS), or -1.
int activated_ingest_fd() {
    const auto sockets =
        activated_sockets([](const char* name) { return std::getenv(name); }, ::getpid());
    for (const auto& s : sockets) {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
            addr.ss_family == AF_UNIX)
            return s.fd;
    }
    return -1;
}

} // namespace

app::app(app_options options)
    : options_(std::move(options)), store_(options_.limits), signals_(ioc_, SIGINT, SIGTERM),
      reload_signals_(ioc_, SIGHUP), shutdown_deadline_(ioc_) {
    options_.ingest.activated_fd = activated_ingest_fd();
    ingest_ = std::make_unique<ingest_listener>(ioc_, store_, options_.ingest);
    http_handler handler{[this](exposition_format f, std::string& out) { render(store_, f, out); },
                         [this] { return !stopping_; }};
    http_ = std::make_unique<http_server>(ioc_, options_.listen, std::move(handler));
    // After both binds succeeded, so a second daemon refused at bind never touches the state
    // file of the one already running; before run(), so no worker writes into the store first.
    if (!options_.state_file.empty()) {
        restore_state_file(options_.state_file, store_);
        snapshots_ = std::make_unique<snapshotter>(ioc_, store_, options_.state_file,
                                                   options_.snapshot_interval);
    }
}

app::~app() = default;

int app::run() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec)
            return;
        spdlog::info("received {}; draining connections and exiting",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
        shutdown();
    });
    wait_for_reload();
    ingest_->start();
    if (snapshots_)
        snapshots_->start();
    announce_ready();
    ioc_.run();
    // The sessions have drained (or the deadline passed): everything clients sent is counted.
    if (snapshots_ && snapshots_->write_now())
        spdlog::info("state saved to {}", options_.state_file);
    spdlog::info("metricsd stopped");
    return 0;
}

void app::announce_ready() {
    const auto ep = http_->local_endpoint();
    const auto status = fmt::format("ingest socket {} http {}:{} backend {}", ingest_->path(),
                                    ep.address().to_string(), ep.port(), options_.backend);
    spdlog::info("metricsd ready: {}", status);
    systemd_.ready(status);
}

void app::shutdown() {
    if (stopping_)
        return;
    stopping_ = true;
    systemd_.stopping();
    boost::system::error_code ec;
    signals_.cancel(ec);
    reload_signals_.cancel(ec);
    ingest_->close();
    http_->close();
    if (snapshots_)
        snapshots_->stop();
    // Closing the sockets lets every coroutine finish and ioc_.run() return on its own; the
    // deadline only guards against a peer that keeps a session from ending.
    spawn_logged(ioc_, watch_shutdown(), "shutdown watch");
}

void app::wait_for_reload() {
    reload_signals_.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec)
            return; // cancelled at shutdown
        reload();
        wait_for_reload();
    });
}

void app::reload() {
    if (options_.config_file.empty()) {
        spdlog::info("SIGHUP: no config file to reload");
        return;
    }
    try {
        const config c = load_config_file(options_.config_file);
        if (options_.log_level_overridden) {
            spdlog::info("SIGHUP: {} read; log level stays as set by environment or flag",
                         options_.config_file);
            return;
        }
        spdlog::set_level(spdlog::level::from_str(c.log_level));
        spdlog::info("SIGHUP: {} reloaded; log level {}", options_.config_file, c.log_level);
    } catch (const std::exception& e) {
        // A broken edit must not take a running daemon down: keep the old settings.
        spdlog::error("SIGHUP: {} not reloaded: {}", options_.config_file, e.what());
    }
}

net::awaitable<void> app::watch_shutdown() {
    const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_timeout;
    while (ingest_->open_connections() + http_->stats().connections_open > 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            spdlog::warn("shutdown deadline passed with connections open; stopping");
            ioc_.stop();
            co_return;
        }
        shutdown_deadline_.expires_after(std::chrono::milliseconds(10));
        co_await shutdown_deadline_.async_wait(net::use_awaitable);
    }
}

} // namespace metricsd::daemon

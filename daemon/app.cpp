#include "daemon/app.hpp"

#include "daemon/exposition.hpp"
#include "daemon/http_server.hpp"
#include "daemon/spawn.hpp"

#include <spdlog/spdlog.h>

#include <csignal>

namespace metricsd::daemon {

app::app(app_options options)
    : options_(std::move(options)), store_(options_.limits), signals_(ioc_, SIGINT, SIGTERM),
      shutdown_deadline_(ioc_) {
    ingest_ = std::make_unique<ingest_listener>(ioc_, store_, options_.ingest);
    http_handler handler{[this](exposition_format f, std::string& out) { render(store_, f, out); },
                         [this] { return !stopping_; }};
    http_ = std::make_unique<http_server>(ioc_, options_.listen, std::move(handler));
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
    ingest_->start();
    const auto ep = http_->local_endpoint();
    spdlog::info("metricsd ready: ingest socket {} http {}:{} backend {}", ingest_->path(),
                 ep.address().to_string(), ep.port(), options_.backend);
    ioc_.run();
    spdlog::info("metricsd stopped");
    return 0;
}

void app::shutdown() {
    if (stopping_)
        return;
    stopping_ = true;
    boost::system::error_code ec;
    signals_.cancel(ec);
    ingest_->close();
    http_->close();
    // Closing the sockets lets every coroutine finish and ioc_.run() return on its own; the
    // deadline only guards against a peer that keeps a session from ending.
    spawn_logged(ioc_, watch_shutdown(), "shutdown watch");
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

// The daemon process: one io_context on one thread owning the store, the ingest socket and the
// HTTP server; signals; graceful shutdown.
#pragma once

#include "daemon/ingest_listener.hpp"
#include "daemon/store.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace metricsd::daemon {

class http_server;

/// Everything the daemon is configured with (CLI today, config file later).
struct app_options {
    ingest_options ingest;
    store_limits limits;
    std::string listen = "127.0.0.1:9477"; ///< HTTP HOST:PORT; port 0 picks a free one
    std::string backend = "memory";
    std::chrono::seconds shutdown_timeout{10}; ///< hard stop if draining takes longer
};

/// Construct (binds both sockets, throws on failure), then run() until SIGTERM/SIGINT.
class app {
public:
    explicit app(app_options options);
    ~app();
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    /// Serve until a stop signal, then drain and return the process exit code (0).
    int run();

private:
    void shutdown();
    net::awaitable<void> watch_shutdown();

    app_options options_;
    // Declared before the io_context: coroutine frames (destroyed with it) refer to the store.
    store store_;
    net::io_context ioc_{1};
    net::signal_set signals_;
    net::steady_timer shutdown_deadline_;
    std::unique_ptr<ingest_listener> ingest_;
    std::unique_ptr<http_server> http_;
    bool stopping_ = false;
};

} // namespace metricsd::daemon

// The daemon process: one io_context on one thread owning the store, the ingest socket and the
// HTTP server; signals; graceful shutdown.
#pragma once

#include "daemon/app/service_notify.hpp"
#include "daemon/config/backend_kind.hpp"
#include "daemon/exposition/exposition.hpp"
#include "daemon/http/http_handler.hpp"
#include "daemon/http/http_session.hpp"
#include "daemon/ingest/ingest_listener.hpp"
#include "daemon/ingest/spool_reader.hpp"
#include "daemon/net/log_limiter.hpp"
#include "daemon/persistence/state_file.hpp"
#include "daemon/redis/redis_backend.hpp"
#include "daemon/store/store.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace metricsd::daemon {

class http_server;
class web_guard;
struct self_metrics_snapshot;

/// Everything the daemon runs with; built from the configuration by to_app_options (cli.hpp).
struct app_options {
    ingest_options ingest;
    store_limits limits;
    std::string listen = "127.0.0.1:9477"; ///< HTTP HOST:PORT; port 0 picks a free one
    http_limits http;                      ///< connections, timeouts
    scrape_render_options http_render;     ///< /metrics slices and pacing
    backend_kind backend = backend_kind::memory;
    redis_backend_options redis;                ///< backend "redis" only
    std::chrono::seconds shutdown_timeout{10};  ///< hard stop if draining takes longer
    std::string state_file;                     ///< memory backend's state; empty: none
    std::chrono::seconds snapshot_interval{60}; ///< 0: snapshot only at shutdown
    series_ttl_policy series_ttl;               ///< series expiry; off by default
    spool_options spool;                        ///< what exiting clients left (protocol/SPOOL.md)
    /// SIGHUP re-reads this file and applies its log level, unless the environment or a flag
    /// set the level (those win, as at start-up). Empty: SIGHUP only logs that it has no file.
    std::string config_file;
    bool log_level_overridden = false;
    /// The exporter-style web config (TLS, basic auth, headers); empty: plain HTTP, open.
    std::string web_config_file;
    bool healthz_open = false; ///< /healthz served without credentials

};

/// Exit code of run() when the final state snapshot could not be written (the daemon stopped,
/// but counts since the last good snapshot are lost). 1 is start-up failure (main.cpp).
inline constexpr int exit_final_snapshot_failed = 2;

/// Construct (binds both sockets, throws on failure), then run() until SIGTERM/SIGINT.
class app {
public:
    explicit app(app_options options);
    ~app();
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    /// Serve until a stop signal, then drain and return the process exit code: 0, or
    /// exit_final_snapshot_failed.
    int run();

private:
    /// Log the ready line (tests and operators wait for it) and tell systemd.
    void announce_ready();
    void shutdown();
    net::awaitable<void> watch_shutdown();
    void wait_for_reload();
    void reload();
    /// Series expiry: sweep the store every sweep_period(options_.series_ttl), until shutdown.
    void schedule_expiry();
    /// One scrape: the backend's families (the store's, or a fresh Redis snapshot's), then
    /// the daemon's own, then the trailer; or why Redis cannot be read now. On the memory
    /// backend it completes at once.
    net::awaitable<scrape_outcome> scrape(exposition_format f);
    /// The daemon's own families and the trailer, after the backend's.
    void render_self_and_trailer(exposition_format f, std::string& out) const;
    self_metrics_snapshot self_snapshot() const;

    app_options options_;
    /// For metricsd_start_time_seconds: Unix time, wall clock (a restart shows as a jump).
    double start_time_seconds_ = 0;
    // Declared before the io_context: coroutine frames (destroyed with it) refer to the store.
    store store_;
    net::io_context ioc_{1};
    net::signal_set signals_;
    net::signal_set reload_signals_;
    net::steady_timer shutdown_deadline_;
    net::steady_timer expiry_timer_;
    /// A series_ttl entry that misspells a family declared (one line a minute at most).
    log_limiter ttl_miss_log_{std::chrono::minutes(1)};
    std::unique_ptr<ingest_listener> ingest_;
    std::shared_ptr<web_guard> web_; ///< null without a web config file
    std::unique_ptr<http_server> http_;
    std::unique_ptr<snapshotter> snapshots_; ///< null without a state file
    std::size_t state_restore_skipped_series_ = 0; ///< over the limits at start
    std::unique_ptr<redis_backend> redis_;   ///< null on the memory backend
    std::unique_ptr<spool_reader> spool_;
    service_notifier systemd_{ioc_};
    bool stopping_ = false;
};

} // namespace metricsd::daemon

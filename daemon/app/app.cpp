#include "daemon/app/app.hpp"

#include "daemon/app/sd_notify.hpp"
#include "daemon/app/socket_directory.hpp"
#include "daemon/config/config.hpp"
#include "daemon/exposition/exposition.hpp"
#include "daemon/exposition/self_metrics.hpp"
#include "daemon/exposition/store_exposition.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/http/web_guard.hpp"
#include "daemon/redis/redis_self_metrics.hpp"
#include "daemon/net/spawn.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <sys/socket.h>
#include <unistd.h>

namespace metricsd::daemon {

namespace {

/// The memory backend's scrape body: the store in slices through a cursor (scrape_broadcast.hpp
/// says why slices), then `tail` (the daemon's own families and the trailer) in the last one,
/// so they count everything up to the end of the render.
class store_scrape final : public exposition_stream {
public:
    store_scrape(const store& s, exposition_format f, std::function<void(std::string&)> tail)
        : store_(s), format_(f), tail_(std::move(tail)) {}

    bool next(std::string& out, std::size_t budget) override {
        if (!render_families_slice(store_, format_, cursor_, out, budget))
            return false;
        tail_(out);
        return true;
    }

private:
    const store& store_;
    exposition_format format_;
    std::function<void(std::string&)> tail_;
    store_cursor cursor_;
};

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
      reload_signals_(ioc_, SIGHUP), shutdown_deadline_(ioc_), expiry_timer_(ioc_) {
    start_time_seconds_ =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    store_.set_series_ttl(options_.series_ttl); // before the state file fills the store
    // A family name is only known when a client declares it: a TTL entry with a typo is
    // accepted by --check-config and would silently not apply. Say so when the family comes.
    if (!options_.series_ttl.families.empty())
        store_.set_family_hook([this](const family& f) {
            const auto meant = options_.series_ttl.near_miss(f.spec().name);
            if (meant.empty())
                return;
            if (const auto suppressed = ttl_miss_log_.admit())
                spdlog::warn("series_ttl names \"{}\", not \"{}\" (declared now): its series get "
                             "the default TTL of {} s ({} more such families not logged)",
                             meant, f.spec().name, f.ttl().count(), *suppressed);
        });
    options_.ingest.activated_fd = activated_ingest_fd();
    if (options_.ingest.activated_fd < 0) // an adopted socket's directory is systemd's
        if (const auto made = prepare_socket_directory(options_.ingest.socket_path); !made.empty())
            spdlog::info("created {} (mode 0755) for the ingest socket", made);
    ingest_ = std::make_unique<ingest_listener>(ioc_, store_, options_.ingest);
    if (options_.backend == backend_kind::redis)
        redis_ = std::make_unique<redis_backend>(ioc_, store_, options_.redis);
    http_handler_options http_options;
    http_options.render = options_.http_render;
    http_handler handler{[this](exposition_format f) { return scrape(f); },
                         [this] {
                             return !stopping_ && (!redis_ || redis_->readable()) &&
                                    (!snapshots_ || snapshots_->healthy());
                         },
                         http_options};
    if (!options_.web_config_file.empty())
        web_ = std::make_shared<web_guard>(options_.web_config_file, options_.healthz_open);
    http_ = std::make_unique<http_server>(ioc_, options_.listen, std::move(handler),
                                          options_.http, web_);
    // After both binds succeeded, so a second daemon refused at bind never touches the state
    // file of the one already running; before run(), so no worker writes into the store first.
    if (redis_ && !options_.state_file.empty()) {
        spdlog::warn("state file {} ignored: the redis backend keeps totals in Redis",
                     options_.state_file);
    } else if (!options_.state_file.empty()) {
        prepare_state_directory(options_.state_file);
        state_restore_skipped_series_ = restore_state_file(options_.state_file, store_);
        snapshots_ = std::make_unique<snapshotter>(ioc_, store_, options_.state_file,
                                                   options_.snapshot_interval);
    }
    // After the state file: the spool's ops continue from the restored totals, and before the
    // first snapshot, so a file is never both in a snapshot and still in the directory.
    spool_ = std::make_unique<spool_reader>(ioc_, store_, options_.spool);
    spool_->prepare();
    spool_->scan();
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
    spool_->start();
    if (snapshots_)
        snapshots_->start();
    if (redis_)
        redis_->start();
    if (options_.series_ttl.enabled()) {
        // The Redis backend's flush ledger told the store that it consumes the changes.
        spdlog::info("series expiry on ({}); sweeping every {} s", to_string(options_.series_ttl),
                     sweep_period(options_.series_ttl).count());
        schedule_expiry();
    }
    announce_ready();
    ioc_.run();
    // The sessions have drained (or the deadline passed): everything clients sent is counted.
    if (snapshots_ && !snapshots_->write_now()) {
        // Counts since the last good snapshot are lost: say so to systemd and scripts too.
        spdlog::error("final state snapshot to {} failed: {}; exiting with code {}",
                      options_.state_file, snapshots_->stats().last_error,
                      exit_final_snapshot_failed);
        spdlog::info("metricsd stopped");
        return exit_final_snapshot_failed;
    }
    if (snapshots_)
        spdlog::info("state saved to {}", options_.state_file);
    spdlog::info("metricsd stopped");
    return 0;
}

void app::announce_ready() {
    const auto ep = http_->local_endpoint();
    const auto status = fmt::format("ingest socket {} http {}:{} backend {}", ingest_->path(),
                                    ep.address().to_string(), ep.port(),
                                    to_string(options_.backend));
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
    expiry_timer_.cancel();
    spool_->stop();
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

void app::schedule_expiry() {
    // expires_after from the end of each sweep: periods are never shorter than planned, so a
    // series never expires early, however late the loop runs the handler.
    expiry_timer_.expires_after(sweep_period(options_.series_ttl));
    expiry_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopping_)
            return; // cancelled at shutdown
        const std::size_t before = store_.series_count();
        if (const auto expired = store_.expire_idle_series(std::chrono::steady_clock::now()))
            spdlog::debug("series expiry: {} idle series expired, {} erased; {} left", expired,
                          before - store_.series_count(), store_.series_count());
        schedule_expiry();
    });
}

void app::reload() {
    if (web_)
        web_->reload(); // logs its own outcome; a bad file keeps the one in force
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

net::awaitable<scrape_outcome> app::scrape(exposition_format f) {
    scrape_outcome out;
    if (!redis_) {
        out.body = std::make_unique<store_scrape>(
            store_, f, [this, f](std::string& body) { render_self_and_trailer(f, body); });
        co_return out;
    }
    const auto asked = std::chrono::steady_clock::now();
    const redis_snapshot snap = co_await redis_->snapshot();
    out.waited = std::chrono::steady_clock::now() - asked;
    if (!snap.view) {
        out.unavailable = snap.error;
        co_return out;
    }
    // The Redis view renders at once (it is a copy already, not the live store); the body
    // is then streamed in slices like the store's.
    std::string body;
    snap.view->render(f, body);
    render_self_and_trailer(f, body);
    out.body = std::make_unique<string_exposition>(std::move(body));
    co_return out;
}

void app::render_self_and_trailer(exposition_format f, std::string& out) const {
    render_self_metrics(self_snapshot(), f, out);
    if (redis_)
        render_redis_self_metrics(redis_->stats(), f, out);
    render_trailer(f, out);
}

self_metrics_snapshot app::self_snapshot() const {
    self_metrics_snapshot s;
    s.version = METRICSD_VERSION;
    s.start_time_seconds = start_time_seconds_;
    const ingest_stats in = ingest_->stats();
    s.ingest_bytes = in.bytes;
    s.ingest_frames = in.frames;
    s.ingest_ops_applied = in.ops_applied;
    s.ingest_ops_rejected = in.ops_rejected;
    s.ingest_ops_dropped = in.ops_dropped;
    s.ingest_syncs = in.syncs;
    for (std::size_t code = 0; code < in.errors.size(); ++code)
        if (in.errors[code] != 0)
            s.ingest_errors.emplace_back(
                protocol::to_string(static_cast<protocol::error_code>(code)), in.errors[code]);
    s.ingest_connections_open = ingest_->open_connections();
    s.ingest_connections_total = ingest_->totals().connections_total;
    s.ingest_connections_rejected = ingest_->totals().connections_rejected;
    s.ingest_accept_errors = ingest_->totals().accept_errors;
    s.client_dropped_ops = ingest_->client_dropped_ops();
    s.client_dropped_ops_exited = ingest_->totals().closed.client_dropped_ops;
    s.series = store_.series_count();
    s.families = store_.families().size();
    s.workers = store_.live_workers();
    s.store_bytes = store_.bytes();
    s.store_max_bytes = store_.limits().max_store_bytes;
    s.store_budget_refusals = store_.budget_refusals();
    s.series_expiry = options_.series_ttl.enabled();
    s.series_expired = store_.expired_series_total();
    const http_stats http = http_->stats();
    for (std::size_t r = 0; r < http_route_count; ++r)
        for (std::size_t i = 0; i < http_counted_codes.size(); ++i)
            s.http_requests.push_back({route_name(static_cast<http_route>(r)),
                                       http_counted_codes[i], http.handler.requests[r][i]});
    s.http_connections_accepted = http.connections_accepted;
    s.http_connections_rejected = http.connections_rejected;
    s.http_connections_rejected_per_peer = http.connections_rejected_per_peer;
    s.http_connections_evicted = http.connections_evicted;
    s.http_accept_errors = http.accept_errors;
    if (web_) {
        s.http_unauthorized = web_->stats().unauthorized;
        s.http_tls_handshake_failures = web_->stats().tls_handshake_failures;
        s.web_config_reload_failures = web_->stats().reload_failures;
    }
    s.http_gzip_responses = http.handler.gzip_responses;
    s.scrapes = http.handler.scrapes;
    s.scrape_errors = http.handler.scrape_errors;
    s.scrape_seconds_total = http.handler.scrape_seconds_total;
    s.scrapes_cut = http.handler.scrapes_cut;
    s.scrape_renders = http.handler.render.renders;
    s.scrape_render_pauses = http.handler.render.paced_waits;
    s.scrape_response_bytes = http.handler.render.bytes_in_flight;
    if (snapshots_) {
        s.state_file = true;
        s.state_snapshot_failures = snapshots_->stats().failures;
        s.state_snapshot_last_success_seconds = snapshots_->stats().last_success_seconds;
        s.state_restore_skipped_series = state_restore_skipped_series_;
    }
    const spool_stats& spool = spool_->stats();
    s.spool_files_applied = spool.files_applied;
    s.spool_ops_applied = spool.ops_applied;
    s.spool_rejected_owner = spool.rejected_owner;
    s.spool_rejected_size = spool.rejected_size;
    s.spool_rejected_format = spool.rejected_format;
    s.spool_read_errors = spool.read_errors;
    return s;
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
    // Every op the workers sent is in the store now: the last flush takes all of it to Redis.
    if (redis_) {
        const auto drained = co_await redis_->drain(deadline);
        if (drained == redis_backend::drain_result::written)
            spdlog::info("redis: final flush written");
        else if (drained == redis_backend::drain_result::not_needed)
            spdlog::warn("redis: not reachable at shutdown; no change was waiting, so nothing "
                         "is lost (this daemon's live gauge key, if any, expires with its lease)");
    }
}

} // namespace metricsd::daemon

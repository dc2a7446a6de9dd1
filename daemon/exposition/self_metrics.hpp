// The daemon's own metrics (metricsd_*), rendered after the store's families on every scrape.
// Pure: the caller copies the numbers into a snapshot, so the writer needs no sockets or store
// and tests can pin its exact output. The Redis backend adds its own families the same way
// (daemon/redis/redis_self_metrics.hpp), through self_metrics_writer.
#pragma once

#include "daemon/exposition/exposition.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsd::daemon {

/// Responses of the HTTP endpoint with one route and status code.
struct http_request_count {
    std::string_view route; ///< "/metrics", ..., "other"
    unsigned code = 0;      ///< 0: a status outside http_counted_codes, rendered as "other"
    std::uint64_t count = 0;
};

/// Every number the self-metrics show, copied at scrape time. Zero counts may be left in the
/// vectors: the writer skips them, so a series appears only once something happened.
struct self_metrics_snapshot {
    std::string version;
    double start_time_seconds = 0; ///< Unix time the daemon started

    std::uint64_t ingest_bytes = 0;
    std::uint64_t ingest_frames = 0;
    std::uint64_t ingest_ops_applied = 0;
    std::uint64_t ingest_ops_rejected = 0;
    std::uint64_t ingest_ops_dropped = 0;
    std::uint64_t ingest_syncs = 0;
    /// ERROR frames sent, by error code name ("bad_magic", ...), in any order.
    std::vector<std::pair<std::string_view, std::uint64_t>> ingest_errors;
    std::uint64_t ingest_connections_open = 0;
    std::uint64_t ingest_connections_total = 0;
    std::uint64_t ingest_connections_rejected = 0;
    std::uint64_t ingest_accept_errors = 0;
    /// Ops clients dropped themselves (CLIENT_STATS): (pid, count) of open connections that
    /// reported any, in any order, one entry per pid; and the sum over closed connections.
    std::vector<std::pair<std::int64_t, std::uint64_t>> client_dropped_ops;
    std::uint64_t client_dropped_ops_exited = 0;

    std::uint64_t series = 0;
    std::uint64_t families = 0;
    std::uint64_t workers = 0;        ///< live worker connections
    std::uint64_t store_bytes = 0;     ///< by the store's cost model (store_cost.hpp)
    std::uint64_t store_max_bytes = 0; ///< max_store_bytes
    std::uint64_t store_budget_refusals = 0; ///< families and series refused over it
    bool series_expiry = false;       ///< series_ttl is on: show metricsd_series_expired_total
    std::uint64_t series_expired = 0; ///< series dropped or reset by series expiry

    std::vector<http_request_count> http_requests; ///< in any order
    std::uint64_t http_connections_accepted = 0;   ///< rejected ones included
    std::uint64_t http_connections_rejected = 0;
    std::uint64_t http_connections_rejected_per_peer = 0; ///< over the per-address cap
    std::uint64_t http_connections_evicted = 0; ///< idle kept-alive ones closed for a new one
    std::uint64_t http_accept_errors = 0;
    std::uint64_t http_unauthorized = 0;           ///< 401s from the web config's basic auth
    std::uint64_t http_tls_handshake_failures = 0; ///< connections that failed the handshake
    std::uint64_t web_config_reload_failures = 0;  ///< a changed web config that did not load
    std::uint64_t http_gzip_responses = 0;
    std::uint64_t scrapes = 0;
    std::uint64_t scrape_errors = 0; ///< scrapes whose rendering failed (answered 500)
    double scrape_seconds_total = 0; ///< completed scrapes only: the current one is unfinished
    std::uint64_t scrapes_cut = 0;    ///< streamed bodies cut: reader gone or stalled
    std::uint64_t scrape_renders = 0; ///< renders run; concurrent scrapes share one
    std::uint64_t scrape_render_pauses = 0; ///< pauses between slices for ingest's share
    std::uint64_t scrape_response_bytes = 0; ///< slice buffers held by renders now

    bool state_file = false; ///< memory backend with a state file: show the snapshot families
    std::uint64_t state_snapshot_failures = 0;
    double state_snapshot_last_success_seconds = 0; ///< Unix time; 0: none since start
    std::uint64_t state_restore_skipped_series = 0; ///< left out at start: over the limits

    // The spool (protocol/SPOOL.md): files applied, and files not applied by reason.
    std::uint64_t spool_files_applied = 0;
    std::uint64_t spool_ops_applied = 0;
    std::uint64_t spool_rejected_owner = 0;
    std::uint64_t spool_rejected_size = 0;
    std::uint64_t spool_rejected_format = 0;
    std::uint64_t spool_read_errors = 0;
};

/// Append the metricsd_* families (HELP, TYPE, samples) without a trailer: call it after the
/// store's families (or the Redis view's); the Redis backend's own and render_trailer() follow.
void render_self_metrics(const self_metrics_snapshot& s, exposition_format f, std::string& out);

/// Writes families of the daemon's own metrics, each named by its sample name (every counter
/// ends in `_total`). Label names must outlive the family's writer: keep them in static arrays.
class self_metrics_writer {
public:
    self_metrics_writer(exposition_format f, std::string& out) noexcept : f_(f), out_(out) {}

    /// A family of one unlabelled counter or gauge sample.
    void single(std::string_view name, std::string_view help, protocol::metric_type type,
                double v) const;
    /// A labelled family: its HELP and TYPE now, its samples through the writer returned.
    family_writer labelled(std::string_view name, std::string_view help, protocol::metric_type type,
                           text_list label_names) const;

private:
    exposition_format f_;
    std::string& out_;
};

} // namespace metricsd::daemon

#include "daemon/exposition/self_metrics.hpp"

#include <algorithm>
#include <string_view>
#include <tuple>

namespace metricsd::daemon {

using protocol::metric_type;

void self_metrics_writer::single(std::string_view name, std::string_view help, metric_type type,
                                 double v) const {
    family_writer(family_desc(name, help, type), f_, out_).value({}, v);
}

family_writer self_metrics_writer::labelled(std::string_view name, std::string_view help,
                                            metric_type type, text_list label_names) const {
    return family_writer(family_desc(name, help, type, label_names), f_, out_);
}

namespace {

constexpr std::string_view version_label[] = {"version"};
constexpr std::string_view code_label[] = {"code"};
constexpr std::string_view route_code_labels[] = {"route", "code"};
constexpr std::string_view reason_labels[] = {"reason"};
constexpr std::string_view pid_label[] = {"pid"};

void write_process(const self_metrics_writer& w, const self_metrics_snapshot& s) {
    // Label values here are version strings, route paths and code names; escaping keeps a
    // version like `1.0"rc` from breaking the line anyway.
    w.labelled("metricsd_build_info", "Always 1; the version label names the running build.",
               metric_type::gauge, version_label)
        .value({s.version}, 1);
    w.single("metricsd_start_time_seconds", "Unix time the daemon started, in seconds.",
             metric_type::gauge, s.start_time_seconds);
}

void write_ingest_errors(const self_metrics_writer& w, const self_metrics_snapshot& s) {
    auto errors = s.ingest_errors;
    std::erase_if(errors, [](const auto& e) { return e.second == 0; });
    std::sort(errors.begin(), errors.end());
    auto fam =
        w.labelled("metricsd_ingest_errors_total",
                   "ERROR frames sent to clients, by error code. Series refused by a limit or for "
                   "a bad label value count here as family_series_limit, total_series_limit and "
                   "invalid_label_value.",
                   metric_type::counter, code_label);
    for (const auto& [code, n] : errors)
        fam.value({code}, static_cast<double>(n));
}

// A closing connection's count moves from its pid's sample to "exited" within one scrape, so
// the family's sum never goes down (a client's count is cumulative per connection, so nothing
// is counted twice when it reconnects; PROTOCOL.md 4.8).
void write_client_dropped(const self_metrics_writer& w, const self_metrics_snapshot& s) {
    auto live = s.client_dropped_ops;
    std::sort(live.begin(), live.end());
    auto fam = w.labelled("metricsd_client_dropped_ops_total",
                          "Ops clients reported dropping instead of sending (e.g. no memory to "
                          "fold a series), by pid of open connections; closed connections are "
                          "summed under pid exited.",
                          metric_type::counter, pid_label);
    for (const auto& [pid, n] : live)
        fam.value({std::to_string(pid)}, static_cast<double>(n));
    fam.value({"exited"}, static_cast<double>(s.client_dropped_ops_exited));
}

void write_ingest(const self_metrics_writer& w, const self_metrics_snapshot& s) {
    constexpr auto counter = metric_type::counter;
    w.single("metricsd_ingest_bytes_total", "Bytes received on the ingest socket.", counter,
             s.ingest_bytes);
    w.single("metricsd_ingest_frames_total", "Frames received on the ingest socket.", counter,
             s.ingest_frames);
    w.single("metricsd_ingest_ops_applied_total", "Ops applied to the store.", counter,
             s.ingest_ops_applied);
    w.single("metricsd_ingest_ops_rejected_total",
             "Ops refused with an ERROR frame (invalid for the type or value).", counter,
             s.ingest_ops_rejected);
    w.single("metricsd_ingest_ops_dropped_total",
             "Ops dropped silently: their handle's declaration was already refused.", counter,
             s.ingest_ops_dropped);
    w.single("metricsd_ingest_syncs_total", "SYNC frames answered.", counter, s.ingest_syncs);
    write_ingest_errors(w, s);
    // Not plain metricsd_ingest_connections: in OpenMetrics that family name belongs to the
    // counter metricsd_ingest_connections_total, and a scrape may not declare it twice.
    w.single("metricsd_ingest_connections_open", "Ingest connections open now.", metric_type::gauge,
             s.ingest_connections_open);
    w.single("metricsd_ingest_connections_total", "Ingest connections accepted.", counter,
             s.ingest_connections_total);
    w.single("metricsd_ingest_connections_rejected_total",
             "Ingest connections refused over the connection limit.", counter,
             s.ingest_connections_rejected);
    w.single("metricsd_ingest_accept_errors_total",
             "Failed accepts on the ingest socket (e.g. EMFILE, ENFILE), retried after a pause.",
             counter, s.ingest_accept_errors);
    write_client_dropped(w, s);
}

void write_store(const self_metrics_writer& w, const self_metrics_snapshot& s) {
    constexpr auto gauge = metric_type::gauge;
    w.single("metricsd_series", "Series in the store.", gauge, s.series);
    w.single("metricsd_families", "Metric families in the store.", gauge, s.families);
    w.single("metricsd_workers", "Worker connections alive now.", gauge, s.workers);
    w.single("metricsd_store_bytes",
             "Bytes the store holds: families, series and label values, as its byte budget "
             "counts them.",
             gauge, s.store_bytes);
    w.single("metricsd_store_max_bytes", "The store's byte budget (max_store_bytes).", gauge,
             s.store_max_bytes);
    w.single("metricsd_store_budget_refusals_total",
             "New families and series refused because the store's byte budget was spent "
             "(sent as total_series_limit).",
             metric_type::counter, s.store_budget_refusals);
    if (s.series_expiry)
        w.single("metricsd_series_expired_total",
                 "Series that saw no op for their family's series_ttl: dropped, or reset and "
                 "hidden while a worker still holds them.",
                 metric_type::counter, s.series_expired);
}

void write_http_requests(const self_metrics_writer& w, const self_metrics_snapshot& s) {
    auto requests = s.http_requests;
    std::erase_if(requests, [](const auto& r) { return r.count == 0; });
    std::sort(requests.begin(), requests.end(), [](const auto& a, const auto& b) {
        return std::tie(a.route, a.code) < std::tie(b.route, b.code);
    });
    auto fam =
        w.labelled("metricsd_http_requests_total", "HTTP responses, by route and status code.",
                   metric_type::counter, route_code_labels);
    for (const auto& r : requests) {
        // Codes outside the counted set share one slot, labelled "other" rather than "0".
        const std::string code = r.code == 0 ? "other" : std::to_string(r.code);
        fam.value({r.route, code}, static_cast<double>(r.count));
    }
}

void write_http(const self_metrics_writer& w, const self_metrics_snapshot& s) {
    constexpr auto counter = metric_type::counter;
    write_http_requests(w, s);
    w.single("metricsd_http_connections_accepted_total",
             "HTTP connections accepted, including those closed over the connection limit.",
             counter, s.http_connections_accepted);
    w.single("metricsd_http_connections_rejected_total",
             "HTTP connections closed unserved over the connection limit.", counter,
             s.http_connections_rejected);
    w.single("metricsd_http_connections_rejected_per_peer_total",
             "HTTP connections closed unserved over the per-address connection limit.", counter,
             s.http_connections_rejected_per_peer);
    w.single("metricsd_http_connections_evicted_total",
             "Idle kept-alive HTTP connections closed to make room for a new one.", counter,
             s.http_connections_evicted);
    w.single("metricsd_http_accept_errors_total",
             "Failed accepts on the HTTP socket (e.g. EMFILE, or a client that gave up while "
             "queued).",
             counter, s.http_accept_errors);
    w.single("metricsd_http_unauthorized_total",
             "HTTP requests answered 401 by the web config's basic auth (no, wrong or unchecked "
             "credentials).",
             counter, s.http_unauthorized);
    w.single("metricsd_http_tls_handshake_failures_total",
             "HTTP connections closed because their TLS handshake failed.", counter,
             s.http_tls_handshake_failures);
    w.single("metricsd_web_config_reload_failures_total",
             "Changes of the web config file that did not load (the previous one stays).",
             counter, s.web_config_reload_failures);
    w.single("metricsd_http_gzip_responses_total", "HTTP responses sent gzip-encoded.", counter,
             s.http_gzip_responses);
    w.single("metricsd_scrapes_total", "Scrapes rendered, before this one.", counter, s.scrapes);
    w.single("metricsd_scrape_errors_total", "Scrapes whose rendering failed, answered 500.",
             counter, s.scrape_errors);
    w.single("metricsd_scrape_duration_seconds_total",
             "Seconds spent rendering and compressing scrapes, before this one.", counter,
             s.scrape_seconds_total);
    w.single("metricsd_scrapes_cut_total",
             "Streamed /metrics bodies cut before their end: reader gone or stalled, or the "
             "render failed.",
             counter, s.scrapes_cut);
    w.single("metricsd_scrape_renders_total",
             "Renders of /metrics; concurrent scrapes of one format and encoding share one.",
             counter, s.scrape_renders);
    w.single("metricsd_scrape_render_pauses_total",
             "Pauses a render made between two slices so that ingest keeps its share of the "
             "event loop.",
             counter, s.scrape_render_pauses);
    w.single("metricsd_scrape_response_bytes",
             "Bytes of rendered /metrics slices held by renders in flight now.",
             metric_type::gauge, s.scrape_response_bytes);
}

void write_state_snapshots(const self_metrics_writer& w, const self_metrics_snapshot& s) {
    if (!s.state_file)
        return;
    w.single("metricsd_state_snapshot_failures_total",
             "State snapshots that could not be written (periodic and final).",
             metric_type::counter, s.state_snapshot_failures);
    w.single("metricsd_state_snapshot_last_success_time_seconds",
             "Unix time of the last state snapshot written, in seconds; 0 if none since start.",
             metric_type::gauge, s.state_snapshot_last_success_seconds);
    w.single("metricsd_state_restore_skipped_series_total",
             "Series of the state file not restored at start because they did not fit the "
             "limits.",
             metric_type::counter, s.state_restore_skipped_series);
}

void write_spool(const self_metrics_writer& w, const self_metrics_snapshot& s) {
    constexpr auto counter = metric_type::counter;
    w.single("metricsd_spool_files_applied_total",
             "Spool files (ops of clients that exited while the daemon was unreachable) applied.",
             counter, s.spool_files_applied);
    w.single("metricsd_spool_ops_applied_total", "Op records applied from spool files.", counter,
             s.spool_ops_applied);
    auto fam = w.labelled("metricsd_spool_files_rejected_total",
                          "Spool files not applied: another uid's (owner), over "
                          "spool.max_file_bytes (size), or not decoding (format).",
                          counter, reason_labels);
    fam.value({"owner"}, static_cast<double>(s.spool_rejected_owner));
    fam.value({"size"}, static_cast<double>(s.spool_rejected_size));
    fam.value({"format"}, static_cast<double>(s.spool_rejected_format));
    w.single("metricsd_spool_read_errors_total",
             "Spool files that could not be opened, read or renamed; retried at the next scan.",
             counter, s.spool_read_errors);
}

} // namespace

void render_self_metrics(const self_metrics_snapshot& s, exposition_format f, std::string& out) {
    const self_metrics_writer w(f, out);
    write_process(w, s);
    write_ingest(w, s);
    write_store(w, s);
    write_http(w, s);
    write_state_snapshots(w, s);
    write_spool(w, s);
}

} // namespace metricsd::daemon

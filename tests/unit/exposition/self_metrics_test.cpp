#include "daemon/exposition/self_metrics.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace metricsd::test {
namespace {

using daemon::exposition_format;

daemon::self_metrics_snapshot known_snapshot() {
    daemon::self_metrics_snapshot s;
    s.version = "1.2.3";
    s.start_time_seconds = 1700000000.5;
    s.ingest_bytes = 1024;
    s.ingest_frames = 10;
    s.ingest_ops_applied = 3;
    s.ingest_ops_rejected = 1;
    s.ingest_ops_dropped = 2;
    s.ingest_syncs = 4;
    // Unsorted and with a zero: the writer sorts by code name and skips zeros.
    s.ingest_errors = {{"invalid_op", 1}, {"bad_magic", 2}, {"internal", 0}};
    s.ingest_connections_open = 1;
    s.ingest_connections_total = 5;
    s.series = 7;
    s.families = 2;
    s.workers = 1;
    // Unsorted: the writer orders pids by value; "exited" comes last.
    s.client_dropped_ops = {{4242, 3}, {17, 5}};
    s.client_dropped_ops_exited = 9;
    s.store_bytes = 1520;
    s.store_max_bytes = 268435456;
    s.store_budget_refusals = 3;
    s.http_requests = {
        {"/metrics", 200, 3}, {"/healthz", 200, 1}, {"/metrics", 405, 0}, {"other", 0, 2}};
    s.http_connections_accepted = 6;
    s.http_accept_errors = 1;
    s.http_gzip_responses = 2;
    s.scrapes = 3;
    s.scrape_errors = 1;
    s.scrape_seconds_total = 0.25;
    s.http_connections_rejected_per_peer = 4;
    s.http_connections_evicted = 5;
    s.scrapes_cut = 6;
    s.scrape_renders = 2;
    s.scrape_render_pauses = 7;
    s.scrape_response_bytes = 65536;
    s.spool_files_applied = 3;
    s.spool_ops_applied = 40;
    s.spool_rejected_owner = 1;
    s.spool_rejected_size = 2;
    s.spool_rejected_format = 4;
    s.spool_read_errors = 5;
    return s;
}

std::string render(const daemon::self_metrics_snapshot& s, exposition_format f) {
    std::string out;
    daemon::render_self_metrics(s, f, out);
    return out;
}

// The families between the headers, identical in both formats: counter samples keep `_total`.
const char* const samples_after_errors_header = R"(metricsd_ingest_errors_total{code="bad_magic"} 2
metricsd_ingest_errors_total{code="invalid_op"} 1
)";

TEST(self_metrics, text_format_exact) {
    const std::string expected =
        std::string(
            R"(# HELP metricsd_build_info Always 1; the version label names the running build.
# TYPE metricsd_build_info gauge
metricsd_build_info{version="1.2.3"} 1
# HELP metricsd_start_time_seconds Unix time the daemon started, in seconds.
# TYPE metricsd_start_time_seconds gauge
metricsd_start_time_seconds 1700000000.5
# HELP metricsd_ingest_bytes_total Bytes received on the ingest socket.
# TYPE metricsd_ingest_bytes_total counter
metricsd_ingest_bytes_total 1024
# HELP metricsd_ingest_frames_total Frames received on the ingest socket.
# TYPE metricsd_ingest_frames_total counter
metricsd_ingest_frames_total 10
# HELP metricsd_ingest_ops_applied_total Ops applied to the store.
# TYPE metricsd_ingest_ops_applied_total counter
metricsd_ingest_ops_applied_total 3
# HELP metricsd_ingest_ops_rejected_total Ops refused with an ERROR frame (invalid for the type or value).
# TYPE metricsd_ingest_ops_rejected_total counter
metricsd_ingest_ops_rejected_total 1
# HELP metricsd_ingest_ops_dropped_total Ops dropped silently: their handle's declaration was already refused.
# TYPE metricsd_ingest_ops_dropped_total counter
metricsd_ingest_ops_dropped_total 2
# HELP metricsd_ingest_syncs_total SYNC frames answered.
# TYPE metricsd_ingest_syncs_total counter
metricsd_ingest_syncs_total 4
# HELP metricsd_ingest_errors_total ERROR frames sent to clients, by error code. Series refused by a limit or for a bad label value count here as family_series_limit, total_series_limit and invalid_label_value.
# TYPE metricsd_ingest_errors_total counter
)") + samples_after_errors_header +
        R"(# HELP metricsd_ingest_connections_open Ingest connections open now.
# TYPE metricsd_ingest_connections_open gauge
metricsd_ingest_connections_open 1
# HELP metricsd_ingest_connections_total Ingest connections accepted.
# TYPE metricsd_ingest_connections_total counter
metricsd_ingest_connections_total 5
# HELP metricsd_ingest_connections_rejected_total Ingest connections refused over the connection limit.
# TYPE metricsd_ingest_connections_rejected_total counter
metricsd_ingest_connections_rejected_total 0
# HELP metricsd_ingest_accept_errors_total Failed accepts on the ingest socket (e.g. EMFILE, ENFILE), retried after a pause.
# TYPE metricsd_ingest_accept_errors_total counter
metricsd_ingest_accept_errors_total 0
# HELP metricsd_client_dropped_ops_total Ops clients reported dropping instead of sending (e.g. no memory to fold a series), by pid of open connections; closed connections are summed under pid exited.
# TYPE metricsd_client_dropped_ops_total counter
metricsd_client_dropped_ops_total{pid="17"} 5
metricsd_client_dropped_ops_total{pid="4242"} 3
metricsd_client_dropped_ops_total{pid="exited"} 9
# HELP metricsd_series Series in the store.
# TYPE metricsd_series gauge
metricsd_series 7
# HELP metricsd_families Metric families in the store.
# TYPE metricsd_families gauge
metricsd_families 2
# HELP metricsd_workers Worker connections alive now.
# TYPE metricsd_workers gauge
metricsd_workers 1
# HELP metricsd_store_bytes Bytes the store holds: families, series and label values, as its byte budget counts them.
# TYPE metricsd_store_bytes gauge
metricsd_store_bytes 1520
# HELP metricsd_store_max_bytes The store's byte budget (max_store_bytes).
# TYPE metricsd_store_max_bytes gauge
metricsd_store_max_bytes 268435456
# HELP metricsd_store_budget_refusals_total New families and series refused because the store's byte budget was spent (sent as total_series_limit).
# TYPE metricsd_store_budget_refusals_total counter
metricsd_store_budget_refusals_total 3
# HELP metricsd_http_requests_total HTTP responses, by route and status code.
# TYPE metricsd_http_requests_total counter
metricsd_http_requests_total{route="/healthz",code="200"} 1
metricsd_http_requests_total{route="/metrics",code="200"} 3
metricsd_http_requests_total{route="other",code="other"} 2
# HELP metricsd_http_connections_accepted_total HTTP connections accepted, including those closed over the connection limit.
# TYPE metricsd_http_connections_accepted_total counter
metricsd_http_connections_accepted_total 6
# HELP metricsd_http_connections_rejected_total HTTP connections closed unserved over the connection limit.
# TYPE metricsd_http_connections_rejected_total counter
metricsd_http_connections_rejected_total 0
# HELP metricsd_http_connections_rejected_per_peer_total HTTP connections closed unserved over the per-address connection limit.
# TYPE metricsd_http_connections_rejected_per_peer_total counter
metricsd_http_connections_rejected_per_peer_total 4
# HELP metricsd_http_connections_evicted_total Idle kept-alive HTTP connections closed to make room for a new one.
# TYPE metricsd_http_connections_evicted_total counter
metricsd_http_connections_evicted_total 5
# HELP metricsd_http_accept_errors_total Failed accepts on the HTTP socket (e.g. EMFILE, or a client that gave up while queued).
# TYPE metricsd_http_accept_errors_total counter
metricsd_http_accept_errors_total 1
# HELP metricsd_http_unauthorized_total HTTP requests answered 401 by the web config's basic auth (no, wrong or unchecked credentials).
# TYPE metricsd_http_unauthorized_total counter
metricsd_http_unauthorized_total 0
# HELP metricsd_http_tls_handshake_failures_total HTTP connections closed because their TLS handshake failed.
# TYPE metricsd_http_tls_handshake_failures_total counter
metricsd_http_tls_handshake_failures_total 0
# HELP metricsd_web_config_reload_failures_total Changes of the web config file that did not load (the previous one stays).
# TYPE metricsd_web_config_reload_failures_total counter
metricsd_web_config_reload_failures_total 0
# HELP metricsd_http_gzip_responses_total HTTP responses sent gzip-encoded.
# TYPE metricsd_http_gzip_responses_total counter
metricsd_http_gzip_responses_total 2
# HELP metricsd_scrapes_total Scrapes rendered, before this one.
# TYPE metricsd_scrapes_total counter
metricsd_scrapes_total 3
# HELP metricsd_scrape_errors_total Scrapes whose rendering failed, answered 500.
# TYPE metricsd_scrape_errors_total counter
metricsd_scrape_errors_total 1
# HELP metricsd_scrape_duration_seconds_total Seconds spent rendering and compressing scrapes, before this one.
# TYPE metricsd_scrape_duration_seconds_total counter
metricsd_scrape_duration_seconds_total 0.25
# HELP metricsd_scrapes_cut_total Streamed /metrics bodies cut before their end: reader gone or stalled, or the render failed.
# TYPE metricsd_scrapes_cut_total counter
metricsd_scrapes_cut_total 6
# HELP metricsd_scrape_renders_total Renders of /metrics; concurrent scrapes of one format and encoding share one.
# TYPE metricsd_scrape_renders_total counter
metricsd_scrape_renders_total 2
# HELP metricsd_scrape_render_pauses_total Pauses a render made between two slices so that ingest keeps its share of the event loop.
# TYPE metricsd_scrape_render_pauses_total counter
metricsd_scrape_render_pauses_total 7
# HELP metricsd_scrape_response_bytes Bytes of rendered /metrics slices held by renders in flight now.
# TYPE metricsd_scrape_response_bytes gauge
metricsd_scrape_response_bytes 65536
# HELP metricsd_spool_files_applied_total Spool files (ops of clients that exited while the daemon was unreachable) applied.
# TYPE metricsd_spool_files_applied_total counter
metricsd_spool_files_applied_total 3
# HELP metricsd_spool_ops_applied_total Op records applied from spool files.
# TYPE metricsd_spool_ops_applied_total counter
metricsd_spool_ops_applied_total 40
# HELP metricsd_spool_files_rejected_total Spool files not applied: another uid's (owner), over spool.max_file_bytes (size), or not decoding (format).
# TYPE metricsd_spool_files_rejected_total counter
metricsd_spool_files_rejected_total{reason="owner"} 1
metricsd_spool_files_rejected_total{reason="size"} 2
metricsd_spool_files_rejected_total{reason="format"} 4
# HELP metricsd_spool_read_errors_total Spool files that could not be opened, read or renamed; retried at the next scan.
# TYPE metricsd_spool_read_errors_total counter
metricsd_spool_read_errors_total 5
)";
    EXPECT_EQ(render(known_snapshot(), exposition_format::text), expected);
}

TEST(self_metrics, openmetrics_exact) {
    const std::string expected =
        std::string(
            R"(# HELP metricsd_build_info Always 1; the version label names the running build.
# TYPE metricsd_build_info gauge
metricsd_build_info{version="1.2.3"} 1
# HELP metricsd_start_time_seconds Unix time the daemon started, in seconds.
# TYPE metricsd_start_time_seconds gauge
metricsd_start_time_seconds 1700000000.5
# HELP metricsd_ingest_bytes Bytes received on the ingest socket.
# TYPE metricsd_ingest_bytes counter
metricsd_ingest_bytes_total 1024
# HELP metricsd_ingest_frames Frames received on the ingest socket.
# TYPE metricsd_ingest_frames counter
metricsd_ingest_frames_total 10
# HELP metricsd_ingest_ops_applied Ops applied to the store.
# TYPE metricsd_ingest_ops_applied counter
metricsd_ingest_ops_applied_total 3
# HELP metricsd_ingest_ops_rejected Ops refused with an ERROR frame (invalid for the type or value).
# TYPE metricsd_ingest_ops_rejected counter
metricsd_ingest_ops_rejected_total 1
# HELP metricsd_ingest_ops_dropped Ops dropped silently: their handle's declaration was already refused.
# TYPE metricsd_ingest_ops_dropped counter
metricsd_ingest_ops_dropped_total 2
# HELP metricsd_ingest_syncs SYNC frames answered.
# TYPE metricsd_ingest_syncs counter
metricsd_ingest_syncs_total 4
# HELP metricsd_ingest_errors ERROR frames sent to clients, by error code. Series refused by a limit or for a bad label value count here as family_series_limit, total_series_limit and invalid_label_value.
# TYPE metricsd_ingest_errors counter
)") + samples_after_errors_header +
        R"(# HELP metricsd_ingest_connections_open Ingest connections open now.
# TYPE metricsd_ingest_connections_open gauge
metricsd_ingest_connections_open 1
# HELP metricsd_ingest_connections Ingest connections accepted.
# TYPE metricsd_ingest_connections counter
metricsd_ingest_connections_total 5
# HELP metricsd_ingest_connections_rejected Ingest connections refused over the connection limit.
# TYPE metricsd_ingest_connections_rejected counter
metricsd_ingest_connections_rejected_total 0
# HELP metricsd_ingest_accept_errors Failed accepts on the ingest socket (e.g. EMFILE, ENFILE), retried after a pause.
# TYPE metricsd_ingest_accept_errors counter
metricsd_ingest_accept_errors_total 0
# HELP metricsd_client_dropped_ops Ops clients reported dropping instead of sending (e.g. no memory to fold a series), by pid of open connections; closed connections are summed under pid exited.
# TYPE metricsd_client_dropped_ops counter
metricsd_client_dropped_ops_total{pid="17"} 5
metricsd_client_dropped_ops_total{pid="4242"} 3
metricsd_client_dropped_ops_total{pid="exited"} 9
# HELP metricsd_series Series in the store.
# TYPE metricsd_series gauge
metricsd_series 7
# HELP metricsd_families Metric families in the store.
# TYPE metricsd_families gauge
metricsd_families 2
# HELP metricsd_workers Worker connections alive now.
# TYPE metricsd_workers gauge
metricsd_workers 1
# HELP metricsd_store_bytes Bytes the store holds: families, series and label values, as its byte budget counts them.
# TYPE metricsd_store_bytes gauge
metricsd_store_bytes 1520
# HELP metricsd_store_max_bytes The store's byte budget (max_store_bytes).
# TYPE metricsd_store_max_bytes gauge
metricsd_store_max_bytes 268435456
# HELP metricsd_store_budget_refusals New families and series refused because the store's byte budget was spent (sent as total_series_limit).
# TYPE metricsd_store_budget_refusals counter
metricsd_store_budget_refusals_total 3
# HELP metricsd_http_requests HTTP responses, by route and status code.
# TYPE metricsd_http_requests counter
metricsd_http_requests_total{route="/healthz",code="200"} 1
metricsd_http_requests_total{route="/metrics",code="200"} 3
metricsd_http_requests_total{route="other",code="other"} 2
# HELP metricsd_http_connections_accepted HTTP connections accepted, including those closed over the connection limit.
# TYPE metricsd_http_connections_accepted counter
metricsd_http_connections_accepted_total 6
# HELP metricsd_http_connections_rejected HTTP connections closed unserved over the connection limit.
# TYPE metricsd_http_connections_rejected counter
metricsd_http_connections_rejected_total 0
# HELP metricsd_http_connections_rejected_per_peer HTTP connections closed unserved over the per-address connection limit.
# TYPE metricsd_http_connections_rejected_per_peer counter
metricsd_http_connections_rejected_per_peer_total 4
# HELP metricsd_http_connections_evicted Idle kept-alive HTTP connections closed to make room for a new one.
# TYPE metricsd_http_connections_evicted counter
metricsd_http_connections_evicted_total 5
# HELP metricsd_http_accept_errors Failed accepts on the HTTP socket (e.g. EMFILE, or a client that gave up while queued).
# TYPE metricsd_http_accept_errors counter
metricsd_http_accept_errors_total 1
# HELP metricsd_http_unauthorized HTTP requests answered 401 by the web config's basic auth (no, wrong or unchecked credentials).
# TYPE metricsd_http_unauthorized counter
metricsd_http_unauthorized_total 0
# HELP metricsd_http_tls_handshake_failures HTTP connections closed because their TLS handshake failed.
# TYPE metricsd_http_tls_handshake_failures counter
metricsd_http_tls_handshake_failures_total 0
# HELP metricsd_web_config_reload_failures Changes of the web config file that did not load (the previous one stays).
# TYPE metricsd_web_config_reload_failures counter
metricsd_web_config_reload_failures_total 0
# HELP metricsd_http_gzip_responses HTTP responses sent gzip-encoded.
# TYPE metricsd_http_gzip_responses counter
metricsd_http_gzip_responses_total 2
# HELP metricsd_scrapes Scrapes rendered, before this one.
# TYPE metricsd_scrapes counter
metricsd_scrapes_total 3
# HELP metricsd_scrape_errors Scrapes whose rendering failed, answered 500.
# TYPE metricsd_scrape_errors counter
metricsd_scrape_errors_total 1
# HELP metricsd_scrape_duration_seconds Seconds spent rendering and compressing scrapes, before this one.
# TYPE metricsd_scrape_duration_seconds counter
metricsd_scrape_duration_seconds_total 0.25
# HELP metricsd_scrapes_cut Streamed /metrics bodies cut before their end: reader gone or stalled, or the render failed.
# TYPE metricsd_scrapes_cut counter
metricsd_scrapes_cut_total 6
# HELP metricsd_scrape_renders Renders of /metrics; concurrent scrapes of one format and encoding share one.
# TYPE metricsd_scrape_renders counter
metricsd_scrape_renders_total 2
# HELP metricsd_scrape_render_pauses Pauses a render made between two slices so that ingest keeps its share of the event loop.
# TYPE metricsd_scrape_render_pauses counter
metricsd_scrape_render_pauses_total 7
# HELP metricsd_scrape_response_bytes Bytes of rendered /metrics slices held by renders in flight now.
# TYPE metricsd_scrape_response_bytes gauge
metricsd_scrape_response_bytes 65536
# HELP metricsd_spool_files_applied Spool files (ops of clients that exited while the daemon was unreachable) applied.
# TYPE metricsd_spool_files_applied counter
metricsd_spool_files_applied_total 3
# HELP metricsd_spool_ops_applied Op records applied from spool files.
# TYPE metricsd_spool_ops_applied counter
metricsd_spool_ops_applied_total 40
# HELP metricsd_spool_files_rejected Spool files not applied: another uid's (owner), over spool.max_file_bytes (size), or not decoding (format).
# TYPE metricsd_spool_files_rejected counter
metricsd_spool_files_rejected_total{reason="owner"} 1
metricsd_spool_files_rejected_total{reason="size"} 2
metricsd_spool_files_rejected_total{reason="format"} 4
# HELP metricsd_spool_read_errors Spool files that could not be opened, read or renamed; retried at the next scan.
# TYPE metricsd_spool_read_errors counter
metricsd_spool_read_errors_total 5
)";
    EXPECT_EQ(render(known_snapshot(), exposition_format::openmetrics), expected);
}

// OpenMetrics forbids two families of one name; counters lose `_total` there, so a gauge `x`
// beside a counter `x_total` would clash. The store refuses that for clients; check ourselves.
TEST(self_metrics, openmetrics_family_names_are_unique) {
    const std::string out = render(known_snapshot(), exposition_format::openmetrics);
    std::set<std::string> names;
    std::size_t pos = 0;
    while ((pos = out.find("# TYPE ", pos)) != std::string::npos) {
        pos += 7;
        const std::string name = out.substr(pos, out.find(' ', pos) - pos);
        EXPECT_TRUE(names.insert(name).second) << "duplicate family " << name;
    }
    // 24 + 2 HTTP connection, 4 scrape render, 4 spool, the client dropped-ops, 3 store budget
    // and 3 web access (401, TLS, reload) families
    EXPECT_EQ(names.size(), 41u);
}

TEST(self_metrics, escapes_label_values_and_writes_no_trailer) {
    auto s = known_snapshot();
    s.version = "1.0\"rc\\";
    const std::string out = render(s, exposition_format::openmetrics);
    EXPECT_NE(out.find("metricsd_build_info{version=\"1.0\\\"rc\\\\\"} 1\n"), std::string::npos)
        << out;
    EXPECT_EQ(out.find("# EOF"), std::string::npos);
}

// With no client reporting drops the family still shows, at 0, so a query or alert on it
// works before the first drop.
TEST(self_metrics, client_dropped_ops_shows_exited_zero_when_nobody_reported) {
    const std::string out = render(daemon::self_metrics_snapshot{}, exposition_format::text);
    const auto at = out.find("# TYPE metricsd_client_dropped_ops_total");
    ASSERT_NE(at, std::string::npos) << out;
    EXPECT_EQ(out.substr(at, out.find("# HELP", at) - at),
              "# TYPE metricsd_client_dropped_ops_total counter\n"
              "metricsd_client_dropped_ops_total{pid=\"exited\"} 0\n");
}

TEST(series_ttl_self_metrics, expired_counter_is_shown_when_expiry_is_on) {
    daemon::self_metrics_snapshot snap;
    std::string off;
    daemon::render_self_metrics(snap, daemon::exposition_format::text, off);
    EXPECT_EQ(off.find("metricsd_series_expired_total"), std::string::npos);
    snap.series_expiry = true;
    snap.series_expired = 42;
    std::string on;
    daemon::render_self_metrics(snap, daemon::exposition_format::openmetrics, on);
    EXPECT_NE(on.find("# TYPE metricsd_series_expired counter\n"), std::string::npos) << on;
    EXPECT_NE(on.find("\nmetricsd_series_expired_total 42\n"), std::string::npos) << on;
}

} // namespace
} // namespace metricsd::test

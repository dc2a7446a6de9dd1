#include "daemon/exposition/self_metrics.hpp"

#include "daemon/store/number_format.hpp"

#include <algorithm>
#include <string_view>
#include <tuple>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;

struct label {
    std::string_view name;
    std::string_view value;
};

/// Writes families whose sample name is the family's own name: true of every self-metric,
/// since each counter already ends in `_total` (the sample name in both formats).
struct writer {
    std::string& out;
    exposition_format f;

    void header(std::string_view name, std::string_view help, metric_type type) const {
        render_header(name, help, type, f, out);
    }

    // Label values here are version strings, route paths and code names; escaping keeps a
    // version like `1.0"rc` from breaking the line anyway.
    void sample(std::string_view name, std::initializer_list<label> labels, double v) const {
        out += name;
        if (labels.size() != 0) {
            char sep = '{';
            for (const auto& l : labels) {
                out += sep;
                out += l.name;
                out += "=\"";
                append_label_value(l.value);
                out += '"';
                sep = ',';
            }
            out += '}';
        }
        out += ' ';
        append_value(out, v);
        out += '\n';
    }

    void single(std::string_view name, std::string_view help, metric_type type, double v) const {
        header(name, help, type);
        sample(name, {}, v);
    }

private:
    void append_label_value(std::string_view s) const {
        for (char c : s) {
            if (c == '\\')
                out += "\\\\";
            else if (c == '\n')
                out += "\\n";
            else if (c == '"')
                out += "\\\"";
            else
                out += c;
        }
    }
};

void write_process(const writer& w, const self_metrics_snapshot& s) {
    w.header("metricsd_build_info", "Always 1; the version label names the running build.",
             metric_type::gauge);
    w.sample("metricsd_build_info", {{"version", s.version}}, 1);
    w.single("metricsd_start_time_seconds", "Unix time the daemon started, in seconds.",
             metric_type::gauge, s.start_time_seconds);
}

void write_ingest_errors(const writer& w, const self_metrics_snapshot& s) {
    auto errors = s.ingest_errors;
    std::erase_if(errors, [](const auto& e) { return e.second == 0; });
    std::sort(errors.begin(), errors.end());
    w.header("metricsd_ingest_errors_total",
             "ERROR frames sent to clients, by error code. Series refused by a limit or for a "
             "bad label value count here as family_series_limit, total_series_limit and "
             "invalid_label_value.",
             metric_type::counter);
    for (const auto& [code, n] : errors)
        w.sample("metricsd_ingest_errors_total", {{"code", code}}, static_cast<double>(n));
}

void write_ingest(const writer& w, const self_metrics_snapshot& s) {
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
}

void write_store(const writer& w, const self_metrics_snapshot& s) {
    constexpr auto gauge = metric_type::gauge;
    w.single("metricsd_series", "Series in the store.", gauge, s.series);
    w.single("metricsd_families", "Metric families in the store.", gauge, s.families);
    w.single("metricsd_workers", "Worker connections alive now.", gauge, s.workers);
    if (s.series_expiry)
        w.single("metricsd_series_expired_total",
                 "Series that saw no op for their family's series_ttl: dropped, or reset and "
                 "hidden while a worker still holds them.",
                 metric_type::counter, s.series_expired);
}

void write_http_requests(const writer& w, const self_metrics_snapshot& s) {
    auto requests = s.http_requests;
    std::erase_if(requests, [](const auto& r) { return r.count == 0; });
    std::sort(requests.begin(), requests.end(), [](const auto& a, const auto& b) {
        return std::tie(a.route, a.code) < std::tie(b.route, b.code);
    });
    w.header("metricsd_http_requests_total", "HTTP responses, by route and status code.",
             metric_type::counter);
    for (const auto& r : requests) {
        // Codes outside the counted set share one slot, labelled "other" rather than "0".
        const std::string code = r.code == 0 ? "other" : std::to_string(r.code);
        w.sample("metricsd_http_requests_total", {{"route", r.route}, {"code", code}},
                 static_cast<double>(r.count));
    }
}

void write_http(const writer& w, const self_metrics_snapshot& s) {
    constexpr auto counter = metric_type::counter;
    write_http_requests(w, s);
    w.single("metricsd_http_connections_rejected_total",
             "HTTP connections closed unserved over the connection limit.", counter,
             s.http_connections_rejected);
    w.single("metricsd_scrapes_total", "Scrapes rendered, before this one.", counter, s.scrapes);
    w.single("metricsd_scrape_duration_seconds_total",
             "Seconds spent rendering and compressing scrapes, before this one.", counter,
             s.scrape_seconds_total);
}

void write_redis(const writer& w, const redis_stats& r) {
    constexpr auto counter = metric_type::counter;
    constexpr auto gauge = metric_type::gauge;
    w.single("metricsd_redis_connected", "1 while the Redis connection is up.", gauge,
             r.connected ? 1 : 0);
    w.single("metricsd_redis_connects_total", "Redis connections established.", counter,
             r.connects);
    w.single("metricsd_redis_connect_failures_total", "Redis connection attempts that failed.",
             counter, r.connect_failures);
    w.single("metricsd_redis_flushes_total", "Flushes (one MULTI/EXEC each) applied by Redis.",
             counter, r.flushes);
    w.single("metricsd_redis_flush_failures_total",
             "Flushes not applied (aborted or connection lost); their deltas are sent again.",
             counter, r.flush_failures);
    w.single("metricsd_redis_flush_commands_total", "Commands inside applied flushes.", counter,
             r.commands);
    w.single("metricsd_redis_flushed_series_total", "Series deltas inside applied flushes.",
             counter, r.flushed_series);
    w.single("metricsd_redis_write_errors_total",
             "Commands of applied flushes that Redis refused (e.g. WRONGTYPE).", counter,
             r.write_errors);
    w.single("metricsd_redis_flush_duration_seconds_total",
             "Seconds from sending a flush to reading its EXEC reply, applied flushes.", counter,
             r.flush_seconds_total);
    w.single("metricsd_redis_flush_duration_seconds_last", "Round trip of the last applied flush.",
             gauge, r.flush_seconds_last);
    w.single("metricsd_redis_pending_series",
             "Series whose deltas are not in Redis yet (in memory until the next flush).", gauge,
             r.pending_series);
    w.single("metricsd_redis_snapshots_total", "Redis snapshots read for scrapes.", counter,
             r.snapshots);
    w.single("metricsd_redis_snapshot_failures_total",
             "Scrapes answered 503 because Redis could not be read.", counter, r.snapshot_failures);
    w.header("metricsd_redis_skipped_total",
             "Data in Redis skipped by scrapes, by what was wrong with it.", counter);
    const std::pair<std::string_view, std::uint64_t> skipped[] = {
        {"bad_value", r.bad_values},
        {"malformed_field", r.malformed_fields},
        {"malformed_meta", r.malformed_meta},
        {"wrong_type_key", r.wrong_type_keys},
    };
    for (const auto& [what, n] : skipped)
        w.sample("metricsd_redis_skipped_total", {{"what", what}}, static_cast<double>(n));
    w.single("metricsd_redis_meta_conflicts_total",
             "Scrapes that found a family declared differently by another writer.", counter,
             r.meta_conflicts);
}

} // namespace

void render_self_metrics(const self_metrics_snapshot& s, exposition_format f, std::string& out) {
    const writer w{out, f};
    write_process(w, s);
    write_ingest(w, s);
    write_store(w, s);
    write_http(w, s);
    if (s.redis)
        write_redis(w, *s.redis);
}

} // namespace metricsd::daemon

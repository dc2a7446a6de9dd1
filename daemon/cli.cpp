#include "daemon/cli.hpp"

#include <CLI/CLI.hpp>

#include <string>

#ifndef METRICSD_VERSION
#define METRICSD_VERSION "0.0.0"
#endif

namespace metricsd::daemon {

namespace {

/// "0660" -> 0660; octal only, within the permission bits.
unsigned parse_mode(const std::string& text) {
    std::size_t used = 0;
    const unsigned long mode = std::stoul(text, &used, 8);
    if (used != text.size() || mode > 0777)
        throw CLI::ValidationError("--socket-mode", "expected octal permissions like 0660");
    return static_cast<unsigned>(mode);
}

} // namespace

cli_result parse_command_line(int argc, char** argv) {
    cli_result r;
    auto& o = r.options;
    CLI::App cli{"metricsd - multi-process metrics aggregation daemon for Prometheus"};
    cli.set_version_flag("--version", std::string("metricsd ") + METRICSD_VERSION);
    std::string mode = "0660";
    cli.add_option("--socket", o.ingest.socket_path, "Unix socket workers connect to")
        ->capture_default_str();
    cli.add_option("--socket-mode", mode, "Permissions of the socket file (octal)")
        ->capture_default_str();
    cli.add_option("--listen", o.listen, "HTTP HOST:PORT for /metrics (port 0: any free port)")
        ->capture_default_str();
    cli.add_option("--backend", o.backend, "Where aggregated values live")
        ->check(CLI::IsMember({"memory"}))
        ->capture_default_str();
    cli.add_option("--log-level", r.log_level, "trace, debug, info, warn, error, critical, off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
        ->capture_default_str();
    cli.add_option("--max-connections", o.ingest.max_connections, "Concurrent ingest connections")
        ->capture_default_str();
    cli.add_option("--max-series", o.limits.max_series_total, "Series in total")
        ->capture_default_str();
    cli.add_option("--max-series-per-family", o.limits.max_series_per_family,
                   "Series per metric family")
        ->capture_default_str();
    cli.add_option("--max-families", o.limits.max_families, "Metric families")
        ->capture_default_str();
    cli.add_option("--max-label-value-length", o.limits.max_label_value_length,
                   "Bytes per label value")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    std::uint32_t max_frame = o.ingest.limits.max_frame_payload;
    cli.add_option("--max-frame", max_frame, "Largest ingest frame payload, bytes")
        ->check(CLI::Range(4096u, protocol::limits::max_frame_payload))
        ->capture_default_str();
    try {
        cli.parse(argc, argv);
        o.ingest.socket_mode = parse_mode(mode);
    } catch (const CLI::ParseError& e) {
        throw cli_exit{cli.exit(e)};
    }
    o.ingest.limits.max_frame_payload = max_frame;
    return r;
}

} // namespace metricsd::daemon

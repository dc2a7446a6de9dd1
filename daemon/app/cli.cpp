#include "daemon/app/cli.hpp"

#include "daemon/config/redis_url.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <unistd.h>

#ifndef METRICSD_VERSION
#define METRICSD_VERSION "0.0.0"
#endif

namespace metricsd::daemon {

namespace {

/// A flag that sets one config key. The flag's text goes through apply_setting, so flags are
/// validated by the same rules as the file and the environment.
struct setting_flag {
    const char* flag;
    const char* key;
    const char* default_text; ///< shown in --help; must match config's default
    const char* help;
    std::string value{};
    CLI::Option* option = nullptr;
};

std::vector<setting_flag> setting_flags() {
    return {
        {"--socket", "socket", "/run/metricsd/ingest.sock", "Unix socket workers connect to"},
        {"--socket-mode", "socket_mode", "0660", "Permissions of the socket file (octal)"},
        {"--listen", "listen", "127.0.0.1:9477",
         "HTTP HOST:PORT for /metrics (port 0: any free port)"},
        {"--backend", "backend", "memory", "Where aggregated values live"},
        {"--log-level", "log_level", "info", "trace, debug, info, warn, error, critical, off"},
        {"--max-connections", "limits.max_connections", "1024", "Concurrent ingest connections"},
        {"--max-series", "limits.max_series", "1000000", "Series in total"},
        {"--max-series-per-family", "limits.max_series_per_family", "10000",
         "Series per metric family"},
        {"--max-families", "limits.max_families", "10000", "Metric families"},
        {"--max-label-value-length", "limits.max_label_value_length", "1024",
         "Bytes per label value"},
        {"--max-frame", "limits.max_frame", "1048576", "Largest ingest frame payload, bytes"},
        {"--state-file", "state.file", "", "Memory backend's state file (\"\": no persistence)"},
        {"--snapshot-interval", "state.snapshot_interval_s", "60",
         "Seconds between state snapshots (0: only at shutdown)"},
        {"--series-ttl", "series_ttl", "",
         "Drop series idle this long: NAME=SECONDS,...,*=SECONDS (* = other families; 0: never)"},
        {"--redis-url", "redis.url", "redis://127.0.0.1:6379/0",
         "Redis backend: redis://[[user]:password@]HOST[:PORT][/DB] or unix:///PATH"},
        {"--redis-key-prefix", "redis.key_prefix", "", "Redis keys are PREFIX-name (as pytheus)"},
        {"--redis-flush-interval-ms", "redis.flush_interval_ms", "100",
         "Milliseconds between flushes to Redis"},
        {"--redis-expire-key-time", "redis.expire_key_time", "3600",
         "Seconds before an untouched Redis key expires"},
        {"--redis-live-lease-ms", "redis.live_lease_ms", "15000",
         "Milliseconds a dead daemon's live* gauge values stay in Redis"},
    };
}

/// Checks CLI11 applies before the config layer, so these stay usage errors (exit 2) as before.
void add_usage_checks(std::vector<setting_flag>& flags) {
    for (auto& f : flags) {
        const std::string_view name = f.flag;
        if (name == "--backend")
            f.option->check(CLI::IsMember({"memory", "redis"}));
        else if (name == "--log-level")
            f.option->check(
                CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
        else if (name == "--max-label-value-length")
            f.option->check(CLI::Range(1, 4096));
        else if (name == "--max-frame")
            f.option->check(CLI::Range(4096u, protocol::limits::max_frame_payload));
    }
}

/// Environment entries ("NAME=value") for unknown_environment.
std::vector<std::string> environment_entries() {
    std::vector<std::string> entries;
    for (char** e = ::environ; e && *e; ++e)
        entries.emplace_back(*e);
    return entries;
}

} // namespace

cli_result parse_command_line(int argc, char** argv,
                              const std::function<const char*(const char*)>& env) {
    cli_result r;
    CLI::App cli{"metricsd - multi-process metrics aggregation daemon for Prometheus"};
    cli.set_version_flag("--version", std::string("metricsd ") + METRICSD_VERSION);
    std::string config_path;
    auto* config_option =
        cli.add_option("--config", config_path,
                       "JSON config file (default: $METRICSD_CONFIG; see config/README.md)");
    cli.add_flag("--check-config", r.check_config,
                 "Load and validate the configuration, print it as JSON and exit");
    auto flags = setting_flags();
    for (auto& f : flags)
        f.option = cli.add_option(f.flag, f.value, f.help)->default_str(f.default_text);
    add_usage_checks(flags);
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        throw cli_exit{cli.exit(e)};
    }
    if (config_option->count() == 0)
        if (const char* from_env = env(std::string(config_file_env).c_str()))
            config_path = from_env; // empty: no file, like an absent variable
    if (!config_path.empty())
        r.settings = load_config_file(config_path);
    r.config_path = config_path;
    apply_environment(r.settings, env);
    // Only flags the user typed: a flag's default must not override the file or environment.
    for (const auto& f : flags)
        if (f.option->count() > 0)
            apply_setting(r.settings, f.key, f.value, f.flag);
    validate(r.settings);
    for (const auto& name : unknown_environment(environment_entries()))
        r.warnings.push_back("environment variable " + name + " matches no setting; ignored");
    return r;
}

app_options to_app_options(const config& c) {
    app_options o;
    o.ingest.socket_path = c.socket;
    o.ingest.socket_mode = c.socket_mode;
    o.ingest.max_connections = c.limits.max_connections;
    o.ingest.limits.max_frame_payload = static_cast<std::uint32_t>(c.limits.max_frame);
    o.limits.max_series_total = c.limits.max_series;
    o.limits.max_series_per_family = c.limits.max_series_per_family;
    o.limits.max_families = c.limits.max_families;
    o.limits.max_label_value_length = c.limits.max_label_value_length;
    o.listen = c.listen;
    o.backend = c.backend;
    o.shutdown_timeout = c.shutdown_timeout;
    o.state_file = c.state.file;
    o.snapshot_interval = c.state.snapshot_interval;
    o.series_ttl = c.series_ttl;
    if (c.backend == "redis") {
        o.redis.endpoint = parse_redis_url(c.redis.url);
        o.redis.key_prefix = c.redis.key_prefix;
        o.redis.expire_key_time = c.redis.expire_key_time;
        o.redis.flush_interval = c.redis.flush_interval;
        o.redis.live_lease = c.redis.live_lease;
    }
    if (auto it = c.origins.find("log_level"); it != c.origins.end())
        o.log_level_overridden =
            it->second.starts_with("METRICSD_") || it->second.starts_with("--");
    return o;
}

} // namespace metricsd::daemon

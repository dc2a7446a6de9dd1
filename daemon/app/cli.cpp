#include "daemon/app/cli.hpp"

#include "daemon/app/account_names.hpp"

#include "daemon/config/redis_url.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <unistd.h>

#ifndef METRICSD_VERSION
#define METRICSD_VERSION "0.0.0"
#endif

namespace metricsd::daemon {

namespace {

/// A flag that sets one config key, as the table of settings (config_keys()) describes it. The
/// flag's text goes through apply_setting, so flags are validated by the same rules as the file
/// and the environment.
struct setting_flag {
    const config_key* key;
    std::string value{};
    CLI::Option* option = nullptr;
};

/// One CLI11 option per setting that has a flag, with the setting's help and default. Settings
/// marked usage_checked keep CLI11's own check (a usage error, CLI11's exit code), as before.
std::vector<setting_flag> add_setting_flags(CLI::App& cli) {
    std::vector<setting_flag> flags;
    for (const auto& k : config_keys())
        if (!k.flag.empty())
            flags.push_back({&k});
    const config defaults;
    for (auto& f : flags) {
        const auto& k = *f.key;
        std::string help(k.help);
        for (std::size_t i = 0; i < k.allowed.size(); ++i)
            help += (i == 0 ? ": " : ", ") + std::string(k.allowed[i]);
        f.option = cli.add_option(std::string(k.flag), f.value, help)
                       ->default_str(setting_text(defaults, k.key));
        if (!k.usage_checked)
            continue;
        if (k.is_integer)
            f.option->check(CLI::Range(static_cast<std::int64_t>(k.min), // shown as INT
                                       static_cast<std::int64_t>(k.max)));
        else
            f.option->check(
                CLI::IsMember(std::vector<std::string>(k.allowed.begin(), k.allowed.end())));
    }
    return flags;
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
    auto flags = add_setting_flags(cli);
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // CLI11 prints the message; its own codes (105, 109, ...) are no part of our contract:
        // a usage error is a start-up failure like any other, exit 1.
        throw cli_exit{cli.exit(e) == 0 ? 0 : 1};
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
            apply_setting(r.settings, f.key->key, f.value, f.key->flag);
    validate(r.settings);
    for (const auto& name : unknown_environment(environment_entries()))
        r.warnings.push_back("environment variable " + name + " matches no setting; ignored");
    return r;
}

app_options to_app_options(const config& c) {
    app_options o;
    o.ingest.socket_path = c.socket;
    o.ingest.socket_mode = c.socket_mode;
    // Names become ids once, here: a name that does not exist stops the start.
    const auto accounts = system_accounts();
    try {
        if (!c.socket_owner.empty())
            o.ingest.socket_owner =
                resolve_principal(principal_kind::user, c.socket_owner, accounts);
        if (!c.socket_group.empty())
            o.ingest.socket_group =
                resolve_principal(principal_kind::group, c.socket_group, accounts);
        auto& access = o.ingest.access;
        access.allowed.uids = parse_id_list(principal_kind::user, c.access.allow_users, accounts);
        access.allowed.gids =
            parse_id_list(principal_kind::group, c.access.allow_groups, accounts);
        access.family_owners = parse_family_owners(c.access.family_owners, accounts);
        access.max_families_per_uid = c.access.max_families_per_uid;
        access.max_series_per_uid = c.access.max_series_per_uid;
    } catch (const access_error& e) {
        throw config_error(std::string("access settings: ") + e.what());
    }
    o.ingest.max_connections = c.limits.max_connections;
    o.ingest.limits.max_frame_payload = static_cast<std::uint32_t>(c.limits.max_frame);
    o.ingest.max_pending_connections = c.limits.max_pending_connections;
    o.ingest.handshake_timeout = c.limits.handshake_timeout;
    o.ingest.idle_timeout = c.limits.idle_timeout;
    o.ingest.limits.max_connection_bytes = c.limits.max_connection_bytes;
    o.ingest.max_ingest_bytes = c.limits.max_ingest_bytes;
    o.ingest.limits.max_series_label_bytes =
        static_cast<std::uint32_t>(c.limits.max_series_label_bytes);
    o.limits.max_series_total = c.limits.max_series;
    o.limits.max_series_per_family = c.limits.max_series_per_family;
    o.limits.max_families = c.limits.max_families;
    o.limits.max_label_value_length = c.limits.max_label_value_length;
    o.limits.max_store_bytes = c.limits.max_store_bytes;
    o.listen = c.listen;
    o.web_config_file = c.web.config_file;
    o.healthz_open = c.web.healthz == "open";
    o.http.max_connections = c.http.max_connections;
    o.http.max_connections_per_peer = c.http.max_connections_per_peer;
    o.http.keep_alive_idle = c.http.keep_alive_idle;
    o.http.scrape_progress_timeout = c.http.scrape_progress_timeout;
    o.http_render.slice_bytes = c.http.scrape_slice_bytes;
    o.backend = c.backend;
    o.shutdown_timeout = c.shutdown_timeout;
    o.state_file = c.state.file;
    o.snapshot_interval = c.state.snapshot_interval;
    o.spool.dir = c.spool.dir.empty() ? c.socket + ".spool" : c.spool.dir;
    o.spool.max_file_bytes = c.spool.max_file_bytes;
    o.spool.interval = c.spool.scan_interval;
    o.spool.any_owner = c.spool.owners == "any";
    o.spool.limits = o.ingest.limits;
    o.series_ttl = c.series_ttl;
    if (c.backend == backend_kind::redis) {
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

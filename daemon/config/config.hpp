// The daemon's configuration: every setting, its default, and where each value came from.
// Sources, later ones win: defaults < config file (--config, JSON) < METRICSD_* environment
// variables < command-line flags. Pure: no logging, no IO beyond reading the config file.
// Start-up code: every error throws config_error with a message naming the key, the file
// position or the environment variable, and what is expected.
#pragma once

#include "daemon/config/backend_kind.hpp"
#include "daemon/store/series_expiry.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

/// A configuration that cannot be used; what() is the complete message for the operator,
/// e.g. `/etc/metricsd/metricsd.json:7:5: unknown key "limits.max_serie"`.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct redis_config {
    std::string url = "redis://127.0.0.1:6379/0"; ///< redis://host:port/db or unix:///path
    std::string key_prefix;                       ///< keys are `[prefix-]name`, as pytheus
    std::chrono::seconds expire_key_time{3600};   ///< EXPIRE on every touched key
    std::chrono::milliseconds flush_interval{100};
    /// Lease of a daemon's live* gauge contributions in Redis (see redis_backend_options).
    std::chrono::milliseconds live_lease{15'000};
};

struct limits_config {
    std::uint64_t max_connections = 1024;
    std::uint64_t max_series = 1'000'000;
    std::uint64_t max_series_per_family = 10'000;
    std::uint64_t max_families = 10'000;
    std::uint64_t max_label_value_length = 1024; ///< bytes, at most 4096
    std::uint64_t max_frame = 1u << 20;          ///< bytes, 4096 .. 1 MiB (protocol limit)
    std::uint64_t max_pending_connections = 64;  ///< ingest connections before the handshake
    std::chrono::milliseconds handshake_timeout{10'000};
    std::chrono::seconds idle_timeout{300};           ///< 0: never; applies at max_connections
    std::uint64_t max_connection_bytes = 64u << 20;   ///< input + output + handles, per connection
    std::uint64_t max_ingest_bytes = 128u << 20;      ///< the same over every connection
    std::uint64_t max_series_label_bytes = 2048;      ///< label value bytes of one series
    std::uint64_t max_store_bytes = 256u << 20;       ///< the store's byte budget (store_cost.hpp)
};

/// The HTTP endpoint's bounds (http_limits in daemon/http/http_session.hpp).
struct http_config {
    std::uint64_t max_connections = 128;
    std::uint64_t max_connections_per_peer = 32;  ///< 0: no per-address cap
    std::chrono::seconds keep_alive_idle{15};      ///< idle time between two requests
    std::chrono::seconds scrape_progress_timeout{10};
    std::uint64_t scrape_slice_bytes = 64 * 1024; ///< response memory per render in flight
};

/// Where clients that cannot reach the daemon by their exit leave their ops (protocol/SPOOL.md).
struct spool_config {
    std::string dir; ///< empty: the socket path + ".spool"
    std::uint64_t max_file_bytes = 16u << 20;
    std::chrono::seconds scan_interval{2};
    std::string owners = "daemon"; ///< "daemon": only the daemon's uid's files; "any"
};

struct state_config {
    std::string file; ///< memory backend's state file; empty: no persistence
    /// Seconds between periodic snapshots; 0: only at shutdown.
    std::chrono::seconds snapshot_interval{60};
};

/// Who may write (access_policy.hpp); names stay text here and are resolved at start-up.
struct access_config {
    std::string allow_users;   ///< "alice,1001"; empty (with allow_groups): no allow-list
    std::string allow_groups;  ///< "metrics,1002"
    std::string family_owners; ///< "myapp_*=alice+@web,..."
    std::uint64_t max_families_per_uid = 0; ///< 0: no quota
    std::uint64_t max_series_per_uid = 0;   ///< 0: no quota
};

/// Who may read: the exporter-style web config file (TLS, basic auth, headers).
struct web_config {
    std::string config_file; ///< empty: plain HTTP, no authentication
    std::string healthz = "protected"; ///< "open": /healthz needs no credentials
};

/// Every daemon setting. Defaults here are the documented defaults (config/README.md).
struct config {
    std::string socket = "/run/metricsd/ingest.sock";
    unsigned socket_mode = 0660;
    std::string socket_owner; ///< user name or uid; empty: the daemon's
    std::string socket_group; ///< group name or gid; empty: the daemon's
    std::string listen = "127.0.0.1:9477"; ///< HOST:PORT, [v6]:PORT (host_port.hpp); 0 = any free
    backend_kind backend = backend_kind::memory;
    std::string log_level = "info";
    std::chrono::seconds shutdown_timeout{10};
    redis_config redis;
    limits_config limits;
    http_config http;
    state_config state;
    spool_config spool;
    access_config access;
    web_config web;
    /// Series expiry: per-family TTLs of idle series; all 0 (the default) is off.
    series_ttl_policy series_ttl;

    /// Key path -> where its value came from ("metricsd.json:7:5", "METRICSD_LISTEN",
    /// "--listen"); keys still at their default are absent.
    std::map<std::string, std::string, std::less<>> origins;
    bool is_set(std::string_view key) const { return origins.count(key) != 0; }
};

/// One setting as every consumer sees it: the loader, the command line (cli.cpp), the JSON
/// schema and the table in config/README.md are all derived from this (the table is in
/// config_fields.cpp). Defaults are the member initializers of `config`, read through the table.
struct config_key {
    std::string_view key{};  ///< "limits.max_series"
    std::string_view env{};  ///< "METRICSD_LIMITS_MAX_SERIES"
    std::string_view flag{}; ///< "--max-series"; empty: no command-line flag
    std::string_view help{}; ///< one line, for --help, the schema's description and the README
    bool is_integer = false; ///< a JSON number; otherwise a JSON string (or object, below)
    /// A JSON object in the file (series_ttl); the environment and flags give its text form.
    bool is_object = false;
    std::uint64_t min = 0; ///< integer settings: the smallest accepted value
    std::uint64_t max = 0; ///< integer settings: the largest accepted value
    /// Text settings with a fixed set of values: all of them, in documentation order.
    std::vector<std::string_view> allowed{};
    /// CLI11 checks the flag's value itself (a usage error with CLI11's exit code, not the
    /// configuration's 1) before the loader sees it, as the flag did before the table existed.
    bool usage_checked = false;
};

/// Every key the config file accepts, in documentation order.
const std::vector<config_key>& config_keys();

/// Parse the JSON text of a config file onto the defaults. `source` names the file in
/// messages. Unknown keys, duplicate keys, wrong JSON types and invalid values throw. A
/// top-level "$schema" string (for editors) is accepted and ignored.
config parse_config(std::string_view json_text, std::string_view source);

/// Read and parse a config file; unreadable files throw config_error naming the path.
config load_config_file(const std::string& path);

/// Apply METRICSD_* variables found by `lookup` (returns nullptr when unset; std::getenv
/// fits). An invalid value throws, naming the variable. An empty value counts as set (it is
/// how `METRICSD_REDIS_KEY_PREFIX=` clears a prefix).
void apply_environment(config& c, const std::function<const char*(const char*)>& lookup);

/// METRICSD_* names in `environ`-style "NAME=value" entries that no setting uses, to warn
/// about typos. METRICSD_CONFIG (the config file path) is known.
std::vector<std::string> unknown_environment(const std::vector<std::string>& entries);

/// Set one key from text, as the command line does (`--max-series 5` -> "limits.max_series",
/// "5", "--max-series"). Validates exactly like the file and the environment.
void apply_setting(config& c, std::string_view key, std::string_view text, std::string_view origin);

/// The value of `key` in `c` in its text form, as the environment and flags give it (e.g.
/// "0660" for socket_mode, "" for an empty series_ttl). Throws config_error for an unknown key.
std::string setting_text(const config& c, std::string_view key);

/// Checks that involve several keys, after every source was applied. Throws config_error.
void validate(const config& c);

/// The effective configuration as a config file (every key; 2-space indented JSON), e.g. for
/// `--check-config` output. parse_config(to_json(c)) gives back the same settings.
std::string to_json(const config& c);

/// The environment variable that may name the config file when --config is absent.
inline constexpr std::string_view config_file_env = "METRICSD_CONFIG";

} // namespace metricsd::daemon

#include "daemon/config/config_fields.hpp"

#include "daemon/config/setting_checks.hpp"

#include <metricsd/protocol/wire.hpp>

#include <nlohmann/json.hpp>

namespace metricsd::daemon::detail {
namespace {

std::uint64_t to_u64(std::uint64_t v) {
    return v;
}
template <class Rep, class Period>
std::uint64_t to_u64(std::chrono::duration<Rep, Period> d) {
    return static_cast<std::uint64_t>(d.count());
}
void from_u64(std::uint64_t& out, std::uint64_t v) {
    out = v;
}
template <class Rep, class Period>
void from_u64(std::chrono::duration<Rep, Period>& out, std::uint64_t v) {
    out = std::chrono::duration<Rep, Period>(static_cast<Rep>(v));
}

/// A JSON number from key.min to key.max; `at` is a generic lambda returning the member (const
/// or not).
template <class Access>
config_field integer_field(config_key key, std::uint64_t lo, std::uint64_t hi, Access at,
                           std::string_view notes = {}) {
    key.is_integer = true;
    key.min = lo;
    key.max = hi;
    return {
        key,
        {.notes = notes},
        [at](const config& c) -> setting_value { return to_u64(at(c)); },
        [at, lo, hi](config& c, const setting_value& v) { from_u64(at(c), integer(v, lo, hi)); }};
}

/// A JSON string accepted by `check` (which returns it or throws bad_value).
template <class Access, class Check>
config_field text_field(config_key key, Access at, Check check, field_doc doc = {}) {
    return {key, doc, [at](const config& c) -> setting_value { return at(c); },
            [at, check](config& c, const setting_value& v) { at(c) = check(v); }};
}

/// A JSON string from a fixed list, kept as text.
template <class Access>
config_field choice_field(config_key key, std::vector<std::string_view> allowed, Access at,
                          field_doc doc = {}) {
    key.allowed = allowed;
    return text_field(
        key, at, [allowed](const setting_value& v) { return one_of(v, allowed); }, doc);
}

config_field secret(config_field f) {
    f.secret = true;
    return f;
}

} // namespace

// The one place a setting is described. Defaults are the member initializers of `config`.
const std::vector<config_field>& config_fields() {
    // `[](auto& c) -> auto&` serves both the const getter and the setter.
    static const std::vector<config_field> fields{
        text_field({.key = "socket",
                    .env = "METRICSD_SOCKET",
                    .flag = "--socket",
                    .help = "Unix socket workers connect to"},
                   [](auto& c) -> auto& { return c.socket; }, socket_path,
                   {.notes = "the clients read the same variable",
                    .min_length = 1,
                    .max_length = max_socket_path}),
        config_field{{.key = "socket_mode",
                      .env = "METRICSD_SOCKET_MODE",
                      .flag = "--socket-mode",
                      .help = "Permissions of the socket file (octal)"},
                     {.values = "3 or 4 octal digits",
                      .notes = "**a string** in the file (a JSON number would be decimal)",
                      .pattern = "^[0-7]{3,4}$"},
                     [](const config& c) -> setting_value { return format_mode(c.socket_mode); },
                     [](config& c, const setting_value& v) { c.socket_mode = socket_mode(v); }},
        text_field({.key = "socket_owner",
                    .env = "METRICSD_SOCKET_OWNER",
                    .flag = "--socket-owner",
                    .help = "Owner of the socket file: user name or uid (\"\": the daemon's)"},
                   [](auto& c) -> auto& { return c.socket_owner; }, principal_name,
                   {.values = "a user name, a uid, or `\"\"`",
                    .notes = "set with chown at start and verified; changing it needs root"}),
        text_field({.key = "socket_group",
                    .env = "METRICSD_SOCKET_GROUP",
                    .flag = "--socket-group",
                    .help = "Group of the socket file: group name or gid (\"\": the daemon's)"},
                   [](auto& c) -> auto& { return c.socket_group; }, principal_name,
                   {.values = "a group name, a gid, or `\"\"`",
                    .notes = "with `socket_mode` 0660 (the default), its members may connect"}),
        text_field({.key = "listen",
                    .env = "METRICSD_LISTEN",
                    .flag = "--listen",
                    .help = "HTTP HOST:PORT for /metrics (port 0: any free port; an empty host "
                            "or * listens on every interface)"},
                   [](auto& c) -> auto& { return c.listen; }, listen_address,
                   {.values = "`HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `*:PORT` (every interface)",
                    .pattern = "^(\\[[^\\]]+\\]|[^:\\[\\]]*):[0-9]{1,5}$"}),
        integer_field(
            {.key = "http.max_connections",
             .env = "METRICSD_HTTP_MAX_CONNECTIONS",
             .help = "Concurrent HTTP connections"},
            1, 100'000, [](auto& c) -> auto& { return c.http.max_connections; },
            "when all are taken, the connection idle the longest between two requests is "
            "closed for a new one; only when none is idle is the new one refused"),
        integer_field(
            {.key = "http.max_connections_per_peer",
             .env = "METRICSD_HTTP_MAX_CONNECTIONS_PER_PEER",
             .help = "Concurrent HTTP connections from one IP address (0: no cap)"},
            0, 100'000, [](auto& c) -> auto& { return c.http.max_connections_per_peer; },
            "more are closed unserved"),
        integer_field(
            {.key = "http.keep_alive_idle_s",
             .env = "METRICSD_HTTP_KEEP_ALIVE_IDLE_S",
             .help = "Seconds a kept-alive HTTP connection may wait for its next request"},
            1, 3600, [](auto& c) -> auto& { return c.http.keep_alive_idle; },
            "Prometheus reconnects at no cost when it finds the connection closed"),
        integer_field(
            {.key = "http.scrape_progress_timeout_s",
             .env = "METRICSD_HTTP_SCRAPE_PROGRESS_TIMEOUT_S",
             .help = "Seconds a /metrics reader may take to accept one slice of the body"},
            1, 3600, [](auto& c) -> auto& { return c.http.scrape_progress_timeout; },
            "a reader that stalls longer is dropped; a render shared with it waits at most that"),
        integer_field(
            {.key = "http.scrape_slice_bytes",
             .env = "METRICSD_HTTP_SCRAPE_SLICE_BYTES",
             .help = "Bytes of /metrics rendered between two turns of the event loop"},
            4096, 16u << 20, [](auto& c) -> auto& { return c.http.scrape_slice_bytes; },
            "a render in flight holds one slice (two with gzip, plus ~256 KiB of zlib state); "
            "at most 4 renders run at once"),
        config_field{
            {.key = "backend",
             .env = "METRICSD_BACKEND",
             .flag = "--backend",
             .help = "Where aggregated values live",
             .allowed = backend_choices(),
             .usage_checked = true},
            {.notes = "`memory`: in the daemon, persisted by `state.file`; `redis`: "
                      "pytheus-compatible keys"},
            [](const config& c) -> setting_value { return std::string(to_string(c.backend)); },
            [](config& c, const setting_value& v) { c.backend = backend(v); }},
        choice_field(
            {.key = "log_level",
             .env = "METRICSD_LOG_LEVEL",
             .flag = "--log-level",
             .help = "Log level",
             .usage_checked = true},
            {"trace", "debug", "info", "warn", "error", "critical", "off"},
            [](auto& c) -> auto& { return c.log_level; }),
        integer_field(
            {.key = "shutdown_timeout_s",
             .env = "METRICSD_SHUTDOWN_TIMEOUT_S",
             .help = "Seconds the shutdown drain may take before a hard stop"},
            1, 3600, [](auto& c) -> auto& { return c.shutdown_timeout; }),
        secret(text_field(
            {.key = "redis.url",
             .env = "METRICSD_REDIS_URL",
             .flag = "--redis-url",
             .help = "Redis backend: redis://[[user]:password@]HOST[:PORT][/DB] or unix:///PATH"},
            [](auto& c) -> auto& { return c.redis.url; }, redis_url,
            {.values = "see `daemon/config/redis_url.hpp`; also `unix:///PATH?db=N`",
             .pattern = "^(redis|unix|redis\\+unix)://.+"})),
        text_field({.key = "redis.key_prefix",
                    .env = "METRICSD_REDIS_KEY_PREFIX",
                    .flag = "--redis-key-prefix",
                    .help = "Redis keys are PREFIX-name (as pytheus)"},
                   [](auto& c) -> auto& { return c.redis.key_prefix; }, text,
                   {.values = "any text"}),
        integer_field(
            {.key = "redis.expire_key_time",
             .env = "METRICSD_REDIS_EXPIRE_KEY_TIME",
             .flag = "--redis-expire-key-time",
             .help = "Seconds before an untouched Redis key expires"},
            1, 31'536'000, [](auto& c) -> auto& { return c.redis.expire_key_time; },
            "`EXPIRE` is set on every key a flush touches"),
        integer_field(
            {.key = "redis.flush_interval_ms",
             .env = "METRICSD_REDIS_FLUSH_INTERVAL_MS",
             .flag = "--redis-flush-interval-ms",
             .help = "Milliseconds between flushes to Redis"},
            1, 60'000, [](auto& c) -> auto& { return c.redis.flush_interval; },
            "one pipelined round trip each"),
        integer_field(
            {.key = "redis.live_lease_ms",
             .env = "METRICSD_REDIS_LIVE_LEASE_MS",
             .flag = "--redis-live-lease-ms",
             .help = "Milliseconds a dead daemon's live* gauge values stay in Redis"},
            100, 3'600'000, [](auto& c) -> auto& { return c.redis.live_lease; },
            "counted from the last renewal (every third of it) when the daemon dies without a "
            "final flush"),
        integer_field(
            {.key = "limits.max_connections",
             .env = "METRICSD_LIMITS_MAX_CONNECTIONS",
             .flag = "--max-connections",
             .help = "Concurrent ingest connections"},
            1, 1'000'000, [](auto& c) -> auto& { return c.limits.max_connections; },
            "more get an ERROR and are closed"),
        integer_field(
            {.key = "limits.max_series",
             .env = "METRICSD_LIMITS_MAX_SERIES",
             .flag = "--max-series",
             .help = "Series in total"},
            1, 100'000'000, [](auto& c) -> auto& { return c.limits.max_series; }),
        integer_field(
            {.key = "limits.max_series_per_family",
             .env = "METRICSD_LIMITS_MAX_SERIES_PER_FAMILY",
             .flag = "--max-series-per-family",
             .help = "Series per metric family"},
            1, 100'000'000, [](auto& c) -> auto& { return c.limits.max_series_per_family; }),
        integer_field(
            {.key = "limits.max_families",
             .env = "METRICSD_LIMITS_MAX_FAMILIES",
             .flag = "--max-families",
             .help = "Metric families"},
            1, 1'000'000, [](auto& c) -> auto& { return c.limits.max_families; }),
        integer_field(
            {.key = "limits.max_label_value_length",
             .env = "METRICSD_LIMITS_MAX_LABEL_VALUE_LENGTH",
             .flag = "--max-label-value-length",
             .help = "Bytes per label value",
             .usage_checked = true},
            1, 4096, [](auto& c) -> auto& { return c.limits.max_label_value_length; }),
        integer_field(
            {.key = "limits.max_frame",
             .env = "METRICSD_LIMITS_MAX_FRAME",
             .flag = "--max-frame",
             .help = "Largest ingest frame payload, bytes",
             .usage_checked = true},
            4096, protocol::limits::max_frame_payload,
            [](auto& c) -> auto& { return c.limits.max_frame; }, "the protocol's limit"),
        integer_field(
            {.key = "limits.max_pending_connections",
             .env = "METRICSD_LIMITS_MAX_PENDING_CONNECTIONS",
             .flag = "--max-pending-connections",
             .help = "Ingest connections that have not completed the handshake"},
            1, 1'000'000, [](auto& c) -> auto& { return c.limits.max_pending_connections; },
            "beyond it the oldest of them is closed (`too_many_connections`); part of "
            "`max_connections`"),
        integer_field(
            {.key = "limits.handshake_timeout_ms",
             .env = "METRICSD_LIMITS_HANDSHAKE_TIMEOUT_MS",
             .flag = "--handshake-timeout-ms",
             .help = "Milliseconds an ingest connection has to complete the handshake"},
            100, 3'600'000, [](auto& c) -> auto& { return c.limits.handshake_timeout; },
            "then it is closed (`handshake_timeout`)"),
        integer_field(
            {.key = "limits.idle_timeout_s",
             .env = "METRICSD_LIMITS_IDLE_TIMEOUT_S",
             .flag = "--idle-timeout",
             .help = "Seconds of silence after which an ingest connection may be closed "
                     "(0: never)"},
            0, 31'536'000, [](auto& c) -> auto& { return c.limits.idle_timeout; },
            "only when a new connection needs its slot at `max_connections` (`idle_timeout`); "
            "see [Ingest connection limits](../README.md#ingest-connection-limits)"),
        integer_field(
            {.key = "limits.max_connection_bytes",
             .env = "METRICSD_LIMITS_MAX_CONNECTION_BYTES",
             .flag = "--max-connection-bytes",
             .help = "Memory one ingest connection may hold, bytes"},
            65'536, std::uint64_t{1} << 40,
            [](auto& c) -> auto& { return c.limits.max_connection_bytes; },
            "input being received, output not yet read, handle tables; beyond it the client "
            "gets `connection_memory_limit`"),
        integer_field(
            {.key = "limits.max_ingest_bytes",
             .env = "METRICSD_LIMITS_MAX_INGEST_BYTES",
             .flag = "--max-ingest-bytes",
             .help = "Memory all ingest connections together may hold, bytes"},
            65'536, std::uint64_t{1} << 40,
            [](auto& c) -> auto& { return c.limits.max_ingest_bytes; },
            "the connection whose growth passes it gets `connection_memory_limit`"),
        integer_field(
            {.key = "limits.max_series_label_bytes",
             .env = "METRICSD_LIMITS_MAX_SERIES_LABEL_BYTES",
             .flag = "--max-series-label-bytes",
             .help = "Bytes of label values of one series, in total"},
            1, protocol::limits::max_labels * protocol::limits::max_label_value_length,
            [](auto& c) -> auto& { return c.limits.max_series_label_bytes; },
            "a series over it is refused (`invalid_label_value`)"),
        integer_field(
            {.key = "limits.max_store_bytes",
             .env = "METRICSD_LIMITS_MAX_STORE_BYTES",
             .flag = "--max-store-bytes",
             .help = "Memory the store may hold: families, series and label values, bytes"},
            1'048'576, std::uint64_t{1} << 40,
            [](auto& c) -> auto& { return c.limits.max_store_bytes; },
            "a new family or series beyond it is refused (`total_series_limit`); a counter "
            "with two short labels costs 112 B, see [Worst-case memory](../README.md"
            "#worst-case-memory-and-a-1-gib-host)"),
        text_field({.key = "access.allow_users",
                    .env = "METRICSD_ACCESS_ALLOW_USERS",
                    .flag = "--allow-users",
                    .help = "Users (names or uids, comma-separated) that may connect to the "
                            "ingest socket"},
                   [](auto& c) -> auto& { return c.access.allow_users; }, principal_list,
                   {.values = "`alice,1001`, or `\"\"`",
                    .notes = "checked with the kernel's SO_PEERCRED at accept; others get "
                             "`peer_not_allowed`. With `allow_groups` also empty, whoever can "
                             "open the socket may write"}),
        text_field({.key = "access.allow_groups",
                    .env = "METRICSD_ACCESS_ALLOW_GROUPS",
                    .flag = "--allow-groups",
                    .help = "Groups (names or gids, comma-separated) whose members may connect "
                            "to the ingest socket"},
                   [](auto& c) -> auto& { return c.access.allow_groups; }, principal_list,
                   {.values = "`metrics,1002`, or `\"\"`",
                    .notes = "primary or supplementary group of the connecting process"}),
        text_field({.key = "access.family_owners",
                    .env = "METRICSD_ACCESS_FAMILY_OWNERS",
                    .flag = "--family-owners",
                    .help = "Families only some users/groups may declare: GLOB=OWNER+@GROUP,..."},
                   [](auto& c) -> auto& { return c.access.family_owners; }, family_owner_rules,
                   {.values = "`myapp_*=alice+@web,http_*=1001`, or `\"\"`",
                    .notes = "the first glob that matches decides; others get "
                             "`family_not_permitted`; families no glob matches are open"}),
        integer_field(
            {.key = "access.max_families_per_uid",
             .env = "METRICSD_ACCESS_MAX_FAMILIES_PER_UID",
             .flag = "--max-families-per-uid",
             .help = "Families one uid may create (0: no quota)"},
            0, 1'000'000, [](auto& c) -> auto& { return c.access.max_families_per_uid; },
            "beyond it the uid's new families get `peer_family_quota`; declaring existing ones "
            "still works"),
        integer_field(
            {.key = "access.max_series_per_uid",
             .env = "METRICSD_ACCESS_MAX_SERIES_PER_UID",
             .flag = "--max-series-per-uid",
             .help = "Series one uid may create (0: no quota)"},
            0, 100'000'000, [](auto& c) -> auto& { return c.access.max_series_per_uid; },
            "beyond it the uid's new series get `peer_series_quota`; a series that expires is "
            "given back"),
        text_field({.key = "web.config_file",
                    .env = "METRICSD_WEB_CONFIG_FILE",
                    .flag = "--web.config.file",
                    .help = "Exporter-style web config (YAML): TLS, basic auth, headers"},
                   [](auto& c) -> auto& { return c.web.config_file; }, web_config_path,
                   {.values = "a file path, or `\"\"`",
                    .notes = "the file Prometheus exporters take (exporter-toolkit); re-read on "
                             "SIGHUP and on a new connection when it changed; see "
                             "[Security](../README.md#security)"}),
        choice_field({.key = "web.healthz",
                      .env = "METRICSD_WEB_HEALTHZ",
                      .flag = "--web.healthz",
                      .help = "Whether /healthz needs the web config's credentials"},
                     {"protected", "open"}, [](auto& c) -> auto& { return c.web.healthz; },
                     {.notes = "`open`: probes need no password (TLS still applies)"}),
        text_field({.key = "state.file",
                    .env = "METRICSD_STATE_FILE",
                    .flag = "--state-file",
                    .help = "Memory backend's state file (\"\": no persistence)"},
                   [](auto& c) -> auto& { return c.state.file; }, state_path,
                   {.values = "a file path, or `\"\"`",
                    .notes = "ignored, with a warning, on the redis backend (totals live in "
                             "Redis); see [The state file](#the-state-file-memory-backend)",
                    .pattern = "^$|[^/]$"}),
        integer_field(
            {.key = "state.snapshot_interval_s",
             .env = "METRICSD_STATE_SNAPSHOT_INTERVAL_S",
             .flag = "--snapshot-interval",
             .help = "Seconds between state snapshots (0: only at shutdown)"},
            0, 86'400, [](auto& c) -> auto& { return c.state.snapshot_interval; }),
        text_field({.key = "spool.dir",
                    .env = "METRICSD_SPOOL_DIR",
                    .flag = "--spool-dir",
                    .help = "Directory where exiting clients that cannot reach the daemon leave "
                            "their ops (\"\": the socket path + \".spool\")"},
                   [](auto& c) -> auto& { return c.spool.dir; }, spool_dir,
                   {.values = "a directory path, or `\"\"`",
                    .notes = "the clients read the same variable; see "
                             "[protocol/SPOOL.md](../protocol/SPOOL.md)"}),
        integer_field(
            {.key = "spool.max_file_bytes",
             .env = "METRICSD_SPOOL_MAX_FILE_BYTES",
             .flag = "--spool-max-file-bytes",
             .help = "Largest spool file read; bigger ones are renamed *.rejected unread"},
            4096, std::uint64_t{1} << 30, [](auto& c) -> auto& { return c.spool.max_file_bytes; },
            "the daemon holds one file at a time in memory while applying it"),
        integer_field({.key = "spool.scan_interval_s",
                       .env = "METRICSD_SPOOL_SCAN_INTERVAL_S",
                       .flag = "--spool-scan-interval",
                       .help = "Seconds between reads of the spool directory (0: only at start)"},
                      0, 3600, [](auto& c) -> auto& { return c.spool.scan_interval; }),
        choice_field({.key = "spool.owners",
                      .env = "METRICSD_SPOOL_OWNERS",
                      .flag = "--spool-owners",
                      .help = "Whose spool files are read: the daemon's uid only, or any uid"},
                     {"daemon", "any"}, [](auto& c) -> auto& { return c.spool.owners; },
                     {.notes = "`any`: the directory's permissions decide who may write "
                               "(it is created 01770)"}),
        config_field{{.key = "series_ttl",
                      .env = "METRICSD_SERIES_TTL",
                      .flag = "--series-ttl",
                      .help = "Drop series idle this long: NAME=SECONDS,...,*=SECONDS "
                              "(* = other families; 0: never)",
                      .is_object = true},
                     {.values = "file: `{\"default_s\": S, \"families\": {NAME: S}}`; "
                                "environment and flag: `NAME=S,...,*=S`; S from 0 to 31536000",
                      .notes = "a dropped counter restarts from zero; see "
                               "[Series expiry](#series-expiry)"},
                     [](const config& c) -> setting_value { return to_string(c.series_ttl); },
                     [](config& c, const setting_value& v) { c.series_ttl = series_ttl(v); },
                     false,
                     series_ttl_from_json,
                     series_ttl_to_json,
                     series_ttl_schema},
    };
    return fields;
}

const std::vector<config_section>& config_sections() {
    static const std::vector<config_section> sections{
        {"http", "The HTTP endpoint: connection slots, keep-alive and streamed scrapes."},
        {"redis", "Redis backend (pytheus-compatible layout)."},
        {"limits", "Limits on what clients can make the daemon hold."},
        {"access", "Who may write: ingest allow-list, family owners, per-uid quotas."},
        {"web", "Who may read: the exporter-style web config (TLS, basic auth)."},
        {"state", "Persistence of the memory backend's counters, histograms and summaries."},
        {"spool", "Ops of clients that exited while the daemon was unreachable, read back "
                  "exactly once."},
    };
    return sections;
}

const config_field* find_field(std::string_view key) {
    for (const auto& f : config_fields())
        if (f.name.key == key)
            return &f;
    return nullptr;
}

} // namespace metricsd::daemon::detail

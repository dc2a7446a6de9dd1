// Where metricsd's data lives in Redis: key names, cell names, number texts and the family
// metadata record. Pure. daemon/redis/REDIS_LAYOUT.md is the long form, with examples.
//
// Data (same bytes as pytheus's MultiProcessRedisBackend, so both share series):
//   [prefix-]name                 counter / gauge: STRING if unlabelled, else HASH
//   [prefix-]name:<bound text>    histogram bucket (cumulative), bound as declared ("2.5")
//   [prefix-]name:+Inf            histogram +Inf bucket (= count)
//   [prefix-]name:sum             histogram / summary sum
//   [prefix-]name:count           histogram / summary count
//   HASH field = json.dumps(dict(zip(label_names, values))), e.g. {"method": "GET"}
//   values: decimal text, written by INCRBYFLOAT / HINCRBYFLOAT (SET / HSET: shared gauges)
// metricsd only (pytheus never reads them):
//   [prefix-]metricsd:meta               HASH: family name -> JSON record (type, mode, help,
//                                        labels, buckets), so any daemon can export any family
//   [prefix-]metricsd:flushseq:<daemon>  STRING: the last flush sequence number applied,
//                                        set inside each flush's MULTI/EXEC (exactly-once)
//   [prefix-]metricsd:live:<daemon>      HASH: the daemon's live* gauge shares, leased
//   [prefix-]metricsd:daemons            SET: daemons that may have a live key
// Every key written gets EXPIRE <expire_key_time> (default 3600 s, as pytheus).
#pragma once

#include "daemon/store/family_spec.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

/// pytheus's EXPIRE_KEY_TIME: keys untouched this long vanish.
inline constexpr std::int64_t default_expire_key_seconds = 3600;

/// Histogram / summary cell suffixes (after `name:`) besides the bound texts.
inline constexpr std::string_view inf_cell = "+Inf";
inline constexpr std::string_view sum_cell = "sum";
inline constexpr std::string_view count_cell = "count";

/// `name`, or `prefix-name` when a key_prefix is configured.
std::string data_key(std::string_view prefix, std::string_view name);
/// `[prefix-]name:cell`, e.g. cell_key("", "lat", "0.5") == "lat:0.5".
std::string cell_key(std::string_view prefix, std::string_view name, std::string_view cell);
/// `[prefix-]metricsd:meta`: the HASH of family metadata records.
std::string meta_key(std::string_view prefix);
/// `[prefix-]metricsd:flushseq:<daemon_id>`. daemon_id must be unique per daemon run.
std::string flushseq_key(std::string_view prefix, std::string_view daemon_id);
/// `[prefix-]metricsd:live:<daemon_id>`: HASH of one daemon's live* gauge contributions, with a
/// short lease (PEXPIRE) so a daemon that dies without cleaning up drops out on its own.
std::string live_key(std::string_view prefix, std::string_view daemon_id);
/// `[prefix-]metricsd:daemons`: SET of the daemon ids that may have a live key.
std::string daemons_key(std::string_view prefix);

/// Whether a family's contributions live in per-daemon live keys: gauges in a live* mode,
/// whose value must leave Redis with the daemon that holds the workers.
bool uses_live_key(const family_spec& spec) noexcept;
/// Field of a live key: `<family name> <label JSON>` (redis_label_names, so `pid` last for
/// liveall; `{}` without labels). Names never contain a space, so the first one splits.
std::string live_field(const family_spec& spec, std::span<const std::string> label_values);
/// Value of a live key's field: `<number> <unix ms of the write that set it>` (the stamp orders
/// livemostrecent across daemons).
std::string live_value(double v, std::int64_t stamp_ms);
/// Split a live value; nullopt unless it is `<number>` or `<number> <integer>`.
std::optional<std::pair<double, std::int64_t>> parse_live_value(std::string_view text);

/// The cell suffixes of a histogram (bound texts then +Inf, sum, count) or a summary (sum,
/// count), in that order; empty for counters and gauges (their key is the data key).
std::vector<std::string_view> cell_names(const family_spec& spec);

/// Every cell suffix a writer may have used for histogram bound `bound` declared as `declared`:
/// `declared` first, then Python's `str(float(b))` ("1.0", "0.005", "1e-05") and, for an
/// integral bound, `str(int(b))` ("1"), each once. pytheus names a bucket key `str(b)` of the
/// bound its user gave (an int in its default buckets: `lat:1`), metricsd clients the declared
/// text (`lat:1.0`): the scrape reads every spelling of a bound and adds them up.
std::vector<std::string> bound_spellings(std::string_view declared, double bound);

/// The label names used in hash fields: the declared ones, plus `pid` last for the per-pid
/// gauge modes (all, liveall), whose series are one per process.
std::vector<std::string> redis_label_names(const family_spec& spec);

/// A double as an INCRBYFLOAT/SET argument: shortest round-trip text ("3", "0.1", "1e-07"),
/// "inf"/"-inf"/"nan" as Python's repr would (only SET accepts those). Locale-free.
void append_redis_number(std::string& out, double v);
/// Parse a number Redis or redis-py wrote: "10.5", "3", "-0", "1e+20",
/// "100000000000000000000", "inf", "nan", an optional leading '+'. Locale-free;
/// nullopt on empty input, spaces or trailing garbage.
std::optional<double> parse_redis_number(std::string_view text);

/// The metadata record of a family:
/// `{"type": "histogram", "mode": "livesum", "help": "...", "labels": ["a"], "buckets": ["1"]}`
/// (Python json.dumps spelling; buckets are the declared texts).
std::string encode_family_meta(const family_spec& spec);
/// Rebuild a validated family_spec from its name and record (any member order; unknown members
/// ignored so later versions can add some). nullopt when malformed or invalid as a declaration.
std::optional<family_spec> decode_family_meta(std::string_view name, std::string_view record);

} // namespace metricsd::daemon

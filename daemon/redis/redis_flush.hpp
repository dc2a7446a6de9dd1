// Planning one Redis flush: coalesced per-series deltas -> one MULTI/EXEC pipeline as RESP
// bytes, and checking its replies. Pure: the event-loop sink writes the bytes and feeds the
// replies back. Layout in daemon/redis/redis_layout.hpp and daemon/redis/REDIS_LAYOUT.md.
#pragma once

#include "daemon/store/family_spec.hpp"
#include "daemon/redis/redis_codec.hpp"
#include "daemon/redis/redis_layout.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

/// One series' change since the last flush, folded from any number of ops.
struct series_delta {
    enum class kind : std::uint8_t { add, set, remove };
    const family_spec* family = nullptr;   ///< must outlive the plan_flush call
    std::vector<std::string> label_values; ///< in redis_label_names(*family) order
    /// add: INCRBYFLOAT/HINCRBYFLOAT by `value` (counters, summing gauges, and negative deltas
    /// that take a retired worker's live* contribution back out). set: SET/HSET to `value`
    /// (gauges only). remove: HDEL the field, or DEL an unlabelled key (gauges only: a
    /// live-mode gauge with no worker left, a liveall pid that left).
    kind op = kind::add;
    double value = 0;
    /// Histograms: per-bucket increments, not cumulative, one per bound then +Inf.
    std::vector<double> bucket_deltas;
    double sum = 0;   ///< histograms and summaries
    double count = 0; ///< histograms and summaries
    /// live* gauges: this daemon's own contribution, written (set) to or removed from its live
    /// key instead of the shared data key; `stamp_ms` is stored beside the value.
    bool live = false;
    std::int64_t stamp_ms = 0;
    /// Histograms: write every bucket cell, unchanged ones as +0, not only the changed ones.
    /// Set for this daemon's first write of a series: pytheus creates every bucket field when
    /// a process starts and its reader prints only the fields it finds, so a series missing
    /// one would show an incomplete bucket set there.
    bool every_bucket = false;
};

/// Default lease of a daemon's live key: how long its live* gauge contributions outlast it
/// when it dies without a final flush.
inline constexpr std::int64_t default_live_lease_ms = 15'000;

/// Default lifetime of a flush sequence key: long enough to outlast any reconnect.
inline constexpr std::int64_t default_flushseq_expire_seconds = 7 * 24 * 3600;

/// Everything one flush writes.
struct flush_request {
    std::string_view prefix;    ///< key_prefix, empty for none
    std::string_view daemon_id; ///< unique per daemon run; names the flushseq key
    std::uint64_t seq = 0;      ///< this flush's number, > every earlier one of this daemon
    std::int64_t expire_seconds = default_expire_key_seconds;
    std::int64_t seq_expire_seconds = default_flushseq_expire_seconds;
    std::span<const series_delta> deltas{};
    /// Families whose records to write with HSETNX: a record another daemon wrote first is
    /// never overwritten (the scrape reports a conflicting one).
    std::span<const family_spec* const> metadata{};
    /// Families whose data keys (all cells) only get their EXPIRE refreshed, so series that
    /// saw no op for a while do not vanish while this daemon still has them.
    std::span<const family_spec* const> refresh{};
    /// The live key: `live_keepalive` renews its lease (and the daemon's place in the daemons
    /// set), as does any live delta; `live_retire` deletes it (a daemon's final flush);
    /// `stale_daemons` are taken out of the daemons set (their live keys expired).
    std::int64_t live_lease_ms = default_live_lease_ms;
    bool live_keepalive = false;
    bool live_retire = false;
    std::span<const std::string> stale_daemons{};
};

/// A pipeline ready to write in one go.
struct flush_plan {
    std::string bytes;       ///< RESP: MULTI, the commands, SET flushseq, EXEC
    std::size_t replies = 0; ///< replies to read: one per command, MULTI and EXEC included
    std::size_t queued = 0;  ///< commands inside MULTI/EXEC (size of EXEC's array)
    std::size_t skipped = 0; ///< deltas left out: wrong label count or bucket count,
                             ///< non-finite add, set on a non-gauge, null family
};

/// Build the flush: for each delta its data commands (histograms: cumulative bucket cells,
/// +Inf, sum, count), HSETNX of each metadata record, one EXPIRE per touched or refreshed key
/// (first-touch order, deduplicated), `SET flushseq <seq> EX <seq_expire>`, inside MULTI/EXEC.
/// Every delta given is written, zero ones too (they refresh the TTL). Never fails; see `skipped`.
flush_plan plan_flush(const flush_request& request);

/// How a MULTI/EXEC pipeline ended.
struct transaction_outcome {
    enum class status : std::uint8_t {
        applied,   ///< EXEC ran every queued command (some may have failed: error_elements)
        aborted,   ///< EXEC returned nil or EXECABORT: nothing was applied
        unexpected ///< the replies do not look like our pipeline: drop the connection
    };
    status state = status::unexpected;
    std::size_t error_elements = 0;   ///< applied: commands that returned an error
    std::string first_error;          ///< the first error text seen, for the log
    const redisReply* exec = nullptr; ///< applied: EXEC's array (owned by the replies)
};

/// Check `1 + queued + 1` replies: +OK, `queued` times +QUEUED (an error there makes Redis
/// abort the EXEC), then EXEC's array of exactly `queued` elements.
transaction_outcome check_transaction(std::span<const reply_ptr> replies, std::size_t queued);

/// After a reconnect, whether an unconfirmed flush was applied: `GET flushseq` as RESP.
std::string plan_flushseq_probe(std::string_view prefix, std::string_view daemon_id);

enum class flushseq_state : std::uint8_t { applied, not_applied, unknown };
/// Read the probe's reply for flush `seq`: applied when the key holds `seq` (EXEC is atomic,
/// so the whole flush landed; do not resend), not_applied when it is absent or older (resend
/// the same deltas), unknown on errors or a larger number (another run with this daemon id).
flushseq_state check_flushseq_probe(const redisReply& reply, std::uint64_t seq);

} // namespace metricsd::daemon

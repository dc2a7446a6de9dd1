// Planning the read side of the Redis backend: the family metadata, then one MULTI/EXEC that
// snapshots every data key, and turning the replies into per-series values. Pure. Bad data
// written by others is skipped and counted, never a failed scrape.
#pragma once

#include "daemon/store/family_spec.hpp"
#include "daemon/redis/redis_codec.hpp"
#include "daemon/redis/redis_series_table.hpp"

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

/// `HGETALL [prefix-]metricsd:meta` as RESP (one reply; no transaction needed).
std::string plan_meta_read(std::string_view prefix);

/// Families found in the metadata hash.
struct meta_read {
    std::vector<family_spec> families; ///< ordered by name
    std::size_t malformed = 0;         ///< records that do not decode or validate
    bool ok = false;                   ///< false: the reply was not a hash (error, wrong type)
};
meta_read parse_meta_reply(const redisReply& reply);

/// `SMEMBERS [prefix-]metricsd:daemons` as RESP: the daemons that may hold live contributions.
std::string plan_daemons_read(std::string_view prefix);
/// The daemon ids in the reply, sorted; empty for an absent key or a reply of another type.
std::vector<std::string> parse_daemons_reply(const redisReply& reply);

/// One snapshot read: MULTI, one GET or HGETALL per data key of each family, one HGETALL per
/// daemon's live key, EXEC.
struct scrape_plan {
    static constexpr std::size_t no_daemon = static_cast<std::size_t>(-1);
    struct slot {
        std::size_t family = 0;         ///< index into the families given to plan_scrape
        std::size_t cell = 0;           ///< index into cell_names(spec); 0 for counters and gauges
        std::size_t daemon = no_daemon; ///< a live key: index into the daemons given
        /// Which position hints of the table the read uses: `cell` for a cell's own key, past
        /// the cells for a bucket's other spellings (bound_spellings), which read into the
        /// same cell but come back in their own field order.
        std::size_t hint = 0;
    };
    std::string bytes;
    std::size_t replies = 0; ///< MULTI + queued + EXEC
    std::size_t queued = 0;
    std::vector<slot> slots; ///< what each queued command reads, in order
};
/// Unlabelled families are read with GET, labelled ones with HGETALL (pytheus's types). A
/// histogram bucket is read under every spelling of its bound (`lat:1.0` and `lat:1`), added
/// into one cell, so buckets written by pytheus and by metricsd clients stay one cumulative
/// series whatever text each gave.
scrape_plan plan_scrape(std::string_view prefix, std::span<const family_spec* const> families,
                        std::span<const std::string> daemons = {});

/// An empty table for one family's data keys, or (`live`) for its share in a live key.
series_table table_for(const family_spec& spec, bool live = false);

/// Tables of an earlier scrape, to read the next snapshot into (see series_table): data tables
/// by family name, live-key tables by `<daemon id> <family name>`.
using table_pool = std::map<std::string, series_table, std::less<>>;

/// What one daemon's live key holds, per family (parallel to the families read; tables of
/// families not in a live* mode stay empty).
struct daemon_live {
    std::string id;
    bool present = false; ///< false: its key is gone (lease expired): the id is stale
    std::vector<series_table> families;
};

struct scrape_result {
    bool ok = false;   ///< false: the transaction did not run; nothing below is meaningful
    std::string error; ///< why not, for the log
    std::vector<series_table> families; ///< parallel to plan_scrape's families
    std::vector<daemon_live> live;            ///< parallel to plan_scrape's daemons
    std::size_t malformed_fields = 0;         ///< hash fields that are not our label JSON
    std::size_t wrong_type_keys = 0;          ///< WRONGTYPE (or other) error elements
    std::size_t bad_values = 0;               ///< values that are not numbers
};

/// Turn the pipeline's replies into series. Hash fields that differ only in JSON key order
/// (or escape spelling) land in one series and their values are added together. A missing key
/// is an empty family; a missing histogram cell reads as 0. Tables found in `reuse` (taken out
/// of it) are read into again, their rows kept; the others start empty.
scrape_result parse_scrape(const scrape_plan& plan, std::span<const family_spec* const> families,
                           std::span<const reply_ptr> replies,
                           std::span<const std::string> daemons = {}, table_pool* reuse = nullptr);

} // namespace metricsd::daemon

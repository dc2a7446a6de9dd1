// Planning the read side of the Redis backend: the family metadata, then one MULTI/EXEC that
// snapshots every data key, and turning the replies into per-series values. Pure. Bad data
// written by others is skipped and counted, never a failed scrape.
#pragma once

#include "daemon/family.hpp"
#include "daemon/redis_codec.hpp"
#include "daemon/series.hpp"

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

/// One snapshot read: MULTI, one GET or HGETALL per data key of each family, EXEC.
struct scrape_plan {
    struct slot {
        std::size_t family = 0; ///< index into the families given to plan_scrape
        std::size_t cell = 0;   ///< index into cell_names(spec); 0 for counters and gauges
    };
    std::string bytes;
    std::size_t replies = 0; ///< MULTI + queued + EXEC
    std::size_t queued = 0;
    std::vector<slot> slots; ///< what each queued command reads, in order
};
/// Unlabelled families are read with GET, labelled ones with HGETALL (pytheus's types).
scrape_plan plan_scrape(std::string_view prefix, std::span<const family_spec* const> families);

/// Values of one series as stored in Redis.
struct scraped_series {
    double value = 0;               ///< counters and gauges
    std::vector<double> cumulative; ///< histograms: per bound then +Inf, cumulative as stored
    double sum = 0;                 ///< histograms and summaries
    double count = 0;               ///< histograms and summaries
};
using scraped_series_map = std::map<std::vector<std::string>, scraped_series, label_values_less>;

struct scrape_result {
    bool ok = false;   ///< false: the transaction did not run; nothing below is meaningful
    std::string error; ///< why not, for the log
    std::vector<scraped_series_map> families; ///< parallel to plan_scrape's families
    std::size_t malformed_fields = 0;         ///< hash fields that are not our label JSON
    std::size_t wrong_type_keys = 0;          ///< WRONGTYPE (or other) error elements
    std::size_t bad_values = 0;               ///< values that are not numbers
};

/// Turn the pipeline's replies into series. Hash fields that differ only in JSON key order
/// (or escape spelling) land in one series and their values are added together. A missing key
/// is an empty family; a missing histogram cell reads as 0.
scrape_result parse_scrape(const scrape_plan& plan, std::span<const family_spec* const> families,
                           std::span<const reply_ptr> replies);

} // namespace metricsd::daemon

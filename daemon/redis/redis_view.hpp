// What a scrape shows on the Redis backend: every family any daemon sharing the Redis declared,
// with the values of one Redis snapshot plus this daemon's not-yet-flushed deltas, handed to
// the exposition's writers as they are. Pure.
#pragma once

#include "daemon/exposition/exposition.hpp"
#include "daemon/redis/redis_flush.hpp"
#include "daemon/redis/redis_scrape.hpp"
#include "daemon/store/store.hpp"

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace metricsd::daemon {

/// The families one scrape reads: the store's own, then those only the metadata hash knows.
struct scrape_selection {
    std::vector<std::unique_ptr<family_spec>> remote; ///< owned copies of metadata-only families
    std::vector<const family_spec*> families;         ///< store's and remote, ordered by name
    /// Families whose record differs from this daemon's declaration, or that would expose a
    /// sample name another family already exposes: `name: why`. The local one is exported.
    std::vector<std::string> conflicts;
};
scrape_selection select_families(const store& st, const meta_read& meta);

/// The families of one snapshot of `selected` plus `pending` (pending_deltas()), ready to
/// render. live* gauges combine, by their mode, the data key (pytheus writers) and every
/// daemon's live key, this daemon's (`own_daemon`) brought up to date by its pending deltas.
/// Its tables go back to the next snapshot (recycle) once no scrape renders it any more: the
/// backend keeps the last view, so an unchanged Redis is read without rebuilding any row.
class redis_view {
public:
    redis_view(const scrape_selection& selected, scrape_result snapshot,
               std::span<const series_delta> pending, std::string_view own_daemon = {});

    /// Append every family (no trailer), ordered by name.
    void render(exposition_format f, std::string& out) const;

    /// Move every table into `pool` for the next parse_scrape; the view is empty afterwards.
    void recycle(table_pool& pool);

private:
    /// Copies: the selection (and its metadata-only families) is gone by the time we render.
    std::vector<family_spec> specs_;
    /// Each family's series as read, parallel to specs_. Per-pid gauges keep `pid` last.
    std::vector<series_table> families_;
    /// The live keys' tables, combined into families_ already: kept only for recycle().
    std::vector<std::pair<std::string, series_table>> live_;
};

} // namespace metricsd::daemon

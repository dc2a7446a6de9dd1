// The store as an exposition source: its families, series and cells handed to the writers of
// exposition.hpp, at once or in slices. Pure. io_context thread only, like the store.
#pragma once

#include "daemon/exposition/exposition.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace metricsd::daemon {

class store;
class family;

/// Append one family of the store (HELP, TYPE, samples), without a trailer: series ordered by
/// label values, per-pid gauges by pid; series hidden by series expiry left out.
void render_family(const family& fam, exposition_format f, std::string& out);

/// Append every family of the store, ordered by name, without a trailer: the caller adds the
/// daemon's own families, then render_trailer().
void render_families(const store& s, exposition_format f, std::string& out);

/// Where a sliced render of the store stands between two slices. It holds the names of the
/// last family and series written, not iterators or pointers: between slices the event loop
/// applies ingest, which may create series and series expiry may erase them, and the next
/// slice finds its place again by name (the first series after the last one written).
/// Series created meanwhile behind the cursor are left for the next scrape, those ahead are
/// included; erased ones simply no longer appear.
struct store_cursor {
    std::string family;                   ///< the family being written; empty: not begun
    std::vector<std::string> last_series; ///< its last series written (label values)
    bool in_family = false;               ///< `family`'s HELP and TYPE are written
    bool has_last = false;                ///< `last_series` holds a series
    bool done = false;                    ///< every family is written
};

/// Append the store's families from `cursor` on, in the order of render_families(), until
/// `out` holds at least `budget` bytes or the store is written; moves the cursor along.
/// Returns true when the store is written (the caller then adds its own families and the
/// trailer). A series is always written whole, from one moment: buckets, `_sum` and `_count`
/// agree. Concatenating the slices gives exactly render_families() of an unchanged store.
bool render_families_slice(const store& s, exposition_format f, store_cursor& cursor,
                           std::string& out, std::size_t budget);

} // namespace metricsd::daemon

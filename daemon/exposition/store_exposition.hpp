// The store as an exposition source: its families, series and cells handed to the writers of
// exposition.hpp. Pure. io_context thread only, like the store.
#pragma once

#include "daemon/exposition/exposition.hpp"

#include <string>

namespace metricsd::daemon {

class store;
class family;

/// Append one family of the store (HELP, TYPE, samples), without a trailer: series ordered by
/// label values, per-pid gauges by pid; series hidden by series expiry left out.
void render_family(const family& fam, exposition_format f, std::string& out);

/// Append every family of the store, ordered by name, without a trailer: the caller adds the
/// daemon's own families, then render_trailer().
void render_families(const store& s, exposition_format f, std::string& out);

} // namespace metricsd::daemon

// Who may write what: the ingest allow-list (which uids/gids may connect at all), family
// ownership rules (which uids/gids may declare, and so write, the families a glob names) and
// per-uid quotas. Built once at start-up from the configuration; checked at accept and at each
// declaration. The defaults (all empty, quotas 0) allow everything, as on a single-user host.
// Pure.
#pragma once

#include "daemon/access/peer_identity.hpp"
#include "daemon/access/principals.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

/// `pattern` ("myapp_*", "job_?_total") names families only `owners` may declare.
struct family_owner_rule {
    std::string pattern;
    principal_set owners;
};

/// `*` matches any run of characters (also none), `?` exactly one; everything else itself.
bool glob_match(std::string_view pattern, std::string_view name) noexcept;

/// "GLOB=PRINCIPALS,GLOB=PRINCIPALS" (PRINCIPALS as parse_principals: "alice+@web"). Globs
/// use metric name characters plus * and ?. Throws access_error.
std::vector<family_owner_rule> parse_family_owners(std::string_view text,
                                                   const principal_resolver& resolve);

struct access_policy {
    /// Who may connect to the ingest socket; empty: whoever can open it (its file mode).
    principal_set allowed;
    /// In order; the first rule whose glob matches a family decides. No match: anyone.
    std::vector<family_owner_rule> family_owners;
    std::uint64_t max_families_per_uid = 0; ///< families one uid may create; 0: no quota
    std::uint64_t max_series_per_uid = 0;   ///< series one uid may create; 0: no quota

    bool admits(const peer_identity& peer) const noexcept {
        return allowed.empty() || allowed.contains(peer);
    }
    /// The rule that reserves `family` for others than `peer`, or nullptr when it may declare it.
    const family_owner_rule* refusing_rule(std::string_view family,
                                           const peer_identity& peer) const noexcept;
};

} // namespace metricsd::daemon

// Who is on the other end of an ingest connection, as the kernel reports it (SO_PEERCRED and
// SO_PEERGROUPS at accept), never as the client claims. Pure.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace metricsd::daemon {

struct peer_identity {
    std::int64_t pid = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;               ///< primary group
    std::vector<std::uint32_t> groups{}; ///< supplementary groups (may repeat gid)

    bool in_group(std::uint32_t g) const noexcept {
        return gid == g || std::find(groups.begin(), groups.end(), g) != groups.end();
    }
};

} // namespace metricsd::daemon

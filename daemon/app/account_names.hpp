// User and group names as the system knows them (getpwnam_r/getgrnam_r: /etc/passwd, NSS), for
// the access settings. Start-up only: a lookup may block on NSS, so never on the loop.
#pragma once

#include "daemon/access/principals.hpp"

namespace metricsd::daemon {

/// Resolves user names with getpwnam_r and group names with getgrnam_r.
principal_resolver system_accounts();

} // namespace metricsd::daemon

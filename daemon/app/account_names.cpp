#include "daemon/app/account_names.hpp"

#include <grp.h>
#include <pwd.h>
#include <string>
#include <vector>

namespace metricsd::daemon {

principal_resolver system_accounts() {
    return [](principal_kind kind, std::string_view name) -> std::optional<std::uint32_t> {
        const std::string key(name);
        std::vector<char> buf(16 * 1024);
        if (kind == principal_kind::user) {
            passwd pw{};
            passwd* found = nullptr;
            if (::getpwnam_r(key.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
                return std::nullopt;
            return found->pw_uid;
        }
        group gr{};
        group* found = nullptr;
        if (::getgrnam_r(key.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || !found)
            return std::nullopt;
        return found->gr_gid;
    };
}

} // namespace metricsd::daemon

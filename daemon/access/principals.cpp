#include "daemon/access/principals.hpp"

#include <algorithm>
#include <charconv>

namespace metricsd::daemon {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ')
        s.remove_suffix(1);
    return s;
}

} // namespace

bool principal_set::contains(const peer_identity& peer) const noexcept {
    if (std::find(uids.begin(), uids.end(), peer.uid) != uids.end())
        return true;
    return std::any_of(gids.begin(), gids.end(), [&](std::uint32_t g) { return peer.in_group(g); });
}

std::vector<std::string_view> split_list(std::string_view text, char sep) {
    std::vector<std::string_view> items;
    if (trim(text).empty())
        return items;
    for (;;) {
        const auto at = text.find(sep);
        items.push_back(trim(text.substr(0, at)));
        if (at == std::string_view::npos)
            break;
        text.remove_prefix(at + 1);
    }
    return items;
}

std::uint32_t resolve_principal(principal_kind kind, std::string_view text,
                                const principal_resolver& resolve) {
    const char* what = kind == principal_kind::user ? "user" : "group";
    if (text.empty())
        throw access_error(std::string("an empty ") + what + " name");
    std::uint32_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec == std::errc() && end == text.data() + text.size())
        return id;
    if (const auto found = resolve ? resolve(kind, text) : std::nullopt)
        return *found;
    throw access_error(std::string("no ") + what + " named \"" + std::string(text) + "\"");
}

std::vector<std::uint32_t> parse_id_list(principal_kind kind, std::string_view text,
                                         const principal_resolver& resolve) {
    std::vector<std::uint32_t> ids;
    for (const auto item : split_list(text, ','))
        ids.push_back(resolve_principal(kind, item, resolve));
    return ids;
}

principal_set parse_principals(std::string_view text, const principal_resolver& resolve) {
    principal_set set;
    for (auto item : split_list(text, '+')) {
        if (!item.empty() && item.front() == '@') {
            item.remove_prefix(1);
            set.gids.push_back(resolve_principal(principal_kind::group, item, resolve));
        } else {
            set.uids.push_back(resolve_principal(principal_kind::user, item, resolve));
        }
    }
    return set;
}

} // namespace metricsd::daemon

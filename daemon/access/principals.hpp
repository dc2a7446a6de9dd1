// Sets of uids and gids, written as text by the operator: "alice,1001" (users) and "metrics"
// (groups) for the ingest allow-list, "alice+@web" (a user and a group) in ownership rules.
// Names are resolved once, at start-up, by the caller's resolver (getpwnam/getgrnam live in
// app/, this library does no IO). Pure.
#pragma once

#include "daemon/access/peer_identity.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

/// A list that names something that does not exist, or does not parse. Start-up only.
class access_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class principal_kind : std::uint8_t { user, group };

/// Name -> id (getpwnam/getgrnam in the daemon; a table in tests); nullopt: no such name.
using principal_resolver =
    std::function<std::optional<std::uint32_t>(principal_kind, std::string_view name)>;

struct principal_set {
    std::vector<std::uint32_t> uids;
    std::vector<std::uint32_t> gids;

    bool empty() const noexcept { return uids.empty() && gids.empty(); }
    /// The peer's uid is listed, or its primary or a supplementary group is.
    bool contains(const peer_identity& peer) const noexcept;
};

/// One name or number: all digits is an id, anything else a name for `resolve`.
std::uint32_t resolve_principal(principal_kind kind, std::string_view text,
                                const principal_resolver& resolve);

/// "alice,1001" as `kind` ids; "" is the empty set. Spaces around items are ignored.
/// Throws access_error naming an unknown name or an empty item.
std::vector<std::uint32_t> parse_id_list(principal_kind kind, std::string_view text,
                                         const principal_resolver& resolve);

/// "alice+@web+1001": users, and groups marked with '@'.
principal_set parse_principals(std::string_view text, const principal_resolver& resolve);

/// Splits on `sep`, trimming spaces; empty input gives no items.
std::vector<std::string_view> split_list(std::string_view text, char sep);

} // namespace metricsd::daemon

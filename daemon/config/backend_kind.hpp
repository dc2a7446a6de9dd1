// Where aggregated values live: the backend setting, parsed once when the configuration is
// read and compared as an enum everywhere after. Pure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace metricsd::daemon {

/// The `backend` setting.
enum class backend_kind : std::uint8_t {
    memory, ///< values in the daemon, persisted by the state file
    redis,  ///< values in Redis, in pytheus's layout
};

/// Every backend with its name in the configuration, in documentation order.
inline constexpr std::array<std::pair<backend_kind, std::string_view>, 2> backend_names{{
    {backend_kind::memory, "memory"},
    {backend_kind::redis, "redis"},
}};

/// "memory", "redis".
constexpr std::string_view to_string(backend_kind b) noexcept {
    for (const auto& [kind, name] : backend_names)
        if (kind == b)
            return name;
    return "?";
}

/// The backend named `name` (exact, lower case), or nothing.
constexpr std::optional<backend_kind> parse_backend(std::string_view name) noexcept {
    for (const auto& [kind, known] : backend_names)
        if (known == name)
            return kind;
    return std::nullopt;
}

} // namespace metricsd::daemon

// Everything a client has declared: family and series handles, deduplicated, and their encoded
// DECLARE frames, which are sent again on every new connection. Not thread-safe: the client
// guards it with its declaration mutex.
#pragma once

#include "validate.hpp"

#include <metricsd/client.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace metricsd::detail {

class registry {
public:
    struct family_result {
        std::uint32_t handle = 0;
        std::size_t label_count = 0;
        bool added = false; ///< false: the same definition was declared before
    };
    struct series_result {
        series_id id; ///< id.slot != no_slot: a gauge whose value the client must keep
        bool added = false;
    };

    /// Validate and bind def to the next family handle, or return the handle under which the
    /// same definition (help aside) was declared. Throws std::invalid_argument (invalid, or the
    /// name declared differently) and std::length_error (handles exhausted).
    family_result add_family(family_def def);
    /// Bind the label values of a declared family to the next series handle, or return the
    /// existing one. Throws std::invalid_argument and std::length_error.
    series_result add_series(std::uint32_t family, std::span<const std::string_view> values);

    /// A declared family's type and bucket bounds (empty unless a histogram).
    protocol::metric_type type_of(std::uint32_t family) const {
        return families_.at(family).def.type;
    }
    const std::vector<double>& bounds_of(std::uint32_t family) const {
        return families_.at(family).bounds;
    }

    /// Every DECLARE frame so far, in declaration order (families before their series).
    std::string_view frames() const noexcept { return frames_; }
    /// Number of tracked gauge values (slots handed out so far, densely from 0).
    std::uint32_t slots() const noexcept { return next_slot_; }

private:
    struct family_entry {
        family_def def;
        std::vector<double> bounds;
        bool tracked = false; ///< its series keep their value for re-sending
        std::unordered_map<std::string, series_id> series; ///< by encoded label values
    };

    void encode_family(std::uint32_t handle, const family_entry& f);

    std::vector<family_entry> families_; ///< indexed by family handle
    std::unordered_map<std::string, std::uint32_t> by_name_;
    std::uint32_t next_series_ = 0;
    std::uint32_t next_slot_ = 0;
    std::string frames_;
};

} // namespace metricsd::detail

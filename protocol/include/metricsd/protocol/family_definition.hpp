// A family declaration that owns its texts: what a client keeps to declare a family again
// after a reconnect, and what the daemon keeps of every family (family_spec adds the parsed
// bounds). The family rules (family_rules.hpp) check it through its family_decl view.
#pragma once

#include <metricsd/protocol/messages.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::protocol {

/// Everything a DECLARE_FAMILY frame carries but the handle, owned.
struct family_definition {
    std::string name;
    std::string help;
    metric_type type = metric_type::counter;
    gauge_mode mode = gauge_mode::livesum;
    std::vector<std::string> label_names;
    std::vector<std::string> bucket_texts; ///< as declared, verbatim (Redis keys use them)
};

/// A family_decl that refers to a family_definition's texts. Valid while the definition is
/// neither changed nor destroyed; moving the view keeps it valid (the spans point into the
/// vectors' heap buffers, which move with them).
class family_decl_view {
public:
    explicit family_decl_view(const family_definition& def, std::uint32_t handle = 0);
    family_decl_view(family_decl_view&&) noexcept = default;
    /// A copy's spans would point into the original's vectors.
    family_decl_view(const family_decl_view&) = delete;
    family_decl_view& operator=(const family_decl_view&) = delete;
    const family_decl& decl() const noexcept { return decl_; }

private:
    std::vector<std::string_view> labels_;
    std::vector<std::string_view> buckets_;
    family_decl decl_;
};

} // namespace metricsd::protocol

// A strict reader of our exposition output, for the fuzz targets: every line is a HELP, TYPE,
// `# EOF` or sample line of the format, every sample belongs to the family whose TYPE came
// last, names and label values are well-formed and escaped, values parse, no series appears
// twice. Independent of the writers in daemon/exposition on purpose.
#pragma once

#include <string>
#include <string_view>

namespace metricsd::fuzz {

struct exposition_rules {
    bool openmetrics = false;
    /// Also check what only our own data guarantees (not data read back from Redis): counter
    /// and count samples are >= 0 and not NaN, histogram buckets are cumulative and the +Inf
    /// bucket equals _count.
    bool semantic = false;
};

/// Empty when `text` is a valid exposition; else what is wrong, with the line.
std::string check_exposition(std::string_view text, const exposition_rules& rules);

} // namespace metricsd::fuzz

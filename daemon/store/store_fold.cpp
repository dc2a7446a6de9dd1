// store::apply_fold: a client's folded observations (PROTOCOL.md section 4.7), kept apart from
// the per-op hot path in store.hpp.
#include "daemon/store/store.hpp"

#include <cmath>

namespace metricsd::daemon {

apply_status store::apply_fold(const binding& b, const protocol::fold& f) noexcept {
    const bool histogram = b.cell == binding::kind::histogram;
    if (!histogram && b.cell != binding::kind::summary)
        return apply_status::invalid_op;
    const std::size_t buckets = histogram ? b.target->owner->spec().bounds.size() + 1 : 0;
    // One observation is never NaN; a NaN sum needs two (+Inf and -Inf), as in the store.
    if (f.buckets() != buckets || (std::isnan(f.sum) && f.count < 2))
        return apply_status::invalid_value;
    note_op(*b.target);
    const auto count = static_cast<double>(f.count);
    if (!histogram) {
        b.target->summary().sum += f.sum;
        b.target->summary().count += count;
        return apply_status::ok;
    }
    auto& h = b.target->histogram();
    for (std::size_t i = 0; i < buckets; ++i)
        h.counts[i] += static_cast<double>(f.bucket(i));
    h.sum += f.sum;
    h.count += count;
    return apply_status::ok;
}

} // namespace metricsd::daemon

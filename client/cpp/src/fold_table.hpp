// Per-series accumulators for ops that arrive while the op buffer is full (daemon slow,
// stopped or down): each op is folded into its series' running state instead of being dropped,
// so memory grows with the number of series, not with the number of ops, and the totals the
// daemon ends up with are the same. Not thread-safe: the producer guards it with its buffer
// lock.
#pragma once

#include "op_buffer.hpp"

#include <metricsd/protocol/messages.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace metricsd::detail {

class fold_table {
public:
    enum class result : std::uint8_t {
        folded,
        invalid,   ///< the daemon would refuse this op (wrong op for the type, bad value)
        no_memory, ///< the series' first fold could not allocate its accumulator
    };

    /// A family's type and, for histograms, its bounds. Throws std::bad_alloc.
    void add_family(std::uint32_t family, protocol::metric_type type, std::vector<double> bounds);
    /// A series of a family added before. Throws std::bad_alloc.
    void add_series(std::uint32_t series, std::uint32_t family);

    /// Fold one op into its series' accumulator. Never throws.
    result fold(const protocol::op_record& r) noexcept;
    /// Nothing folded since the last drain.
    bool empty() const noexcept { return active_.empty(); }
    /// Append what was folded (inc/set records, FOLD frames) to out, then forget it; the
    /// accumulators keep their memory for the next time. Throws std::bad_alloc (out is then
    /// unchanged past its last complete frame and the folds are kept).
    void drain(op_buffer& out);
    /// Forget what was folded (a forked child must not send its parent's ops).
    void clear() noexcept;
    /// Heap bytes held by accumulators and shapes (for tests of the memory bound).
    std::size_t bytes() const noexcept;

private:
    struct family_shape {
        protocol::metric_type type = protocol::metric_type::counter;
        std::vector<double> bounds;
    };
    /// One series' folded state. Counter: delta. Gauge: `assigned` then the value set last,
    /// plus the delta of the inc/dec since (the set and the delta are sent in that order).
    /// Histogram/summary: count, sum and (histogram) per-bucket counts, +Inf last.
    struct accumulator {
        bool active = false;
        bool assigned = false;
        double value = 0;
        double delta = 0;
        std::uint64_t count = 0;
        std::vector<std::uint64_t> buckets;
    };

    std::vector<family_shape> families_;   ///< by family handle
    std::vector<std::uint32_t> family_of_; ///< by series handle
    std::vector<accumulator> acc_;         ///< by series handle, grown on first fold
    std::vector<std::uint32_t> active_;    ///< series folded since the last drain, in order
    std::string scratch_;                  ///< one encoded FOLD frame
};

} // namespace metricsd::detail

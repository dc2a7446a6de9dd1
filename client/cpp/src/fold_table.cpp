#include "fold_table.hpp"

#include <metricsd/protocol/encoder.hpp>

#include <algorithm>
#include <cmath>
#include <new>

namespace metricsd::detail {

using protocol::metric_type;
using protocol::op_code;

void fold_table::add_family(std::uint32_t family, metric_type type, std::vector<double> bounds) {
    if (family >= families_.size())
        families_.resize(family + 1);
    families_[family] = {type, std::move(bounds)};
}

void fold_table::add_series(std::uint32_t series, std::uint32_t family) {
    if (series >= family_of_.size())
        family_of_.resize(series + 1);
    family_of_[series] = family;
}

fold_table::result fold_table::fold(const protocol::op_record& r) noexcept {
    if (r.handle >= family_of_.size())
        return result::invalid;
    const family_shape& shape = families_[family_of_[r.handle]];
    // Only what the daemon would accept is folded: one refused op must not spoil the sum.
    switch (shape.type) {
    case metric_type::counter:
        if (r.op != op_code::inc || !(r.value >= 0) || std::isinf(r.value))
            return result::invalid;
        break;
    case metric_type::gauge:
        if (r.op == op_code::observe || (r.op != op_code::set && !std::isfinite(r.value)))
            return result::invalid;
        break;
    case metric_type::histogram:
    case metric_type::summary:
        if (r.op != op_code::observe || std::isnan(r.value))
            return result::invalid;
        break;
    }
    if (r.handle >= acc_.size()) {
        try {
            // Every declared series at once: series are few next to the ops that fold into
            // them, and active_ never reallocates below.
            acc_.resize(family_of_.size());
            active_.reserve(acc_.size());
        } catch (const std::bad_alloc&) {
            return result::no_memory;
        }
    }
    accumulator& a = acc_[r.handle];
    const bool histogram = shape.type == metric_type::histogram;
    if (histogram && a.buckets.size() != shape.bounds.size() + 1) {
        try {
            a.buckets.assign(shape.bounds.size() + 1, 0);
        } catch (const std::bad_alloc&) {
            return result::no_memory;
        }
    }
    if (!a.active) {
        a.active = true;
        active_.push_back(r.handle); // within the capacity reserved above
    }
    switch (r.op) {
    case op_code::inc:
        a.delta += r.value;
        break;
    case op_code::dec:
        a.delta -= r.value;
        break;
    case op_code::set:
        a.assigned = true;
        a.value = r.value;
        a.delta = 0;
        break;
    case op_code::observe:
        a.count += 1;
        a.delta += r.value; // the sum
        if (histogram) {
            // The daemon's rule: the first bucket whose bound is >= v, else +Inf (last).
            const auto i = std::lower_bound(shape.bounds.begin(), shape.bounds.end(), r.value) -
                           shape.bounds.begin();
            a.buckets[static_cast<std::size_t>(i)] += 1;
        }
        break;
    }
    return result::folded;
}

namespace {

void append_record(op_buffer& out, const protocol::op_record& r) {
    if (out.append(r, false) == op_buffer::result::no_memory)
        throw std::bad_alloc();
}

} // namespace

void fold_table::drain(op_buffer& out) {
    while (!active_.empty()) {
        const std::uint32_t h = active_.back();
        accumulator& a = acc_[h];
        switch (families_[family_of_[h]].type) {
        case metric_type::counter:
            append_record(out, {op_code::inc, h, a.delta});
            break;
        case metric_type::gauge:
            if (a.assigned)
                append_record(out, {op_code::set, h, a.value});
            if (!a.assigned || a.delta != 0)
                append_record(out, {op_code::inc, h, a.delta});
            break;
        case metric_type::histogram:
        case metric_type::summary:
            scratch_.clear();
            protocol::encode_fold(scratch_, h, a.count, a.delta, a.buckets);
            out.append_frame(scratch_);
            std::fill(a.buckets.begin(), a.buckets.end(), 0);
            break;
        }
        a.active = a.assigned = false;
        a.value = a.delta = 0;
        a.count = 0;
        active_.pop_back();
    }
    out.seal();
}

void fold_table::clear() noexcept {
    for (const std::uint32_t h : active_) {
        accumulator& a = acc_[h];
        std::fill(a.buckets.begin(), a.buckets.end(), 0);
        a.active = a.assigned = false;
        a.value = a.delta = 0;
        a.count = 0;
    }
    active_.clear();
}

std::size_t fold_table::bytes() const noexcept {
    std::size_t n = families_.capacity() * sizeof(family_shape) +
                    family_of_.capacity() * sizeof(std::uint32_t) +
                    acc_.capacity() * sizeof(accumulator) +
                    active_.capacity() * sizeof(std::uint32_t) + scratch_.capacity();
    for (const auto& f : families_)
        n += f.bounds.capacity() * sizeof(double);
    for (const auto& a : acc_)
        n += a.buckets.capacity() * sizeof(std::uint64_t);
    return n;
}

} // namespace metricsd::detail

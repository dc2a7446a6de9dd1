// metricsd C++ client: family and series handles. Included by <metricsd/client.hpp>; include
// that header, not this one.
#pragma once

#include <metricsd/protocol/wire.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd {

class client;

namespace detail {

class client_core;

/// Marks a series whose value the client does not keep (everything but gauges whose mode
/// needs the value re-sent after a reconnect).
inline constexpr std::uint32_t no_slot = 0xffffffffu;

/// A declared series: its wire handle and, for tracked gauges, the index of the client's copy
/// of its value.
struct series_id {
    std::uint32_t handle = 0;
    std::uint32_t slot = no_slot;
};

/// The hot path: append one op record. Never throws, never blocks on IO.
void push_op(client_core* core, protocol::op_code op, std::uint32_t series, double v) noexcept;
/// Gauge ops also update the client's copy of the value, re-sent after a reconnect.
void push_gauge_op(client_core* core, protocol::op_code op, series_id series, double v) noexcept;

/// What every series handle holds: the client's state and the series' identity.
class series_ref {
public:
    /// True for handles obtained from a family; default-constructed handles ignore all ops.
    bool valid() const noexcept { return core_ != nullptr; }
    /// The wire handle of this series (dense, from 0, per client).
    std::uint32_t handle() const noexcept { return id_.handle; }

protected:
    series_ref() = default;
    series_ref(client_core* core, series_id id) noexcept : core_(core), id_(id) {}
    void push(protocol::op_code op, double v) const noexcept {
        if (core_)
            push_op(core_, op, id_.handle, v);
    }

    client_core* core_ = nullptr;
    series_id id_;
};

/// What every family handle holds; label values are resolved to series here.
class family_ref {
public:
    /// True for handles returned by a client; default-constructed handles cannot declare.
    bool valid() const noexcept { return core_ != nullptr; }
    /// The wire handle of this family (dense, from 0, per client).
    std::uint32_t handle() const noexcept { return handle_; }
    /// Number of label names the family was declared with.
    std::size_t label_count() const noexcept { return label_count_; }

protected:
    family_ref() = default;
    family_ref(client_core* core, std::uint32_t handle, std::size_t label_count,
               series_id unlabelled) noexcept
        : core_(core), handle_(handle), label_count_(label_count), unlabelled_(unlabelled) {}
    /// Declare (or find) the series; throws std::invalid_argument on a bad value or count.
    series_id find_series(std::span<const std::string_view> values) const;
    /// The series of an unlabelled family (declared with the family, so no lookup); throws
    /// std::invalid_argument if the family has labels or the handle is default-constructed.
    series_id unlabelled() const;

    client_core* core_ = nullptr;
    std::uint32_t handle_ = 0;
    std::size_t label_count_ = 0;
    series_id unlabelled_;
};

/// What labels(...) takes as one label value.
template <class T>
concept label_value = std::convertible_to<const T&, std::string_view>;

/// labels(...) overloads shared by the four family types.
template <class Series>
class basic_family : public family_ref {
public:
    /// The series with these label values (in declared label order), declared on first use.
    /// Cheap to copy; keep it instead of calling labels() per op (this call takes a mutex and
    /// does a lookup). Thread-safe. Throws std::invalid_argument when the number of values
    /// differs from the label count, or a value is not UTF-8 or longer than 4096 bytes.
    Series labels(std::span<const std::string_view> values) const {
        return Series(core_, find_series(values));
    }
    Series labels(std::span<const std::string> values) const {
        std::vector<std::string_view> views(values.begin(), values.end());
        return labels(std::span<const std::string_view>(views));
    }
    Series labels(std::initializer_list<std::string_view> values) const {
        return labels(std::span<const std::string_view>(values.begin(), values.size()));
    }
    /// No arguments: the series of an unlabelled family, without a lookup.
    Series labels() const { return Series(core_, unlabelled()); }
    /// One argument per label: anything convertible to std::string_view.
    template <label_value... Values>
    Series labels(const Values&... values) const {
        const std::array<std::string_view, sizeof...(Values)> views{std::string_view(values)...};
        return labels(std::span<const std::string_view>(views));
    }

protected:
    basic_family() = default;
    using family_ref::family_ref;
};

} // namespace detail

/// A counter series: only goes up.
class counter_series : public detail::series_ref {
public:
    counter_series() = default;
    /// Add v (finite, >= 0; the daemon rejects anything else). Thread-safe, never throws,
    /// never blocks on IO. Folded into the series when the buffer is full (client_options).
    void inc(double v = 1) const noexcept { push(protocol::op_code::inc, v); }

private:
    template <class>
    friend class detail::basic_family;
    using series_ref::series_ref;
};

/// A gauge series: goes up and down, or is set.
class gauge_series : public detail::series_ref {
public:
    gauge_series() = default;
    /// Add v / subtract v (finite) / replace the value. Thread-safe, never throw, never block
    /// on IO. For every mode but sum and shared the client keeps the current value and sends it
    /// again after a reconnect (the daemon forgot or retired the old connection's value).
    void inc(double v = 1) const noexcept { gauge_push(protocol::op_code::inc, v); }
    void dec(double v = 1) const noexcept { gauge_push(protocol::op_code::dec, v); }
    void set(double v) const noexcept { gauge_push(protocol::op_code::set, v); }

private:
    template <class>
    friend class detail::basic_family;
    using series_ref::series_ref;
    void gauge_push(protocol::op_code op, double v) const noexcept {
        if (core_)
            detail::push_gauge_op(core_, op, id_, v);
    }
};

/// A histogram series: counts observations into the family's buckets.
class histogram_series : public detail::series_ref {
public:
    histogram_series() = default;
    /// Record one observation (not NaN). Thread-safe, never throws, never blocks on IO.
    void observe(double v) const noexcept { push(protocol::op_code::observe, v); }

private:
    template <class>
    friend class detail::basic_family;
    using series_ref::series_ref;
};

/// A summary series: sum and count of observations (no quantiles).
class summary_series : public detail::series_ref {
public:
    summary_series() = default;
    /// Record one observation (not NaN). Thread-safe, never throws, never blocks on IO.
    void observe(double v) const noexcept { push(protocol::op_code::observe, v); }

private:
    template <class>
    friend class detail::basic_family;
    using series_ref::series_ref;
};

/// A counter family. Copyable handle; valid while its client lives; thread-safe.
class counter_family : public detail::basic_family<counter_series> {
public:
    counter_family() = default;
    /// Shorthand for labels().inc(v) on an unlabelled family. Throws std::invalid_argument if
    /// the family has labels; otherwise as counter_series::inc.
    void inc(double v = 1) const { labels().inc(v); }

private:
    friend class client;
    using basic_family::basic_family;
};

/// A gauge family. Copyable handle; valid while its client lives; thread-safe.
class gauge_family : public detail::basic_family<gauge_series> {
public:
    gauge_family() = default;
    /// Shorthands for labels().inc/dec/set on an unlabelled family. Throw
    /// std::invalid_argument if the family has labels; otherwise as gauge_series.
    void inc(double v = 1) const { labels().inc(v); }
    void dec(double v = 1) const { labels().dec(v); }
    void set(double v) const { labels().set(v); }

private:
    friend class client;
    using basic_family::basic_family;
};

/// A histogram family. Copyable handle; valid while its client lives; thread-safe.
class histogram_family : public detail::basic_family<histogram_series> {
public:
    histogram_family() = default;
    /// Shorthand for labels().observe(v) on an unlabelled family. Throws
    /// std::invalid_argument if the family has labels; otherwise as histogram_series::observe.
    void observe(double v) const { labels().observe(v); }

private:
    friend class client;
    using basic_family::basic_family;
};

/// A summary family. Copyable handle; valid while its client lives; thread-safe.
class summary_family : public detail::basic_family<summary_series> {
public:
    summary_family() = default;
    /// Shorthand for labels().observe(v) on an unlabelled family. Throws
    /// std::invalid_argument if the family has labels; otherwise as summary_series::observe.
    void observe(double v) const { labels().observe(v); }

private:
    friend class client;
    using basic_family::basic_family;
};

} // namespace metricsd

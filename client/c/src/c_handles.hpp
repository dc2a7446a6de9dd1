// What the C API's opaque handles are: a metricsd::client plus tables of the family and series
// handles given out, so each is allocated once and freed with its client.
#pragma once

#include <metricsd/client.hpp>

#include <cstdint>
#include <memory>
#include <metricsd.h>
#include <new>
#include <stdexcept>
#include <system_error>
#include <variant>
#include <vector>

/// One label set of a family. The variant's index is the metric type (0 counter .. 3 summary).
struct metricsd_series {
    std::variant<metricsd::counter_series, metricsd::gauge_series, metricsd::histogram_series,
                 metricsd::summary_series>
        cpp;
};

struct metricsd_family {
    metricsd_client* owner = nullptr;
    std::variant<metricsd::counter_family, metricsd::gauge_family, metricsd::histogram_family,
                 metricsd::summary_family>
        cpp;
};

struct metricsd_client {
    explicit metricsd_client(metricsd::client_options o) : cpp(std::move(o)) {}
    metricsd::client cpp;
    /// Indexed by the C++ family / series wire handle (dense from 0 per client); empty slots
    /// are series the C API never handed out (e.g. declared with their unlabelled family).
    /// Guarded by metricsd_c::tables_mutex().
    std::vector<std::unique_ptr<metricsd_family>> families;
    std::vector<std::unique_ptr<metricsd_series>> series;
};

namespace metricsd_c {

/// Guards every client's handle tables. One mutex for all clients so a single pthread_atfork
/// handler can hold it across fork(): no C++ client call is made while it is held, so it
/// cannot take part in a lock-order cycle with the C++ client's own fork handler.
void lock_tables() noexcept;
void unlock_tables() noexcept;

struct tables_lock {
    tables_lock() noexcept { lock_tables(); }
    ~tables_lock() { unlock_tables(); }
    tables_lock(const tables_lock&) = delete;
    tables_lock& operator=(const tables_lock&) = delete;
};

/// Record `detail` as the calling thread's metricsd_error_detail() and return `status`.
metricsd_status fail(metricsd_status status, const char* detail) noexcept;

/// Run `f` (returning metricsd_status), mapping every exception to a status: the C ABI never
/// lets one escape.
template <class F>
metricsd_status guarded(F&& f) noexcept {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return fail(METRICSD_E_NO_MEMORY, "metricsd: out of memory");
    } catch (const std::length_error& e) {
        return fail(METRICSD_E_LIMIT, e.what());
    } catch (const std::invalid_argument& e) {
        return fail(METRICSD_E_INVALID_ARGUMENT, e.what());
    } catch (const std::system_error& e) {
        return fail(METRICSD_E_SYSTEM, e.what());
    } catch (const std::exception& e) {
        return fail(METRICSD_E_INTERNAL, e.what());
    } catch (...) {
        return fail(METRICSD_E_INTERNAL, "metricsd: unknown exception");
    }
}

} // namespace metricsd_c

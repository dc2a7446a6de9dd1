// The C API's client functions: options, create/free, flush, status, errors. Declarations and
// ops are in c_metrics.cpp. Every entry point catches everything (see guarded()).
#include "c_handles.hpp"

#include <chrono>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <pthread.h>
#include <string>

namespace metricsd_c {
namespace {

/// Never destroyed: fork handlers and late metricsd_client_free() calls may run after static
/// destructors have started.
std::mutex& tables_mutex() {
    static auto* m = new std::mutex;
    return *m;
}

// Fixed-size and trivially destructible: no allocation when reporting an out-of-memory error,
// and nothing to run at thread exit.
thread_local char detail_text[512];

void register_fork_handlers() {
    static std::once_flag once;
    std::call_once(once, [] {
        // Holding the tables mutex across fork() means the child never inherits it locked by
        // a thread that does not exist there.
        const int rc = ::pthread_atfork(lock_tables, unlock_tables, unlock_tables);
        if (rc != 0)
            throw std::system_error(rc, std::generic_category(), "metricsd: pthread_atfork");
    });
}

/// True when the caller's struct (opts->size bytes) includes `field`: a program built against
/// an older header passes a shorter struct, and its missing fields keep their defaults.
bool has_field(const metricsd_options* o, std::size_t offset, std::size_t size) {
    return o->size >= offset + size;
}
#define METRICSD_HAS(o, field)                                                                     \
    has_field(o, offsetof(metricsd_options, field), sizeof(metricsd_options::field))

metricsd::client_options to_cpp(const metricsd_options* o) {
    metricsd::client_options cpp;
    if (!o)
        return cpp;
    if (o->size < sizeof(o->size) + sizeof(o->socket_path))
        throw std::invalid_argument(
            "metricsd: metricsd_options.size is not set; call metricsd_options_init() first");
    if (METRICSD_HAS(o, socket_path) && o->socket_path)
        cpp.socket_path = o->socket_path;
    if (METRICSD_HAS(o, flush_interval_ms))
        cpp.flush_interval = std::chrono::milliseconds(o->flush_interval_ms);
    if (METRICSD_HAS(o, max_buffer_bytes))
        cpp.max_buffer_bytes = o->max_buffer_bytes;
    return cpp;
}

} // namespace

void lock_tables() noexcept {
    tables_mutex().lock();
}

void unlock_tables() noexcept {
    tables_mutex().unlock();
}

metricsd_status fail(metricsd_status status, const char* detail) noexcept {
    std::strncpy(detail_text, detail ? detail : "", sizeof detail_text - 1);
    detail_text[sizeof detail_text - 1] = '\0';
    return status;
}

} // namespace metricsd_c

using metricsd_c::fail;
using metricsd_c::guarded;

extern "C" {

const char* metricsd_version(void) {
    return METRICSD_C_VERSION;
}

const char* metricsd_strerror(metricsd_status status) {
    switch (status) {
    case METRICSD_OK:
        return "success";
    case METRICSD_E_INVALID_ARGUMENT:
        return "invalid argument";
    case METRICSD_E_NO_MEMORY:
        return "out of memory";
    case METRICSD_E_TIMEOUT:
        return "not acknowledged by the daemon in time (or daemon unreachable)";
    case METRICSD_E_INVALID_OP:
        return "operation not allowed for this metric type";
    case METRICSD_E_LIMIT:
        return "handle limit reached";
    case METRICSD_E_SYSTEM:
        return "system resource unavailable";
    case METRICSD_E_INTERNAL:
        return "internal error";
    }
    return "unknown status";
}

const char* metricsd_error_detail(void) {
    return metricsd_c::detail_text;
}

void metricsd_options_init(metricsd_options* opts) {
    if (!opts)
        return;
    // The C++ client's defaults (tests/integration/capi_test.cpp checks they agree); not read
    // from a client_options object, whose construction could throw.
    std::memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->socket_path = nullptr;
    opts->flush_interval_ms = 5;
    opts->max_buffer_bytes = 8u * 1024u * 1024u;
}

metricsd_status metricsd_client_new(const metricsd_options* opts, metricsd_client** out) {
    if (!out)
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: out is NULL");
    *out = nullptr;
    return guarded([&] {
        metricsd_c::register_fork_handlers();
        *out = new metricsd_client(metricsd_c::to_cpp(opts));
        return METRICSD_OK;
    });
}

void metricsd_client_free(metricsd_client* client) {
    // ~client never throws (its final flush is best effort); the tables free plain memory.
    delete client;
}

metricsd_status metricsd_flush(metricsd_client* client, int timeout_ms) {
    if (!client)
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: client is NULL");
    if (timeout_ms < 0)
        return fail(METRICSD_E_INVALID_ARGUMENT, "metricsd: negative flush timeout");
    return guarded([&] {
        if (client->cpp.flush(std::chrono::milliseconds(timeout_ms)))
            return METRICSD_OK;
        return fail(METRICSD_E_TIMEOUT,
                    "metricsd: flush not acknowledged (timeout, daemon unreachable or "
                    "connection lost)");
    });
}

uint64_t metricsd_dropped_ops(const metricsd_client* client) {
    return client ? client->cpp.dropped_ops() : 0;
}

uint64_t metricsd_rejected(const metricsd_client* client) {
    return client ? client->cpp.rejected() : 0;
}

int metricsd_connected(const metricsd_client* client) {
    return client && client->cpp.connected() ? 1 : 0;
}

size_t metricsd_last_error(const metricsd_client* client, char* buf, size_t len) {
    if (buf && len > 0)
        buf[0] = '\0';
    if (!client)
        return 0;
    try {
        const std::string text = client->cpp.last_error();
        if (buf && len > 0) {
            const std::size_t n = text.size() < len - 1 ? text.size() : len - 1;
            std::memcpy(buf, text.data(), n);
            buf[n] = '\0';
        }
        return text.size();
    } catch (...) {
        // Only the copy of the text can fail (out of memory): report "no text".
        return 0;
    }
}

} // extern "C"

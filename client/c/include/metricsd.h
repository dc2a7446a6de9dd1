/*
 * metricsd C API: send Prometheus metric ops (inc/dec/set/observe) to the metricsd daemon over
 * its Unix-domain socket. A thin, exception-free wrapper of the C++ client
 * (<metricsd/client.hpp>) for C programs and FFI (Ruby, PHP, Go, ...). Valid C99 and C++, and
 * C89 where the compiler provides <stdint.h>.
 *
 *     metricsd_client* c;
 *     metricsd_family* f;
 *     metricsd_series* s;
 *     const char* labels[] = {"method"};
 *     const char* values[] = {"GET"};
 *     metricsd_client_new(NULL, &c);        // socket from $METRICSD_SOCKET
 *     metricsd_counter(c, "http_requests_total", "Requests.", labels, 1, &f);
 *     metricsd_labels(f, values, 1, &s);    // keep s: metricsd_inc(s, 1) is then cheap
 *     metricsd_inc(s, 1);
 *     metricsd_flush(c, 1000);              // optional: wait until the daemon applied it
 *     metricsd_client_free(c);
 *
 * Errors: every function that can fail returns a metricsd_status; nothing throws or aborts.
 * metricsd_error_detail() says why the calling thread's last call failed; metricsd_last_error()
 * returns the daemon's last ERROR frame for a client (those arrive asynchronously).
 *
 * Thread safety: a client, its families and its series may be used from any number of threads
 * at once, except that metricsd_client_free() must not run concurrently with any other call on
 * that client or its handles (nor may any call follow it). The op functions are the hot path:
 * no allocation, no lock but the C++ client's spinlock, never blocking on IO.
 *
 * Lifetimes: family and series handles are owned by their client and stay valid until
 * metricsd_client_free(); never free them yourself. Declaring the same family or series again
 * returns the same handle.
 *
 * fork(): as the C++ client. A child process never writes on its parent's connection and never
 * re-sends its parent's buffered ops; it connects on its first use of the client and declares
 * everything again. Handles obtained before fork() stay valid in the child.
 */
#ifndef METRICSD_H
#define METRICSD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Result of every call that can fail. Values are stable across library versions. */
typedef enum metricsd_status {
    METRICSD_OK = 0,
    /** NULL pointer, bad name/label/bucket/help, wrong label value count, bad option. */
    METRICSD_E_INVALID_ARGUMENT = 1,
    /** Memory allocation failed. */
    METRICSD_E_NO_MEMORY = 2,
    /** metricsd_flush(): not acknowledged in time, daemon unreachable or connection lost. */
    METRICSD_E_TIMEOUT = 3,
    /** The op is not allowed for the series' type (e.g. dec on a counter); nothing was sent. */
    METRICSD_E_INVALID_OP = 4,
    /** The client's family or series handle space (protocol limits) is exhausted. */
    METRICSD_E_LIMIT = 5,
    /** The operating system refused a resource (thread, eventfd). */
    METRICSD_E_SYSTEM = 6,
    /** Unexpected failure inside the library (a bug: please report it). */
    METRICSD_E_INTERNAL = 7
} metricsd_status;

/** How a gauge combines the values of several processes (the daemon's README, "gauge modes").
 *  The values are the wire protocol's. */
typedef enum metricsd_gauge_mode {
    METRICSD_GAUGE_LIVESUM = 0, /**< default: sum over live processes */
    METRICSD_GAUGE_SUM = 1,
    METRICSD_GAUGE_MAX = 2,
    METRICSD_GAUGE_MIN = 3,
    METRICSD_GAUGE_MOSTRECENT = 4,
    METRICSD_GAUGE_ALL = 5, /**< one series per pid */
    METRICSD_GAUGE_LIVEALL = 6,
    METRICSD_GAUGE_LIVEMAX = 7,
    METRICSD_GAUGE_LIVEMIN = 8,
    METRICSD_GAUGE_LIVEMOSTRECENT = 9,
    METRICSD_GAUGE_SHARED = 10 /**< one cell for everybody: set = last writer */
} metricsd_gauge_mode;

/** Client settings. Always call metricsd_options_init() first: it sets `size` (so a newer
 *  library knows which fields an older program filled in) and the defaults. */
typedef struct metricsd_options {
    /** sizeof(metricsd_options) as the program was compiled; set by metricsd_options_init(). */
    size_t size;
    /** The daemon's ingest socket; NULL: $METRICSD_SOCKET, else /run/metricsd/ingest.sock. */
    const char* socket_path;
    /** How often the background thread sends buffered ops, > 0. Default 5. */
    unsigned int flush_interval_ms;
    /** Bytes of buffered ops (16 per op) kept while the daemon is down or slow; ops beyond it
     *  are folded per series (sums, last set, bucket counts) and sent when the daemon reads
     *  again: nothing is lost, memory grows with series, not ops. Default 8 MiB. */
    size_t max_buffer_bytes;
} metricsd_options;

typedef struct metricsd_client metricsd_client; /**< a connection to the daemon */
typedef struct metricsd_family metricsd_family; /**< a declared metric family */
typedef struct metricsd_series metricsd_series; /**< one label set of a family */

/** Library version, e.g. "0.1.0". Static string. Thread-safe. */
const char* metricsd_version(void);

/** Static English text for a status ("invalid argument", ...). Thread-safe. */
const char* metricsd_strerror(metricsd_status status);

/** Why the calling thread's most recent failed metricsd_* call failed, e.g. "metricsd:
 *  invalid metric name 'a-b'"; "" if none failed yet. Thread-local; valid until the thread's
 *  next failing call. */
const char* metricsd_error_detail(void);

/** Fill `opts` with the defaults and set opts->size. Thread-safe. */
void metricsd_options_init(metricsd_options* opts);

/** Create a client and its background sender thread. `opts` may be NULL (defaults). Never
 *  blocks on the daemon: connection and reconnection happen in the background. On failure
 *  *out is set to NULL. Not thread-safe with respect to getenv/setenv. */
metricsd_status metricsd_client_new(const metricsd_options* opts, metricsd_client** out);

/** Flush buffered ops (waiting at most 1 s for the daemon), stop the sender thread, close the
 *  connection and free the client with all its family and series handles. NULL is a no-op.
 *  Must not run concurrently with any other use of the client or its handles. */
void metricsd_client_free(metricsd_client* client);

/** Declare a counter family (or return the one this client declared under that name).
 *  `help` may be NULL (""); `label_names` may be NULL when n_labels is 0. Names are checked at
 *  once: METRICSD_E_INVALID_ARGUMENT for an invalid name, label name (syntax, reserved `le`,
 *  `quantile`, `__*`, duplicate), help text, or a name this client declared differently.
 *  Conflicts with other processes are reported by the daemon (metricsd_last_error()).
 *  Start-up-time call: takes locks and allocates. Thread-safe. On failure *out is NULL. */
metricsd_status metricsd_counter(metricsd_client* client, const char* name, const char* help,
                                 const char* const* label_names, size_t n_labels,
                                 metricsd_family** out);

/** Declare a gauge family with a gauge mode; otherwise as metricsd_counter(). */
metricsd_status metricsd_gauge(metricsd_client* client, const char* name, const char* help,
                               const char* const* label_names, size_t n_labels,
                               metricsd_gauge_mode mode, metricsd_family** out);

/** Declare a histogram family. Bucket bounds are texts ("0.005", "1", "2.5"), kept verbatim by
 *  the daemon: finite, strictly increasing, at least one, no "+Inf" (it is implicit).
 *  Otherwise as metricsd_counter(). */
metricsd_status metricsd_histogram(metricsd_client* client, const char* name, const char* help,
                                   const char* const* label_names, size_t n_labels,
                                   const char* const* bucket_texts, size_t n_buckets,
                                   metricsd_family** out);

/** Declare a summary family (_sum and _count, no quantiles); otherwise as metricsd_counter(). */
metricsd_status metricsd_summary(metricsd_client* client, const char* name, const char* help,
                                 const char* const* label_names, size_t n_labels,
                                 metricsd_family** out);

/** The series of `family` with these label values (UTF-8, in declared label order; n_values
 *  must equal the family's label count, 0 and NULL for an unlabelled family). Declared on first
 *  use. Keep the handle instead of calling this per op: it takes a lock and does a lookup.
 *  Thread-safe. METRICSD_E_INVALID_ARGUMENT for a wrong count or a value that is not UTF-8 or
 *  too long. On failure *out is NULL. */
metricsd_status metricsd_labels(metricsd_family* family, const char* const* values, size_t n_values,
                                metricsd_series** out);

/* The hot path. Thread-safe; never allocate, never block on IO, never fail because of the
 * daemon: when the buffer is full the op is folded into its series' accumulator and sent later.
 * Only an op the daemon would refuse, or one whose series' accumulator cannot be allocated,
 * is dropped and counted (metricsd_dropped_ops()).
 * They return METRICSD_E_INVALID_ARGUMENT for a NULL series and METRICSD_E_INVALID_OP when the
 * series' type does not take the op; the value is passed on unchecked, and the daemon rejects
 * what breaks the type's rule (negative or non-finite counter inc, NaN observation), reported
 * through metricsd_last_error(), exactly as with the C++ client. */

/** Counter or gauge: add `value` (counters: finite and >= 0). */
metricsd_status metricsd_inc(metricsd_series* series, double value);
/** Gauge: subtract `value` (finite). */
metricsd_status metricsd_dec(metricsd_series* series, double value);
/** Gauge: replace the value (any double). */
metricsd_status metricsd_set(metricsd_series* series, double value);
/** Histogram or summary: record one observation (not NaN). */
metricsd_status metricsd_observe(metricsd_series* series, double value);

/** Send everything buffered plus a SYNC and wait until the daemon acknowledges that all of it
 *  has been applied (the next scrape shows it). METRICSD_OK, or METRICSD_E_TIMEOUT when
 *  timeout_ms passed, the daemon cannot be reached (returns at once) or the connection broke.
 *  ERROR frames from the daemon do not make it fail: check metricsd_rejected(). Blocks the
 *  caller. Thread-safe. METRICSD_E_INVALID_ARGUMENT for a NULL client or negative timeout. */
metricsd_status metricsd_flush(metricsd_client* client, int timeout_ms);

/** Ops lost: no memory for a series' accumulator while folding, an op the daemon would refuse
 *  arriving while folding, or a failed write. Thread-safe; 0 for NULL. */
uint64_t metricsd_dropped_ops(const metricsd_client* client);

/** ERROR frames received from the daemon (declarations or ops it rejected). Thread-safe. */
uint64_t metricsd_rejected(const metricsd_client* client);

/** 1 while connected to the daemon, else 0. Thread-safe. */
int metricsd_connected(const metricsd_client* client);

/** The daemon's last ERROR frame as "<code name>: <message> (handle N)", e.g.
 *  "family_conflict: ...", or "client: ..." for bytes from the daemon that did not decode.
 *  Copies at most len-1 bytes and a NUL into buf (buf may be NULL when len is 0); returns the
 *  full length (like snprintf), 0 when there was no error. Thread-safe. */
size_t metricsd_last_error(const metricsd_client* client, char* buf, size_t len);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* METRICSD_H */

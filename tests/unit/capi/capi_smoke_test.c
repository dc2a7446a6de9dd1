/* Smoke test of the C API in plain C11: the header compiles as C, libmetricsd.so links, and
 * every entry point behaves without a daemon (declarations, ops, error codes, a flush that
 * fails fast). The end-to-end tests against the real daemon are in
 * tests/integration/capi_test.cpp. Exits non-zero and names each failed check. */
#define _POSIX_C_SOURCE 200809L

#include <metricsd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int failures = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s (detail: %s)\n", __FILE__, __LINE__, #cond,   \
                    metricsd_error_detail());                                                      \
            ++failures;                                                                            \
        }                                                                                          \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_statics(void) {
    metricsd_options o;
    int s;
    CHECK(strcmp(metricsd_version(), "") != 0);
    for (s = METRICSD_OK; s <= METRICSD_E_INTERNAL; ++s)
        CHECK(strcmp(metricsd_strerror((metricsd_status)s), "unknown status") != 0);
    CHECK(strcmp(metricsd_strerror((metricsd_status)99), "unknown status") == 0);
    metricsd_options_init(&o);
    CHECK(o.size == sizeof o);
    CHECK(o.socket_path == NULL);
    CHECK(o.flush_interval_ms == 5);
    CHECK(o.max_buffer_bytes == 8u * 1024u * 1024u);
}

static void test_bad_options(void) {
    metricsd_options o;
    metricsd_client* c = (metricsd_client*)&o; /* must be reset to NULL on failure */
    metricsd_options_init(&o);
    o.size = 0;
    CHECK(metricsd_client_new(&o, &c) == METRICSD_E_INVALID_ARGUMENT);
    CHECK(c == NULL);
    metricsd_options_init(&o);
    o.flush_interval_ms = 0;
    CHECK(metricsd_client_new(&o, &c) == METRICSD_E_INVALID_ARGUMENT);
    CHECK(metricsd_client_new(&o, NULL) == METRICSD_E_INVALID_ARGUMENT);
}

static void test_declarations(metricsd_client* c) {
    const char* labels[] = {"method", "code"};
    const char* values[] = {"GET", "200"};
    const char* buckets[] = {"0.1", "1", "10"};
    metricsd_family *f = NULL, *again = NULL, *g = NULL, *h = NULL, *sm = NULL;
    metricsd_series *s = NULL, *same = NULL, *gs = NULL, *hs = NULL, *ss = NULL;
    CHECK(metricsd_counter(c, "c_requests_total", "Requests.", labels, 2, &f) == METRICSD_OK);
    CHECK(metricsd_counter(c, "c_requests_total", NULL, labels, 2, &again) == METRICSD_OK);
    CHECK(f != NULL && f == again);
    CHECK(metricsd_labels(f, values, 2, &s) == METRICSD_OK);
    CHECK(metricsd_labels(f, values, 2, &same) == METRICSD_OK);
    CHECK(s != NULL && s == same);
    CHECK(metricsd_gauge(c, "c_in_flight", "", NULL, 0, METRICSD_GAUGE_SHARED, &g) == METRICSD_OK);
    CHECK(metricsd_histogram(c, "c_latency", "L.", NULL, 0, buckets, 3, &h) == METRICSD_OK);
    CHECK(metricsd_summary(c, "c_size", "S.", NULL, 0, &sm) == METRICSD_OK);
    CHECK(metricsd_labels(g, NULL, 0, &gs) == METRICSD_OK);
    CHECK(metricsd_labels(h, NULL, 0, &hs) == METRICSD_OK);
    CHECK(metricsd_labels(sm, NULL, 0, &ss) == METRICSD_OK);

    CHECK(metricsd_inc(s, 1) == METRICSD_OK);
    CHECK(metricsd_set(gs, 3) == METRICSD_OK);
    CHECK(metricsd_inc(gs, 1) == METRICSD_OK);
    CHECK(metricsd_dec(gs, 1) == METRICSD_OK);
    CHECK(metricsd_observe(hs, 0.5) == METRICSD_OK);
    CHECK(metricsd_observe(ss, 0.5) == METRICSD_OK);
    CHECK(metricsd_dec(s, 1) == METRICSD_E_INVALID_OP);
    CHECK(metricsd_set(s, 1) == METRICSD_E_INVALID_OP);
    CHECK(metricsd_observe(gs, 1) == METRICSD_E_INVALID_OP);
    CHECK(metricsd_inc(hs, 1) == METRICSD_E_INVALID_OP);
    CHECK(metricsd_inc(NULL, 1) == METRICSD_E_INVALID_ARGUMENT);
}

static void test_invalid_declarations(metricsd_client* c) {
    const char* one[] = {"method"};
    const char* reserved[] = {"le"};
    const char* bad_buckets[] = {"1", "0.5"};
    metricsd_family* f = (metricsd_family*)c;
    metricsd_series* s = (metricsd_series*)c;
    CHECK(metricsd_counter(c, "bad-name", "", NULL, 0, &f) == METRICSD_E_INVALID_ARGUMENT);
    CHECK(f == NULL);
    CHECK(strstr(metricsd_error_detail(), "bad-name") != NULL);
    CHECK(metricsd_counter(c, "x_total", "", reserved, 1, &f) == METRICSD_E_INVALID_ARGUMENT);
    CHECK(metricsd_counter(c, NULL, "", NULL, 0, &f) == METRICSD_E_INVALID_ARGUMENT);
    CHECK(metricsd_counter(c, "x_total", "", NULL, 1, &f) == METRICSD_E_INVALID_ARGUMENT);
    CHECK(metricsd_gauge(c, "g", "", NULL, 0, (metricsd_gauge_mode)42, &f) ==
          METRICSD_E_INVALID_ARGUMENT);
    CHECK(metricsd_histogram(c, "h", "", NULL, 0, bad_buckets, 2, &f) ==
          METRICSD_E_INVALID_ARGUMENT);
    CHECK(metricsd_counter(c, "c_one_label_total", "", one, 1, &f) == METRICSD_OK);
    CHECK(metricsd_labels(f, NULL, 0, &s) == METRICSD_E_INVALID_ARGUMENT);
    CHECK(s == NULL);
    CHECK(metricsd_gauge(c, "c_one_label_total", "", one, 1, METRICSD_GAUGE_SUM, &f) ==
          METRICSD_E_INVALID_ARGUMENT);
}

static void test_no_daemon(metricsd_client* c) {
    char buf[8] = "junk";
    const double start = now_s();
    CHECK(metricsd_flush(c, 5000) == METRICSD_E_TIMEOUT);
    CHECK(now_s() - start < 1.0);
    CHECK(metricsd_flush(c, -1) == METRICSD_E_INVALID_ARGUMENT);
    CHECK(metricsd_flush(NULL, 0) == METRICSD_E_INVALID_ARGUMENT);
    CHECK(metricsd_connected(c) == 0);
    CHECK(metricsd_dropped_ops(c) == 0);
    CHECK(metricsd_rejected(c) == 0);
    CHECK(metricsd_last_error(c, buf, sizeof buf) == 0);
    CHECK(buf[0] == '\0');
    CHECK(metricsd_last_error(NULL, NULL, 0) == 0);
}

int main(void) {
    metricsd_options o;
    metricsd_client* c = NULL;
    double start;
    test_statics();
    test_bad_options();
    metricsd_options_init(&o);
    o.socket_path = "/nonexistent-metricsd-dir/ingest.sock";
    CHECK(metricsd_client_new(&o, &c) == METRICSD_OK);
    if (!c) {
        fprintf(stderr, "cannot create a client: %s\n", metricsd_error_detail());
        return 1;
    }
    test_declarations(c);
    test_invalid_declarations(c);
    test_no_daemon(c);
    start = now_s();
    metricsd_client_free(c);
    CHECK(now_s() - start < 2.0);
    metricsd_client_free(NULL);
    if (failures) {
        fprintf(stderr, "capi_test.c: %d check(s) failed\n", failures);
        return 1;
    }
    printf("capi_test.c: all checks passed (libmetricsd %s)\n", metricsd_version());
    return 0;
}

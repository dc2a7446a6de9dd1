// One scenario, four clients, one daemon: C++ (metricsd::client), C (libmetricsd.so), Python
// (client/python) and metricsctl each send the same ops, and /metrics shows the exact sums.
// Byte-level conformance is tested per client against protocol/test_vectors.json (C++:
// protocol_test and client_test; Python: python_client_vectors); the C API wraps the C++
// client, so it sends the same bytes.
#include "daemon_fixture.hpp"
#include "redis_server.hpp" // eventually()

#include <metricsd/client.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <metricsd.h>
#include <string>
#include <utility>

namespace {

using metricsd::test::daemon_process;
using metricsd::test::quoted;
using metricsd::test::run_command;
using metricsd::test::sample_value;
using metricsd::test::temp_dir;


// Every client: conformance_total{client="any"} += 5, shared gauge conformance_gauge += 1, one
// observation (exact in binary, so the sum is exact in any order) in conformance_seconds.
const char* const buckets_text = "0.1,1,10";

void send_from_cpp(const std::string& socket) {
    metricsd::client_options opts;
    opts.socket_path = socket;
    metricsd::client c(std::move(opts));
    c.counter("conformance_total", "Conformance.", {"client"}).labels("any").inc(5);
    c.gauge("conformance_gauge", "Conformance.", {}, metricsd::gauge_mode::shared).inc(1);
    c.histogram("conformance_seconds", "Conformance.", {}, {"0.1", "1", "10"}).observe(0.0625);
    ASSERT_TRUE(c.flush(std::chrono::seconds(5)));
    EXPECT_EQ(c.rejected(), 0u) << c.last_error();
}

void send_from_c(const std::string& socket) {
    metricsd_options o;
    metricsd_options_init(&o);
    o.socket_path = socket.c_str();
    metricsd_client* c = nullptr;
    ASSERT_EQ(metricsd_client_new(&o, &c), METRICSD_OK);
    const char* labels[] = {"client"};
    const char* values[] = {"any"};
    const char* buckets[] = {"0.1", "1", "10"};
    metricsd_family *cf = nullptr, *gf = nullptr, *hf = nullptr;
    metricsd_series *cs = nullptr, *gs = nullptr, *hs = nullptr;
    EXPECT_EQ(metricsd_counter(c, "conformance_total", "Conformance.", labels, 1, &cf), 0);
    EXPECT_EQ(metricsd_gauge(c, "conformance_gauge", "", nullptr, 0, METRICSD_GAUGE_SHARED, &gf),
              0);
    EXPECT_EQ(metricsd_histogram(c, "conformance_seconds", "", nullptr, 0, buckets, 3, &hf), 0);
    EXPECT_EQ(metricsd_labels(cf, values, 1, &cs), 0);
    EXPECT_EQ(metricsd_labels(gf, nullptr, 0, &gs), 0);
    EXPECT_EQ(metricsd_labels(hf, nullptr, 0, &hs), 0);
    EXPECT_EQ(metricsd_inc(cs, 5), 0);
    EXPECT_EQ(metricsd_inc(gs, 1), 0);
    EXPECT_EQ(metricsd_observe(hs, 0.5), 0);
    EXPECT_EQ(metricsd_flush(c, 5000), METRICSD_OK);
    EXPECT_EQ(metricsd_rejected(c), 0u);
    metricsd_client_free(c);
}

void send_from_python(const std::string& socket) {
    // A counter named *_total keeps its name (prometheus_client appends _total otherwise).
    const std::string script = R"(
import sys, metricsd
c = metricsd.Client(socket=sys.argv[1])
metricsd.Counter("conformance_total", "Conformance.", labelnames=("client",),
                 client=c).labels("any").inc(5)
metricsd.Gauge("conformance_gauge", "Conformance.", multiprocess_mode="shared", client=c).inc(1)
metricsd.Histogram("conformance_seconds", "Conformance.", buckets=(0.1, 1, 10),
                   client=c).observe(4)
ok = c.flush(5.0)
sys.exit(0 if ok and c.last_error() is None else "flush %s, last error %s" % (ok, c.last_error()))
)";
    std::string output;
    const int code = run_command("PYTHONPATH=" + quoted(METRICSD_PYTHON_CLIENT_DIR) +
                                     " PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -c " +
                                     quoted(script) + " " + quoted(socket),
                                 output);
    EXPECT_EQ(code, 0) << output;
}

void send_from_metricsctl(const std::string& socket) {
    const std::string ctl = std::string(METRICSD_METRICSCTL_BINARY) + " --socket " + quoted(socket);
    const std::string all[] = {
        "counter inc conformance_total --label client=any --value 5",
        "gauge inc conformance_gauge --mode shared",
        std::string("histogram observe conformance_seconds --value 32 --buckets ") + buckets_text};
    for (const auto& args : all) {
        std::string output;
        EXPECT_EQ(run_command(ctl + " " + args, output), 0) << args << ": " << output;
    }
}

TEST(conformance, every_client_adds_to_the_same_series) {
    temp_dir dir;
    daemon_process daemon(dir);
    send_from_cpp(daemon.socket_path());
    send_from_c(daemon.socket_path());
    send_from_python(daemon.socket_path());
    send_from_metricsctl(daemon.socket_path());

    const auto text = daemon.scrape();
    EXPECT_EQ(sample_value(text, "conformance_total{client=\"any\"}"), 20) << text;
    EXPECT_EQ(sample_value(text, "conformance_gauge"), 4) << text;
    EXPECT_EQ(sample_value(text, "conformance_seconds_bucket{le=\"0.1\"}"), 1);
    EXPECT_EQ(sample_value(text, "conformance_seconds_bucket{le=\"1.0\"}"), 2);
    EXPECT_EQ(sample_value(text, "conformance_seconds_bucket{le=\"10.0\"}"), 3);
    EXPECT_EQ(sample_value(text, "conformance_seconds_bucket{le=\"+Inf\"}"), 4);
    EXPECT_EQ(sample_value(text, "conformance_seconds_sum"), 36.5625);
    EXPECT_EQ(sample_value(text, "conformance_seconds_count"), 4);
}

// Each client drops 2 ops the same way (its buffer holds none, so every op folds, and a
// negative counter inc cannot be folded) and reports them (CLIENT_STATS): once all three have
// exited, the daemon's pid="exited" sample holds all 6.
TEST(conformance, every_client_reports_its_dropped_ops) {
    temp_dir dir;
    daemon_process daemon(dir);
    {
        metricsd::client_options opts;
        opts.socket_path = daemon.socket_path();
        opts.max_buffer_bytes = 0;
        metricsd::client c(std::move(opts));
        auto jobs = c.counter("conformance_drops_total", "", {"client"}).labels("cpp");
        jobs.inc(-1);
        jobs.inc(-1);
        ASSERT_TRUE(c.flush(std::chrono::seconds(5)));
        EXPECT_EQ(c.dropped_ops(), 2u);
    }
    {
        metricsd_options o;
        metricsd_options_init(&o);
        o.socket_path = daemon.socket_path().c_str();
        o.max_buffer_bytes = 0;
        metricsd_client* c = nullptr;
        ASSERT_EQ(metricsd_client_new(&o, &c), METRICSD_OK);
        const char* labels[] = {"client"};
        const char* values[] = {"c"};
        metricsd_family* f = nullptr;
        metricsd_series* s = nullptr;
        EXPECT_EQ(metricsd_counter(c, "conformance_drops_total", "", labels, 1, &f), 0);
        EXPECT_EQ(metricsd_labels(f, values, 1, &s), 0);
        EXPECT_EQ(metricsd_inc(s, -1), 0);
        EXPECT_EQ(metricsd_inc(s, -1), 0);
        EXPECT_EQ(metricsd_flush(c, 5000), METRICSD_OK);
        EXPECT_EQ(metricsd_dropped_ops(c), 2u);
        metricsd_client_free(c);
    }
    // The Python API refuses a negative inc itself: append the raw record as the API would.
    const std::string script = R"(
import struct, sys, metricsd
c = metricsd.Client(socket=sys.argv[1], max_buffer_ops=0)
series = metricsd.Counter("conformance_drops_total", "", ("client",), client=c).labels("py")
for _ in range(2):
    series._append(series._inc + struct.pack("<d", -1.0))
ok = c.flush(5.0)
sys.exit(0 if ok and c.dropped_ops() == 2 else "flush %s, dropped %s" % (ok, c.dropped_ops()))
)";
    std::string output;
    EXPECT_EQ(run_command("PYTHONPATH=" + quoted(METRICSD_PYTHON_CLIENT_DIR) +
                              " PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -c " + quoted(script) +
                              " " + quoted(daemon.socket_path()),
                          output),
              0)
        << output;
    std::string text;
    EXPECT_TRUE(metricsd::test::eventually([&] {
        text = daemon.scrape();
        return sample_value(text, "metricsd_client_dropped_ops_total{pid=\"exited\"}") == 6;
    })) << text;
}

TEST(conformance, c_option_defaults_are_the_cpp_defaults) {
    metricsd_options o;
    metricsd_options_init(&o);
    const metricsd::client_options cpp;
    EXPECT_EQ(o.flush_interval_ms, static_cast<unsigned>(cpp.flush_interval.count()));
    EXPECT_EQ(o.max_buffer_bytes, cpp.max_buffer_bytes);
    EXPECT_EQ(o.socket_path, nullptr); // resolved like the C++ default_socket_path()
}

} // namespace

// One scenario, six clients, one daemon: C++ (metricsd::client), C (libmetricsd.so), Python
// (client/python), Node.js (client/node), Ruby (client/ruby) and metricsctl each send the same
// ops, and /metrics shows the exact sums. Byte-level conformance is tested per client against
// protocol/test_vectors.json (C++: protocol_test and client_test; Python:
// python_client_vectors; Node.js: node_client_vectors; Ruby: ruby_client_vectors); the C API
// wraps the C++ client, so it sends the same bytes. The longer end-to-end scenario of
// protocol/conformance/ runs per client (python_client_conformance, node_client_conformance,
// ruby_client_conformance).

#include "daemon_fixture.hpp"
#include "redis_server.hpp" // eventually()

#include <metricsd/client.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <metricsd.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

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

void send_from_node(const std::string& socket) {
    const std::string script = R"(
const metricsd = require(process.argv[1]);
const c = new metricsd.Client({ socket: process.argv[2] });
new metricsd.Counter({ name: 'conformance_total', help: 'Conformance.', labelNames: ['client'],
                       client: c }).labels('any').inc(5);
new metricsd.Gauge({ name: 'conformance_gauge', help: 'Conformance.', mode: 'shared', client: c }).inc(1);
new metricsd.Histogram({ name: 'conformance_seconds', help: 'Conformance.', buckets: [0.1, 1, 10],
                         client: c }).observe(0.25);
c.flush(5000).then((ok) => {
  if (!ok || c.lastError() !== null) { console.error('flush', ok, 'last error', c.lastError()); process.exit(1); }
});
)";
    std::string output;
    const int code = run_command(quoted(METRICSD_NODE_BINARY) + " -e " + quoted(script) + " " +
                                     quoted(METRICSD_NODE_CLIENT_DIR) + " " + quoted(socket),
                                 output);
    EXPECT_EQ(code, 0) << output;
}

void send_from_ruby(const std::string& socket) {
    const std::string script = R"(
require 'metricsd'
c = Metricsd::Client.new(socket: ARGV[0])
Metricsd::Counter.new(:conformance_total, docstring: 'Conformance.', labels: [:client],
                      client: c).labels('any').inc(5)
Metricsd::Gauge.new(:conformance_gauge, docstring: 'Conformance.', mode: :shared, client: c).inc(1)
Metricsd::Histogram.new(:conformance_seconds, docstring: 'Conformance.', buckets: [0.1, 1, 10],
                        client: c).observe(0.125)
ok = c.flush(5)
abort("flush #{ok}, last error #{c.last_error}") unless ok && c.last_error.nil?
)";
    std::string output;
    const int code = run_command(quoted(METRICSD_RUBY_BINARY) + " -I" +
                                     quoted(METRICSD_RUBY_CLIENT_DIR) + " -e " + quoted(script) +
                                     " " + quoted(socket),
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
    send_from_node(daemon.socket_path());
    send_from_ruby(daemon.socket_path());
    send_from_metricsctl(daemon.socket_path());

    const auto text = daemon.scrape();
    EXPECT_EQ(sample_value(text, "conformance_total{client=\"any\"}"), 30) << text;
    EXPECT_EQ(sample_value(text, "conformance_gauge"), 6) << text;
    EXPECT_EQ(sample_value(text, "conformance_seconds_bucket{le=\"0.1\"}"), 1);
    EXPECT_EQ(sample_value(text, "conformance_seconds_bucket{le=\"1.0\"}"), 4);
    EXPECT_EQ(sample_value(text, "conformance_seconds_bucket{le=\"10.0\"}"), 5);
    EXPECT_EQ(sample_value(text, "conformance_seconds_bucket{le=\"+Inf\"}"), 6);
    EXPECT_EQ(sample_value(text, "conformance_seconds_sum"), 36.9375);
    EXPECT_EQ(sample_value(text, "conformance_seconds_count"), 6);
}

// The shared end-to-end scenario (protocol/conformance/scenario.json, format in its README)
// through the C++ client. Two differences from the clients that validate ops: the C++ hot path
// never throws, so a `refuse_op` op is sent and refused by the daemon (the exact scrapes show it
// changed nothing); and the C++ client has no default buckets, so it declares the scenario's.
class scenario_driver {
public:
    scenario_driver(const daemon_process& daemon, const nlohmann::json& scenario)
        : daemon_(daemon), scenario_(scenario) {
        for (const auto& [name, opts] : scenario["clients"].items()) {
            metricsd::client_options o;
            o.socket_path = daemon.socket_path();
            o.on_error = [](const std::string&) {};
            if (opts.contains("max_buffer_ops"))
                o.max_buffer_bytes = opts["max_buffer_ops"].get<std::size_t>() * 16;
            clients_[name] = std::make_unique<metricsd::client>(std::move(o));
        }
    }

    void run(const nlohmann::json& steps) {
        for (const auto& step : steps)
            run_step(step);
    }

private:
    struct metric {
        std::string type;
        metricsd::counter_family counter;
        metricsd::gauge_family gauge;
        metricsd::histogram_family histogram;
        metricsd::summary_family summary;
    };

    static double number(const nlohmann::json& v) {
        if (!v.is_string())
            return v.get<double>();
        const auto text = v.get<std::string>();
        if (text == "NaN")
            return std::numeric_limits<double>::quiet_NaN();
        return text == "+Inf" ? HUGE_VAL : -HUGE_VAL;
    }

    metric make(const nlohmann::json& step) {
        auto& c = *clients_.at(step["client"].get<std::string>());
        const auto name = step["name"].get<std::string>();
        const auto help = step["help"].get<std::string>();
        const auto labels = step["label_names"].get<std::vector<std::string>>();
        metric m;
        m.type = step["type"].get<std::string>();
        if (m.type == "counter") {
            m.counter = c.counter(name, help, labels);
        } else if (m.type == "gauge") {
            const auto mode = metricsd::protocol::parse_gauge_mode(step.value("mode", "livesum"));
            if (!mode)
                throw std::invalid_argument("unknown gauge mode");
            m.gauge = c.gauge(name, help, labels, *mode);
        } else if (m.type == "summary") {
            m.summary = c.summary(name, help, labels);
        } else {
            std::vector<std::string> bounds;
            for (const auto& b : step.contains("buckets") ? step["buckets"] : scenario_["default_buckets"])
                bounds.push_back(b.dump()); // JSON's shortest text: 0.005, 1, 10.0
            m.histogram = c.histogram(name, help, labels, bounds);
        }
        return m;
    }

    void call(const nlohmann::json& step, const std::string& op) {
        const metric& m = metrics_.at(step["id"].get<std::string>());
        const auto values = step["labels"].get<std::vector<std::string>>();
        const double v = step.contains("value") ? number(step["value"]) : 1;
        if (m.type == "counter")
            m.counter.labels(values).inc(v);
        else if (m.type == "gauge" && op == "inc")
            m.gauge.labels(values).inc(v);
        else if (m.type == "gauge" && op == "dec")
            m.gauge.labels(values).dec(v);
        else if (m.type == "gauge")
            m.gauge.labels(values).set(v);
        else if (m.type == "histogram")
            m.histogram.labels(values).observe(v);
        else
            m.summary.labels(values).observe(v);
    }

    metricsd::client& client(const nlohmann::json& step) {
        return *clients_.at(step["client"].get<std::string>());
    }

    void run_step(const nlohmann::json& step) {
        SCOPED_TRACE(step.dump().substr(0, 120));
        const auto what = step["do"].get<std::string>();
        if (what == "repeat") {
            for (int i = 0; i < step["times"].get<int>(); ++i)
                for (const auto& s : step["steps"])
                    call(s, s["do"].get<std::string>());
        } else if (what == "declare") {
            metrics_[step["id"].get<std::string>()] = make(step);
        } else if (what == "inc" || what == "dec" || what == "set" || what == "observe") {
            call(step, what);
        } else if (what == "flush") {
            EXPECT_TRUE(client(step).flush(std::chrono::seconds(5)));
        } else if (what == "refuse_declare") {
            EXPECT_THROW(make(step), std::invalid_argument);
        } else if (what == "refuse_op") {
            call(step, step["op"].get<std::string>()); // sent; the daemon refuses it
        } else if (what == "refuse_labels") {
            const auto& m = metrics_.at(step["id"].get<std::string>());
            const auto values = step["labels"].get<std::vector<std::string>>();
            EXPECT_THROW(m.type == "counter"   ? (void)m.counter.labels(values)
                         : m.type == "gauge"   ? (void)m.gauge.labels(values)
                         : m.type == "summary" ? (void)m.summary.labels(values)
                                               : (void)m.histogram.labels(values),
                         std::invalid_argument);
        } else if (what == "expect_error") {
            EXPECT_EQ(client(step).last_error().rfind(step["error"].get<std::string>() + ":", 0),
                      0u)
                << client(step).last_error();
        } else if (what == "expect_dropped") {
            EXPECT_EQ(client(step).dropped_ops(), step["count"].get<std::uint64_t>());
        } else if (what == "scrape") {
            scrape(step);
        } else if (what == "close") {
            clients_.erase(step["client"].get<std::string>()); // the destructor disconnects
        } else {
            ADD_FAILURE() << "unknown step " << what;
        }
    }

    std::vector<std::string> scraped() const {
        const auto prefix = scenario_["scrape_prefix"].get<std::string>();
        std::vector<std::string> lines;
        std::istringstream text(daemon_.scrape());
        for (std::string line; std::getline(text, line);) {
            std::string name = line;
            if (line.rfind("# ", 0) == 0) {
                std::istringstream words(line);
                std::string hash, kind;
                words >> hash >> kind >> name;
            }
            if (name.rfind(prefix, 0) == 0)
                lines.push_back(line);
        }
        return lines;
    }

    void scrape(const nlohmann::json& step) {
        std::vector<std::string> expected;
        for (auto line : scenario_["expected"][step["expect"].get<std::string>()]) {
            auto text = line.get<std::string>();
            for (auto at = text.find("{pid}"); at != std::string::npos; at = text.find("{pid}"))
                text.replace(at, 5, std::to_string(::getpid()));
            expected.push_back(text);
        }
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::seconds(step.value("eventually", false) ? 5 : 0);
        auto got = scraped();
        while (got != expected && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            got = scraped();
        }
        EXPECT_EQ(got, expected);
    }

    const daemon_process& daemon_;
    const nlohmann::json& scenario_;
    std::map<std::string, std::unique_ptr<metricsd::client>> clients_;
    std::map<std::string, metric> metrics_;
};

TEST(conformance, shared_scenario_through_the_cpp_client) {
    std::ifstream file(std::string(METRICSD_SOURCE_DIR) + "/protocol/conformance/scenario.json");
    const auto scenario = nlohmann::json::parse(file);
    temp_dir dir;
    daemon_process daemon(dir);
    scenario_driver(daemon, scenario).run(scenario["steps"]);
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

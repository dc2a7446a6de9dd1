// Ingest through the Redis backend, end to end: the bench starts its own redis-server (free
// loopback port, temp dir, no persistence) and, for each run, a fresh daemon with
// `--backend redis --redis-flush-interval-ms 50`. 1, then 8 connections send a realistic mix (256
// labelled counter series and a 64-series histogram, one inc per observe) as pre-encoded OPS
// frames, then SYNC; ingest time ends when every ACK is back. The bench then polls Redis until
// the daemon's last flush holds the exact totals, checks every cell (any difference is a loss
// and fails the bench), and reports:
//
//   - ops/s ingested (start to the last ACK),
//   - Redis commands processed during the run (INFO total_commands_processed, minus the bench's
//     own INFO and polling commands) and per second, and the coalescing ratio ops / commands,
//   - redis-server's and the daemon's CPU (utime+stime from /proc/<pid>/stat over the run),
//   - flush lag: last ACK to the totals being readable in Redis.
//
// For comparison it then replays the same op mix the way pytheus's MultiProcessRedisBackend
// writes it (HINCRBYFLOAT + EXPIRE per inc; an observe incs sum, every bucket whose bound is
// >= the value, +Inf and count), from one C client with hiredis: one round trip per command
// (redis-py without a pipeline), and fully pipelined (the best any per-op pattern can do). It is
// a simulation of pytheus's command pattern, not pytheus: no Python, so it flatters pytheus.
//
// Each metric is printed as one line with the median, min and max over the runs; per-run
// details go to stderr.
//
// Usage: redis_bench <metricsd binary> [ops_per_run] [runs] [pytheus_seconds_per_run]
//   ops_per_run is split over the connections (whole frames); 0 runs only the simulation.
//   REDIS_SERVER=path overrides the redis-server binary.
//        redis_bench <metricsd binary> --scale [series] [runs] [baseline metricsd binary]
//   Scrape and flush at scale (see scale_bench below); REDIS_BENCH_DUMP=dir writes each
//   daemon's last scrape body there, to diff two builds.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"
#include "redis_server.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace metricsd;
using namespace metricsd::test;

namespace {

using steady = std::chrono::steady_clock;

double seconds_between(steady::time_point a, steady::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// ---------------------------------------------------------------------------------------------
// The workload: what a web app's workers send. One frame is 4096 records, alternating a counter
// inc and a histogram observe; every frame is the same, so the expected totals are exact.

constexpr std::uint32_t records_per_frame = 4096;
constexpr std::uint32_t frames_per_chunk = 16; // one send() of 1 MiB
constexpr std::string_view counter_name = "bench_http_requests_total";
constexpr std::string_view histogram_name = "bench_http_request_duration_seconds";
constexpr std::array<std::string_view, 4> methods{"GET", "POST", "PUT", "DELETE"};
constexpr int routes = 16;
constexpr std::array<std::string_view, 4> codes{"200", "201", "404", "500"};
// Prometheus's default buckets, as declared text (the Redis key suffix).
const std::vector<std::string_view> bucket_texts{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                                 "0.5",   "1",    "2.5",   "5",    "10"};
// Observed values: binary fractions, so sums are exact; one lands above the last bound (+Inf).
constexpr std::array<double, 8> observed{0.00390625, 0.015625, 0.0625, 0.125, 0.375, 0.75, 3, 12};
constexpr std::uint32_t counter_series = methods.size() * routes * codes.size(); // 256
constexpr std::uint32_t histogram_series = methods.size() * routes;              // 64
constexpr std::uint32_t counter_family = 0, histogram_family = 1;
constexpr std::uint32_t first_histogram_handle = counter_series;

std::string route(int r) {
    char b[32];
    std::snprintf(b, sizeof b, "/api/v1/resource%02d", r);
    return b;
}

/// Python json.dumps(dict) text for plain ASCII labels (no escapes needed here).
std::string label_json(const std::vector<std::pair<std::string_view, std::string>>& labels) {
    std::string out = "{";
    for (const auto& [k, v] : labels) {
        if (out.size() > 1)
            out += ", ";
        out += "\"" + std::string(k) + "\": \"" + v + "\"";
    }
    return out + "}";
}

struct workload {
    std::vector<std::vector<std::string>> counter_values, histogram_values; // label values
    std::vector<std::string> counter_fields, histogram_fields;              // Redis hash fields
    std::vector<double> bounds;                                             // parsed bucket_texts
    std::vector<protocol::op_record> frame_records;
    std::string declarations; // handshake, families, series
    std::string frame, chunk; // one frame; frames_per_chunk frames
    // Per frame: counter incs per series; histogram count, sum and cumulative buckets (+Inf
    // last) per series.
    std::vector<double> counter_per_frame, count_per_frame, sum_per_frame;
    std::vector<std::vector<double>> buckets_per_frame;

    workload() {
        for (auto b : bucket_texts)
            bounds.push_back(std::stod(std::string(b)));
        for (auto m : methods)
            for (int r = 0; r < routes; ++r) {
                for (auto c : codes) {
                    counter_values.push_back({std::string(m), route(r), std::string(c)});
                    counter_fields.push_back(label_json({{"method", std::string(m)},
                                                         {"route", route(r)},
                                                         {"code", std::string(c)}}));
                }
                histogram_values.push_back({std::string(m), route(r)});
                histogram_fields.push_back(
                    label_json({{"method", std::string(m)}, {"route", route(r)}}));
            }

        declarations = hello() +
                       family(counter_family, counter_name, protocol::metric_type::counter,
                              {"method", "route", "code"}) +
                       family(histogram_family, histogram_name, protocol::metric_type::histogram,
                              {"method", "route"}, protocol::gauge_mode::livesum, bucket_texts);
        for (std::uint32_t s = 0; s < counter_series; ++s) {
            const auto& v = counter_values[s];
            declarations += series(s, counter_family, {v[0], v[1], v[2]});
        }
        for (std::uint32_t s = 0; s < histogram_series; ++s) {
            const auto& v = histogram_values[s];
            declarations += series(first_histogram_handle + s, histogram_family, {v[0], v[1]});
        }

        counter_per_frame.assign(counter_series, 0);
        count_per_frame.assign(histogram_series, 0);
        sum_per_frame.assign(histogram_series, 0);
        buckets_per_frame.assign(histogram_series, std::vector<double>(bounds.size() + 1, 0));
        for (std::uint32_t i = 0; i < records_per_frame; ++i) {
            const std::uint32_t j = i / 2;
            if (i % 2 == 0) {
                const std::uint32_t s = j % counter_series;
                frame_records.push_back({protocol::op_code::inc, s, 1});
                counter_per_frame[s] += 1;
            } else {
                const std::uint32_t s = j % histogram_series;
                const double v = observed[(j / histogram_series) % observed.size()];
                frame_records.push_back(
                    {protocol::op_code::observe, first_histogram_handle + s, v});
                count_per_frame[s] += 1;
                sum_per_frame[s] += v;
                for (std::size_t b = 0; b < bounds.size(); ++b)
                    if (v <= bounds[b])
                        buckets_per_frame[s][b] += 1;
                buckets_per_frame[s][bounds.size()] += 1;
            }
        }
        frame = ops(frame_records);
        for (std::uint32_t f = 0; f < frames_per_chunk; ++f)
            chunk += frame;
    }

    /// Redis key of histogram cell `b` (a bucket index, bounds.size() for +Inf).
    static std::string bucket_key(std::size_t b) {
        return std::string(histogram_name) + ":" +
               (b < bucket_texts.size() ? std::string(bucket_texts[b]) : "+Inf");
    }
};

// ---------------------------------------------------------------------------------------------
// A blocking Redis connection (hiredis's synchronous API) that counts the commands it sends, so
// they can be taken out of Redis's own command counters.

struct reply_deleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

class redis_conn {
public:
    explicit redis_conn(int port) {
        for (int attempt = 0; attempt < 100; ++attempt) {
            ctx_ = redisConnect("127.0.0.1", port);
            if (ctx_ && !ctx_->err)
                break;
            if (ctx_)
                redisFree(ctx_);
            ctx_ = nullptr;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (!ctx_)
            throw std::runtime_error("cannot connect to redis-server on port " +
                                     std::to_string(port));
        timeval tv{30, 0};
        redisSetTimeout(ctx_, tv);
    }
    ~redis_conn() { redisFree(ctx_); }
    redis_conn(const redis_conn&) = delete;
    redis_conn& operator=(const redis_conn&) = delete;

    /// Send one command and wait for its reply. Throws on a broken connection or an error reply.
    reply_ptr command(const std::vector<std::string>& argv) {
        append(argv);
        return reply();
    }
    /// Queue one command (sent with the next reply()).
    void append(const std::vector<std::string>& argv) {
        std::vector<const char*> p;
        std::vector<std::size_t> n;
        for (const auto& a : argv) {
            p.push_back(a.data());
            n.push_back(a.size());
        }
        if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), p.data(), n.data()) !=
            REDIS_OK)
            throw std::runtime_error("redis: cannot queue " + argv.at(0));
        count(argv.at(0), 1);
    }
    /// Queue a command already in RESP form (redisFormatCommandArgv) named `name`.
    void append_formatted(const std::string& resp, const std::string& name) {
        redisAppendFormattedCommand(ctx_, resp.data(), resp.size());
        count(name, 1);
    }
    reply_ptr reply() {
        void* r = nullptr;
        if (redisGetReply(ctx_, &r) != REDIS_OK || r == nullptr)
            throw std::runtime_error(std::string("redis: ") + (ctx_->err ? ctx_->errstr : "?"));
        reply_ptr out(static_cast<redisReply*>(r));
        if (out->type == REDIS_REPLY_ERROR)
            throw std::runtime_error("redis error reply: " + std::string(out->str, out->len));
        return out;
    }

    /// INFO stats and commandstats: total_commands_processed and calls per command.
    std::map<std::string, long long> counters() {
        const auto r = command({"INFO", "stats", "commandstats"});
        std::map<std::string, long long> out;
        std::istringstream lines(std::string(r->str, r->len));
        std::string line;
        while (std::getline(lines, line)) {
            if (line.starts_with("total_commands_processed:"))
                out["total"] = std::stoll(line.substr(line.find(':') + 1));
            else if (line.starts_with("cmdstat_")) {
                const auto colon = line.find(':');
                const auto calls = line.find("calls=");
                if (colon != std::string::npos && calls != std::string::npos)
                    out[line.substr(8, colon - 8)] = std::stoll(line.substr(calls + 6));
            }
        }
        if (!out.count("total"))
            throw std::runtime_error("INFO has no total_commands_processed");
        return out;
    }

    /// Commands this connection sent, in total ("total") and per lower-case command name.
    const std::map<std::string, long long>& sent() const noexcept { return sent_; }

    /// HGETALL as field -> numeric value.
    std::map<std::string, double> hash_numbers(const std::string& key) {
        const auto r = command({"HGETALL", key});
        std::map<std::string, double> out;
        for (std::size_t i = 0; i + 1 < r->elements; i += 2)
            out[std::string(r->element[i]->str, r->element[i]->len)] = std::strtod(
                std::string(r->element[i + 1]->str, r->element[i + 1]->len).c_str(), nullptr);
        return out;
    }
    /// HGET as a number; NaN when absent.
    double hget_number(const std::string& key, const std::string& field) {
        const auto r = command({"HGET", key, field});
        if (r->type != REDIS_REPLY_STRING)
            return std::numeric_limits<double>::quiet_NaN();
        return std::strtod(std::string(r->str, r->len).c_str(), nullptr);
    }

private:
    void count(std::string name, long long n) {
        for (auto& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        sent_[name] += n;
        sent_["total"] += n;
    }

    redisContext* ctx_ = nullptr;
    std::map<std::string, long long> sent_;
};

/// Commands Redis processed between two counters() snapshots that `conn` did not send.
/// `sent_before`/`sent_after` are conn.sent() just before each counters() call: the earlier
/// INFO is counted by Redis after it runs, the later one is not yet.
std::map<std::string, long long> others(const std::map<std::string, long long>& before,
                                        const std::map<std::string, long long>& after,
                                        const std::map<std::string, long long>& sent_before,
                                        const std::map<std::string, long long>& sent_after) {
    std::map<std::string, long long> out;
    for (const auto& [name, calls] : after) {
        const auto b = before.count(name) ? before.at(name) : 0;
        const auto mine = (sent_after.count(name) ? sent_after.at(name) : 0) -
                          (sent_before.count(name) ? sent_before.at(name) : 0);
        if (calls - b - mine != 0)
            out[name] = calls - b - mine;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// One daemon run.

struct run_result {
    double ops = 0;
    double ingest_seconds = 0; // start to the last ACK
    double total_seconds = 0;  // start to the totals readable in Redis
    double commands = 0;       // Redis commands not sent by the bench
    double redis_cpu_seconds = 0, daemon_cpu_seconds = 0;
    std::map<std::string, long long> per_command;
    std::map<std::string, double> self_metrics; // metricsd_redis_* without the prefix
};

/// Throws (so that the daemon and redis-server are stopped on the way out) after printing the
/// end of the daemon's log; main() prints `what` and exits 1.
[[noreturn]] void fail(const std::string& what, daemon_process* d = nullptr) {
    if (d) {
        const auto log = d->process().log();
        std::fprintf(stderr, "--- daemon log (last 4 KiB) ---\n%s\n",
                     log.substr(log.size() > 4096 ? log.size() - 4096 : 0).c_str());
    }
    throw std::runtime_error(what);
}

/// Every cell the daemon should have written, checked against Redis. Returns "" when all match,
/// else a description of the first differences.
std::string verify(redis_conn& redis, const workload& w, double frames) {
    std::ostringstream diff;
    int shown = 0;
    auto check = [&](const std::string& key, const std::vector<std::string>& fields,
                     auto expected_of) {
        const auto got = redis.hash_numbers(key);
        for (std::size_t s = 0; s < fields.size(); ++s) {
            const double want = expected_of(s);
            const auto it = got.find(fields[s]);
            const double have = it == got.end() ? 0 : it->second;
            if (have != want && shown++ < 5)
                diff << "  " << key << " " << fields[s] << ": Redis " << have << ", expected "
                     << want << " (" << want - have << " missing)\n";
        }
        if (got.size() != fields.size() && shown++ < 5)
            diff << "  " << key << ": " << got.size() << " fields, expected " << fields.size()
                 << "\n";
    };
    check(std::string(counter_name), w.counter_fields,
          [&](std::size_t s) { return w.counter_per_frame[s] * frames; });
    for (std::size_t b = 0; b <= w.bounds.size(); ++b)
        check(workload::bucket_key(b), w.histogram_fields,
              [&](std::size_t s) { return w.buckets_per_frame[s][b] * frames; });
    check(std::string(histogram_name) + ":sum", w.histogram_fields,
          [&](std::size_t s) { return w.sum_per_frame[s] * frames; });
    check(std::string(histogram_name) + ":count", w.histogram_fields,
          [&](std::size_t s) { return w.count_per_frame[s] * frames; });
    return diff.str();
}

run_result run_once(const temp_dir& dir, redis_server& server, redis_conn& redis, const workload& w,
                    unsigned connections, std::uint64_t frames_per_connection,
                    const std::string& name) {
    redis.command({"FLUSHALL"});
    daemon_process d(dir,
                     {"--backend", "redis", "--redis-url",
                      "redis://127.0.0.1:" + std::to_string(server.port()) + "/0",
                      "--redis-flush-interval-ms", "50"},
                     name);

    // Declarations first, outside the timed part.
    std::vector<std::unique_ptr<raw_client>> clients;
    for (unsigned i = 0; i < connections; ++i) {
        clients.push_back(std::make_unique<raw_client>(d.socket_path()));
        clients.back()->send(w.declarations);
        for (const auto& r : clients.back()->sync(1))
            if (r.type == protocol::frame_type::error)
                fail("declaration refused: " + r.message, &d);
    }

    const auto sent0 = redis.sent();
    const auto stats0 = redis.counters();
    const double redis_cpu0 = cpu_seconds(server.pid());
    const double daemon_cpu0 = cpu_seconds(d.process().pid());
    const auto start = steady::now();

    std::vector<std::string> errors(connections);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < connections; ++i)
        threads.emplace_back([&, i] {
            try {
                std::uint64_t sent = 0;
                for (; sent + frames_per_chunk <= frames_per_connection; sent += frames_per_chunk)
                    clients[i]->send(w.chunk);
                for (; sent < frames_per_connection; ++sent)
                    clients[i]->send(w.frame);
                const auto replies = clients[i]->sync(2);
                if (replies.empty() || replies.back().type != protocol::frame_type::ack)
                    errors[i] = "no ACK within 10 s";
                for (const auto& r : replies)
                    if (r.type == protocol::frame_type::error)
                        errors[i] = "daemon error: " + r.message;
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        });
    for (auto& t : threads)
        t.join();
    const auto acked = steady::now();
    for (unsigned i = 0; i < connections; ++i)
        if (!errors[i].empty())
            fail("connection " + std::to_string(i) + ": " + errors[i], &d);

    // Wait for the last flush: a cheap probe (two cells) until it matches, then every cell.
    const double frames = static_cast<double>(frames_per_connection) * connections;
    const std::string last_counter_field = w.counter_fields.back();
    const std::string count_key = std::string(histogram_name) + ":count";
    const auto deadline = acked + std::chrono::seconds(10);
    std::string diff = "never checked";
    for (;;) {
        const bool probe = redis.hget_number(std::string(counter_name), last_counter_field) ==
                               w.counter_per_frame.back() * frames &&
                           redis.hget_number(count_key, w.histogram_fields.back()) ==
                               w.count_per_frame.back() * frames;
        if (probe) {
            diff = verify(redis, w, frames);
            if (diff.empty())
                break;
        }
        if (steady::now() > deadline) {
            if (!probe)
                diff = verify(redis, w, frames);
            fail("LOSS: 10 s after the last ACK Redis does not hold the totals (" +
                     std::to_string(static_cast<unsigned long long>(frames * records_per_frame)) +
                     " ops sent):\n" + diff,
                 &d);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const auto flushed = steady::now();
    const auto sent1 = redis.sent();
    const auto stats1 = redis.counters();
    const double redis_cpu1 = cpu_seconds(server.pid());
    const double daemon_cpu1 = cpu_seconds(d.process().pid());

    // The daemon's own account of its flushes (this scrape reads Redis, so it comes after the
    // counters were taken).
    run_result r;
    const auto self = d.scrape();
    for (const char* name :
         {"metricsd_redis_flushes_total", "metricsd_redis_flush_commands_total",
          "metricsd_redis_flush_duration_seconds_total", "metricsd_redis_flush_failures_total",
          "metricsd_redis_write_errors_total", "metricsd_redis_connects_total"})
        r.self_metrics[std::string(name).substr(15)] = sample_value(self, name);

    clients.clear();
    if (const int rc = d.stop(); rc != 0)
        fail("daemon exited with " + std::to_string(rc) + " after SIGTERM", &d);

    r.ops = frames * records_per_frame;
    r.ingest_seconds = seconds_between(start, acked);
    r.total_seconds = seconds_between(start, flushed);
    r.per_command = others(stats0, stats1, sent0, sent1);
    r.commands = static_cast<double>(r.per_command.count("total") ? r.per_command.at("total") : 0);
    r.redis_cpu_seconds = redis_cpu1 - redis_cpu0;
    r.daemon_cpu_seconds = daemon_cpu1 - daemon_cpu0;
    return r;
}

// ---------------------------------------------------------------------------------------------
// The pytheus-style simulation.

/// The RESP commands pytheus's MultiProcessRedisBackend sends for one op of the frame.
std::vector<std::vector<std::string>> pytheus_commands(const workload& w,
                                                       const protocol::op_record& op) {
    auto formatted = [](std::vector<std::string> argv) {
        std::vector<const char*> p;
        std::vector<std::size_t> n;
        for (const auto& a : argv) {
            p.push_back(a.data());
            n.push_back(a.size());
        }
        char* out = nullptr;
        const int len =
            redisFormatCommandArgv(&out, static_cast<int>(argv.size()), p.data(), n.data());
        std::string s(out, static_cast<std::size_t>(len));
        redisFreeCommand(out);
        return std::vector<std::string>{s, argv[0]};
    };
    auto number = [](double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%.17g", v);
        return std::string(b);
    };
    std::vector<std::vector<std::string>> out;
    auto inc = [&](const std::string& key, const std::string& field, double by) {
        out.push_back(formatted({"HINCRBYFLOAT", key, field, number(by)}));
        out.push_back(formatted({"EXPIRE", key, "3600"}));
    };
    if (op.op == protocol::op_code::inc) {
        inc(std::string(counter_name), w.counter_fields.at(op.handle), op.value);
    } else {
        const auto& field = w.histogram_fields.at(op.handle - first_histogram_handle);
        inc(std::string(histogram_name) + ":sum", field, op.value);
        for (std::size_t b = 0; b < w.bounds.size(); ++b)
            if (op.value <= w.bounds[b])
                inc(workload::bucket_key(b), field, 1);
        inc(workload::bucket_key(w.bounds.size()), field, 1);
        inc(std::string(histogram_name) + ":count", field, 1);
    }
    return out;
}

struct sim_result {
    double ops_per_sec = 0, commands_per_op = 0, redis_cpu_percent = 0;
};

sim_result pytheus_run(redis_server& server, redis_conn& control, const workload& w,
                       const std::vector<std::vector<std::vector<std::string>>>& per_op,
                       bool pipelined, double seconds) {
    control.command({"FLUSHALL"});
    redis_conn client(server.port());
    const double cpu0 = cpu_seconds(server.pid());
    const auto start = steady::now();
    const auto until = start + std::chrono::duration<double>(seconds);
    std::uint64_t done = 0, counter_incs = 0;
    long long queued = 0, answered = 0;
    constexpr std::size_t batch = 256; // ops per pipeline
    while (steady::now() < until) {
        for (std::size_t k = 0; k < batch; ++k, ++done) {
            const auto i = done % per_op.size();
            counter_incs += w.frame_records[i].op == protocol::op_code::inc;
            for (const auto& cmd : per_op[i]) {
                client.append_formatted(cmd[0], cmd[1]);
                ++queued;
                if (!pipelined) {
                    client.reply();
                    ++answered;
                }
            }
        }
        for (; answered < queued; ++answered)
            client.reply();
    }
    const auto end = steady::now();
    const double cpu1 = cpu_seconds(server.pid());
    // Sanity: every counter inc landed.
    double landed = 0;
    for (const auto& [field, v] : control.hash_numbers(std::string(counter_name)))
        landed += v;
    if (landed != static_cast<double>(counter_incs))
        fail("pytheus simulation: Redis holds " + std::to_string(landed) + " counter incs, sent " +
             std::to_string(counter_incs));
    const double secs = seconds_between(start, end);
    return {static_cast<double>(done) / secs,
            static_cast<double>(client.sent().at("total")) / static_cast<double>(done),
            100 * (cpu1 - cpu0) / secs};
}

// ---------------------------------------------------------------------------------------------

struct summary {
    std::vector<double> values;
    double median() {
        std::sort(values.begin(), values.end());
        return values[values.size() / 2];
    }
    double min() { return *std::min_element(values.begin(), values.end()); }
    double max() { return *std::max_element(values.begin(), values.end()); }
};

void print(const char* metric, const std::string& key, summary& s, const char* format,
           const std::string& extra) {
    const double med = s.median();
    std::string f = std::string("%s %s median=") + format + " min=" + format + " max=" + format +
                    " runs=%zu%s\n";
    std::printf(f.c_str(), metric, key.c_str(), med, s.min(), s.max(), s.values.size(),
                extra.c_str());
}

// ---------------------------------------------------------------------------------------------
// At scale (`--scale`): 100 k series of mixed types in one daemon, then
//   - flush: one op on every series (all of them change), timed from the first byte sent until
//     Redis holds every new value (a probe on the last series changed, then every cell checked
//     untimed); also from the last ACK (all ops in the store) to readable;
//   - scrape: GET /metrics on the Redis backend, wall time per scrape and the daemon's CPU.
// Given a second daemon binary (e.g. a build of main), both run in the same sitting, one after
// the other, each with a fresh Redis database: before/after on the same machine state.

constexpr std::uint32_t scale_counter = 0, scale_gauge = 1, scale_histogram = 2, scale_summary = 3;
constexpr std::string_view scale_names[] = {"scale_requests_total", "scale_in_flight",
                                            "scale_latency_seconds", "scale_payload_bytes"};

struct scale_workload {
    std::uint32_t counters = 0, gauges = 0, histograms = 0, summaries = 0;
    std::string declarations;
    std::string ops_bytes; // one op on every series, in handle order
    std::vector<std::string> counter_fields;
    std::string last_summary_field;

    explicit scale_workload(std::uint32_t n) {
        // 60 % counters (3 labels), 20 % livesum gauges, 10 % histograms (11 buckets), 10 %
        // summaries (2 labels each): what a web app exports, per endpoint and status.
        counters = n * 3 / 5;
        gauges = n / 5;
        histograms = n / 10;
        summaries = n - counters - gauges - histograms;
        declarations = hello() +
                       family(scale_counter, scale_names[0], protocol::metric_type::counter,
                              {"method", "route", "code"}) +
                       family(scale_gauge, scale_names[1], protocol::metric_type::gauge,
                              {"route", "instance"}) +
                       family(scale_histogram, scale_names[2], protocol::metric_type::histogram,
                              {"route", "instance"}, protocol::gauge_mode::livesum, bucket_texts) +
                       family(scale_summary, scale_names[3], protocol::metric_type::summary,
                              {"route", "instance"});
        std::vector<protocol::op_record> records;
        std::uint32_t handle = 0;
        for (std::uint32_t i = 0; i < counters; ++i, ++handle) {
            const std::string m(methods[i % 4]), c(codes[(i / 4) % 4]), r = scale_route(i / 16);
            declarations += series(handle, scale_counter, {m, r, c});
            counter_fields.push_back(label_json({{"method", m}, {"route", r}, {"code", c}}));
            records.push_back({protocol::op_code::inc, handle, 1});
        }
        const auto two_labels = [&](std::uint32_t fam, std::uint32_t count, protocol::op_code op,
                                    double v) {
            for (std::uint32_t i = 0; i < count; ++i, ++handle) {
                const std::string r = scale_route(i / 4), inst = "10.0.0." + std::to_string(i % 4);
                declarations += series(handle, fam, {r, inst});
                records.push_back({op, handle, fam == scale_histogram ? observed[i % 8] : v});
                if (fam == scale_summary && i + 1 == count)
                    last_summary_field = label_json({{"route", r}, {"instance", inst}});
            }
        };
        two_labels(scale_gauge, gauges, protocol::op_code::inc, 1);
        two_labels(scale_histogram, histograms, protocol::op_code::observe, 0);
        two_labels(scale_summary, summaries, protocol::op_code::observe, 0.25);
        for (std::size_t at = 0; at < records.size(); at += records_per_frame)
            ops_bytes += ops({records.begin() + static_cast<std::ptrdiff_t>(at),
                              records.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(
                                                    at + records_per_frame, records.size()))});
    }

    static std::string scale_route(std::uint32_t r) {
        char b[40];
        std::snprintf(b, sizeof b, "/api/v2/tenants/t%05u/items", r);
        return b;
    }
};

/// Every cell of the round-`k` totals, checked against Redis ("" when all match).
std::string verify_scale(redis_conn& redis, const scale_workload& w, double k) {
    std::ostringstream diff;
    const auto expect = [&](const std::string& key, std::size_t fields, auto want_of) {
        const auto got = redis.hash_numbers(key);
        if (got.size() != fields) {
            diff << "  " << key << ": " << got.size() << " fields, expected " << fields << "\n";
            return;
        }
        std::size_t wrong = 0;
        for (const auto& [field, v] : got)
            wrong += v != want_of(field);
        if (wrong != 0)
            diff << "  " << key << ": " << wrong << " fields differ\n";
    };
    expect(std::string(scale_names[0]), w.counters, [&](const std::string&) { return k; });
    const std::string h(scale_names[2]), s(scale_names[3]);
    expect(h + ":count", w.histograms, [&](const std::string&) { return k; });
    expect(h + ":+Inf", w.histograms, [&](const std::string&) { return k; });
    expect(s + ":count", w.summaries, [&](const std::string&) { return k; });
    expect(s + ":sum", w.summaries, [&](const std::string&) { return 0.25 * k; });
    return diff.str();
}

struct scale_result {
    summary flush_ms, flush_after_ack_ms, flush_daemon_cpu_ms, flush_redis_cpu_ms, scrape_ms,
        scrape_cpu_ms;
    std::size_t body_bytes = 0;
    double rss_before_scrapes_mb = 0, rss_after_scrapes_mb = 0;
};

/// VmRSS of a process in MiB (0 when unreadable).
double rss_mb(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("VmRSS:"))
            return std::stod(line.substr(6)) / 1024;
    return 0;
}

void scale_run(const std::string& binary, const temp_dir& dir, redis_server& server,
               redis_conn& redis, const scale_workload& w, int flush_runs, int scrapes,
               scale_result& out, const std::string& name) {
    redis.command({"FLUSHALL"});
    const std::uint32_t total = w.counters + w.gauges + w.histograms + w.summaries;
    daemon_process d(dir,
                     {"--backend", "redis", "--redis-url",
                      "redis://127.0.0.1:" + std::to_string(server.port()) + "/0",
                      "--max-series-per-family", std::to_string(total)},
                     name, binary);
    raw_client client(d.socket_path());
    client.send(w.declarations);
    for (const auto& r : client.sync(1))
        if (r.type == protocol::frame_type::error)
            fail("declaration refused: " + r.message, &d);
    const std::string probe_key = std::string(scale_names[3]) + ":count";
    // Round 1 creates every series in Redis (untimed); rounds 2.. change every one of them.
    for (int round = 1; round <= flush_runs + 1; ++round) {
        const double daemon_cpu0 = cpu_seconds(d.process().pid());
        const double redis_cpu0 = cpu_seconds(server.pid());
        const auto start = steady::now();
        client.send(w.ops_bytes);
        for (const auto& r : client.sync(static_cast<std::uint64_t>(round) + 1))
            if (r.type == protocol::frame_type::error)
                fail("ops refused: " + r.message, &d);
        const auto acked = steady::now();
        // The store hands changed series to flushes in first-change order, and one connection
        // applies them in order: the last series sent is the last one readable.
        while (redis.hget_number(probe_key, w.last_summary_field) != round) {
            if (steady::now() - acked > std::chrono::seconds(10))
                fail("round " + std::to_string(round) + " not in Redis 10 s after the ACK", &d);
            // Not a busy loop: on 2 cores it would take CPU from Redis and the daemon.
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        auto readable = steady::now();
        const double daemon_cpu1 = cpu_seconds(d.process().pid());
        const double redis_cpu1 = cpu_seconds(server.pid());
        // Round 1 is not in first-change order (declaring a series marks it changed), and a
        // retried flush sends its series after later ones: then the probe is early, and the
        // time is taken when every cell matches.
        for (std::string diff = verify_scale(redis, w, round); !diff.empty();
             diff = verify_scale(redis, w, round)) {
            if (steady::now() - acked > std::chrono::seconds(10))
                fail("LOSS in round " + std::to_string(round) + ":\n" + diff, &d);
            if (round > 1)
                std::fprintf(stderr, "  round %d: the probe was early\n", round);
            readable = steady::now();
        }
        if (round == 1)
            continue;
        out.flush_daemon_cpu_ms.values.push_back(1000 * (daemon_cpu1 - daemon_cpu0));
        out.flush_redis_cpu_ms.values.push_back(1000 * (redis_cpu1 - redis_cpu0));
        out.flush_ms.values.push_back(1000 * seconds_between(start, readable));
        out.flush_after_ack_ms.values.push_back(1000 * seconds_between(acked, readable));
    }
    const std::string sample = std::string(scale_names[0]) + "{method=\"GET\",route=\"" +
                               scale_workload::scale_route(0) + "\",code=\"200\"} " +
                               std::to_string(flush_runs + 1) + "\n";
    out.rss_before_scrapes_mb = rss_mb(d.process().pid());
    for (int i = 0; i < scrapes; ++i) {
        const double cpu0 = cpu_seconds(d.process().pid());
        const auto t0 = steady::now();
        const std::string body = d.scrape();
        const auto t1 = steady::now();
        const double cpu1 = cpu_seconds(d.process().pid());
        if (body.find(sample) == std::string::npos)
            fail("scrape lacks `" + sample + "`", &d);
        out.body_bytes = body.size();
        if (const char* dump = std::getenv("REDIS_BENCH_DUMP"); dump && i + 1 == scrapes)
            std::ofstream(std::string(dump) + "/" + name + ".txt") << body; // to diff builds
        out.scrape_ms.values.push_back(1000 * seconds_between(t0, t1));
        out.scrape_cpu_ms.values.push_back(1000 * (cpu1 - cpu0));
    }
    out.rss_after_scrapes_mb = rss_mb(d.process().pid());
    if (const int rc = d.stop(); rc != 0)
        fail("daemon exited with " + std::to_string(rc) + " after SIGTERM", &d);
}

/// `redis_bench <metricsd> --scale [series] [runs] [baseline metricsd]`
int scale_bench(const std::string& binary, int argc, char** argv) {
    const std::uint32_t n = argc > 3 ? static_cast<std::uint32_t>(std::stoul(argv[3])) : 100'000;
    const int runs = argc > 4 ? std::stoi(argv[4]) : 5;
    std::vector<std::pair<std::string, std::string>> daemons;
    if (argc > 5)
        daemons.emplace_back("baseline", argv[5]);
    daemons.emplace_back("this", binary);
    temp_dir dir;
    const scale_workload w(n);
    redis_server server;
    redis_conn redis(server.port());
    std::printf("# redis_bench --scale: %u series (%u counters, %u livesum gauges, %u histograms "
                "with %zu buckets, %u summaries), one daemon per binary, default flush settings\n",
                n, w.counters, w.gauges, w.histograms, bucket_texts.size(), w.summaries);
    std::fflush(stdout);
    for (auto& [key, path] : daemons) {
        scale_result r;
        scale_run(path, dir, server, redis, w, runs, 2 * runs + 1, r, "scale-" + key);
        const std::string k = "daemon=" + key + " series=" + std::to_string(n);
        const std::string bytes = " body_bytes=" + std::to_string(r.body_bytes);
        print("redis_scrape_ms", k, r.scrape_ms, "%.1f", bytes);
        print("redis_scrape_daemon_cpu_ms", k, r.scrape_cpu_ms, "%.1f", "");
        std::printf("redis_scrape_daemon_rss_mb %s before_scrapes=%.1f after_scrapes=%.1f\n",
                    k.c_str(), r.rss_before_scrapes_mb, r.rss_after_scrapes_mb);
        print("redis_flush_changed_series_ms", k, r.flush_ms, "%.1f",
              " (first op sent to every change readable in Redis)");
        print("redis_flush_changed_series_after_ack_ms", k, r.flush_after_ack_ms, "%.1f",
              " (last ACK to every change readable)");
        print("redis_flush_daemon_cpu_ms", k, r.flush_daemon_cpu_ms, "%.1f",
              " (ingest and flush, until the probe reads the last change)");
        print("redis_flush_redis_cpu_ms", k, r.flush_redis_cpu_ms, "%.1f",
              " (redis-server, same span)");
        std::fflush(stdout);
    }
    return 0;
}

int bench(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: redis_bench <metricsd> [ops_per_run] [runs] "
                             "[pytheus_seconds_per_run]\n");
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    if (argc > 2 && std::string_view(argv[2]) == "--scale")
        return scale_bench(argv[1], argc, argv);
    const std::uint64_t ops_per_run = argc > 2 ? std::stoull(argv[2]) : 160'000'000;
    const int runs = argc > 3 ? std::stoi(argv[3]) : 5;
    const double pytheus_seconds = argc > 4 ? std::stod(argv[4]) : 1.0;
    if (runs < 1)
        return 2;

    temp_dir dir;
    const workload w;
    redis_server server; // its own temp dir; the daemons run in `dir`
    redis_conn redis(server.port());
    {
        // The accounting must come out at zero when nobody else talks to Redis.
        const auto s0 = redis.sent();
        const auto c0 = redis.counters();
        redis.command({"PING"});
        const auto s1 = redis.sent();
        const auto c1 = redis.counters();
        const auto extra = others(c0, c1, s0, s1);
        if (!extra.empty())
            fail("Redis command accounting is off by " + std::to_string(extra.begin()->second) +
                 " (" + extra.begin()->first + ")");
    }
    const auto version = redis.command({"INFO", "server"});
    std::string redis_version = "?";
    {
        const std::string info(version->str, version->len);
        const auto at = info.find("redis_version:");
        if (at != std::string::npos)
            redis_version = info.substr(at + 14, info.find('\r', at) - at - 14);
    }
    std::printf("# redis_bench: redis-server %s on loopback, --redis-flush-interval-ms 50; %u "
                "counter series + %u histogram series (%zu buckets), 1 inc : 1 observe\n",
                redis_version.c_str(), counter_series, histogram_series, bucket_texts.size());
    std::fflush(stdout);

    std::map<unsigned, double> median_rate;
    for (unsigned connections : {1u, 8u}) {
        if (ops_per_run == 0) // only the pytheus simulation
            break;
        const std::uint64_t frames_per_connection = std::max<std::uint64_t>(
            1, (ops_per_run + std::uint64_t{connections} * records_per_frame - 1) /
                   (std::uint64_t{connections} * records_per_frame));
        summary rate, to_redis, commands, commands_per_sec, ratio, redis_cpu, daemon_cpu, lag;
        double ops = 0;
        for (int r = 0; r < runs; ++r) {
            const auto res =
                run_once(dir, server, redis, w, connections, frames_per_connection,
                         "redis-" + std::to_string(connections) + "-" + std::to_string(r));
            ops = res.ops;
            rate.values.push_back(res.ops / res.ingest_seconds);
            to_redis.values.push_back(res.ops / res.total_seconds);
            commands.values.push_back(res.commands);
            commands_per_sec.values.push_back(res.commands / res.total_seconds);
            ratio.values.push_back(res.commands > 0 ? res.ops / res.commands : 0);
            redis_cpu.values.push_back(100 * res.redis_cpu_seconds / res.total_seconds);
            daemon_cpu.values.push_back(100 * res.daemon_cpu_seconds / res.total_seconds);
            lag.values.push_back(1000 * (res.total_seconds - res.ingest_seconds));
            std::string breakdown;
            for (const auto& [name, calls] : res.per_command)
                if (name != "total")
                    breakdown += " " + name + "=" + std::to_string(calls);
            const auto& m = res.self_metrics;
            std::fprintf(
                stderr,
                "  redis_bench connections=%u run=%d: %.0f ops in %.3f s (+%.1f ms to Redis), "
                "%.0f ops/s; redis cmds %.0f:%s; cpu redis %.2f s daemon %.2f s; daemon says: "
                "%.0f flushes, %.0f commands, %.2f ms per flush, %.0f failed, %.0f write "
                "errors, %.0f connects\n",
                connections, r, res.ops, res.ingest_seconds,
                1000 * (res.total_seconds - res.ingest_seconds), res.ops / res.ingest_seconds,
                res.commands, breakdown.c_str(), res.redis_cpu_seconds, res.daemon_cpu_seconds,
                m.at("flushes_total"), m.at("flush_commands_total"),
                1000 * m.at("flush_duration_seconds_total") / m.at("flushes_total"),
                m.at("flush_failures_total"), m.at("write_errors_total"), m.at("connects_total"));
        }
        const std::string key = "connections=" + std::to_string(connections);
        const std::string per_run =
            " ops_per_run=" + std::to_string(static_cast<unsigned long long>(ops));
        median_rate[connections] = rate.median();
        print("redis_ingest_ops_per_sec", key, rate, "%.0f", per_run);
        print("redis_ingest_to_redis_ops_per_sec", key, to_redis, "%.0f",
              " (start to totals in Redis)");
        print("redis_commands_per_run", key, commands, "%.0f", per_run);
        print("redis_commands_per_sec", key, commands_per_sec, "%.0f", "");
        print("redis_coalescing_ratio", key, ratio, "%.0f", " (ops per Redis command)");
        print("redis_server_cpu_percent", key, redis_cpu, "%.1f", "");
        print("redis_daemon_cpu_percent", key, daemon_cpu, "%.1f", "");
        print("redis_flush_lag_ms", key, lag, "%.1f", " (last ACK to totals in Redis)");
        std::fflush(stdout);
    }

    // The same op mix, written the way pytheus writes it.
    std::vector<std::vector<std::vector<std::string>>> per_op;
    for (const auto& op : w.frame_records)
        per_op.push_back(pytheus_commands(w, op));
    for (const bool pipelined : {false, true}) {
        summary rate, cpu;
        double commands_per_op = 0;
        for (int r = 0; r < runs; ++r) {
            const auto res = pytheus_run(server, redis, w, per_op, pipelined, pytheus_seconds);
            rate.values.push_back(res.ops_per_sec);
            cpu.values.push_back(res.redis_cpu_percent);
            commands_per_op = res.commands_per_op;
        }
        const std::string key = std::string("pattern=") + (pipelined ? "pipelined" : "roundtrip");
        char extra[96];
        std::snprintf(extra, sizeof extra, " commands_per_op=%.2f (simulated, 1 hiredis client)",
                      commands_per_op);
        print("pytheus_sim_ops_per_sec", key, rate, "%.0f", extra);
        print("pytheus_sim_redis_cpu_percent", key, cpu, "%.1f", "");
        for (const auto& [connections, median] : median_rate)
            std::printf("redis_speedup_vs_pytheus_sim %s connections=%u value=%.0f\n", key.c_str(),
                        connections, median / rate.median());
        std::fflush(stdout);
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return bench(argc, argv);
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "redis_bench: FAILED: %s\n", e.what());
        return 1;
    }
}

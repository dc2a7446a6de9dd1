// Ingest throughput of the real daemon: C connections each send pre-encoded OPS frames
// (4096 records per frame) as fast as the socket takes them, then SYNC; the run ends when every
// ACK is back, i.e. when the daemon has applied every op. Prints one line per connection count
// with the median of several runs.
//
// Usage: ingest_bench <metricsd binary> [ops_per_connection] [runs]
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace metricsd;
using namespace metricsd::test;

namespace {

constexpr std::uint32_t records_per_frame = 4096;
constexpr std::uint32_t series_per_connection = 16;

std::string make_payload(std::uint64_t ops) {
    std::string declarations =
        hello() + family(0, "bench_ops_total", protocol::metric_type::counter, {"series"});
    for (std::uint32_t s = 0; s < series_per_connection; ++s) {
        const std::string v = std::to_string(s);
        declarations += series(s, 0, {v});
    }
    std::vector<protocol::op_record> batch(records_per_frame);
    for (std::uint32_t i = 0; i < records_per_frame; ++i)
        batch[i] = {protocol::op_code::inc, i % series_per_connection, 1};
    const std::string frame = test::ops(batch);
    std::string all = declarations;
    all.reserve(declarations.size() + frame.size() * (ops / records_per_frame));
    for (std::uint64_t sent = 0; sent < ops; sent += records_per_frame)
        all += frame;
    return all;
}

double run_once(const std::string& socket, unsigned connections, const std::string& payload,
                std::uint64_t ops_per_connection) {
    std::vector<std::unique_ptr<raw_client>> clients;
    for (unsigned i = 0; i < connections; ++i)
        clients.push_back(std::make_unique<raw_client>(socket));
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < connections; ++i)
        threads.emplace_back([&, i] {
            clients[i]->send(payload);
            auto r = clients[i]->sync(1);
            if (r.empty() || r.back().type != protocol::frame_type::ack)
                throw std::runtime_error("no ACK");
        });
    for (auto& t : threads)
        t.join();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return static_cast<double>(ops_per_connection * connections) / secs;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: ingest_bench <metricsd> [ops_per_connection] [runs]\n");
        return 2;
    }
    const std::uint64_t ops = argc > 2 ? std::stoull(argv[2]) : 20'000'000;
    const int runs = argc > 3 ? std::stoi(argv[3]) : 5;
    temp_dir dir;
    const std::string payload = make_payload(ops);
    const std::uint64_t sent_ops =
        (ops + records_per_frame - 1) / records_per_frame * records_per_frame;
    for (unsigned connections : {1u, 8u}) {
        std::vector<double> rates;
        for (int r = 0; r < runs; ++r) {
            daemon_process d(dir, {},
                             "bench-" + std::to_string(connections) + "-" + std::to_string(r));
            rates.push_back(run_once(d.socket_path(), connections, payload, sent_ops));
            const std::string expect =
                std::to_string(sent_ops * connections / series_per_connection);
            const auto text = d.scrape();
            if (text.find("bench_ops_total{series=\"0\"} " + expect + "\n") == std::string::npos) {
                std::fprintf(stderr, "LOSS: expected %s per series\n%s", expect.c_str(),
                             text.c_str());
                return 1;
            }
            d.stop();
        }
        std::sort(rates.begin(), rates.end());
        std::printf("ingest_ops_per_sec connections=%u median=%.0f min=%.0f max=%.0f runs=%d "
                    "ops_per_run=%llu\n",
                    connections, rates[rates.size() / 2], rates.front(), rates.back(), runs,
                    static_cast<unsigned long long>(sent_ops * connections));
    }
    return 0;
}

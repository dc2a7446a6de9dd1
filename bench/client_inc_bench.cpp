// ns per metricsd::client counter inc() on one series handle, single thread, with a connected
// in-process peer (the daemon's store + ingest handler) draining the socket. Prints one line:
// client_inc_ns_median=<ns>. Details (runs, drops) go to stderr.
#include "client_test_peer.hpp"

#include <metricsd/client.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
    using namespace std::chrono;
    const long iterations = argc > 1 ? std::atol(argv[1]) : 50'000'000;
    constexpr int runs = 5;

    metricsd::test::temp_dir dir;
    const std::string path = dir.path() + "/ingest.sock";
    metricsd::test::test_peer peer(path);
    metricsd::client_options o;
    o.socket_path = path;
    metricsd::client c(o);
    auto s = c.counter("bench_total", "Benchmark.", {"k"}).labels("v");
    if (!c.flush(seconds(5))) {
        std::fprintf(stderr, "client_inc_bench: no connection to the peer\n");
        return 1;
    }

    std::vector<double> ns;
    for (int r = 0; r < runs; ++r) {
        const auto start = steady_clock::now();
        for (long i = 0; i < iterations; ++i)
            s.inc();
        const auto elapsed = duration<double, std::nano>(steady_clock::now() - start).count();
        ns.push_back(elapsed / static_cast<double>(iterations));
        c.flush(seconds(30)); // drain between runs so each starts from the same state
    }
    const auto delivered = peer.value("bench_total", {"v"}).value_or(0);
    std::fprintf(stderr, "runs:");
    for (const double x : ns)
        std::fprintf(stderr, " %.2f", x);
    std::fprintf(stderr, " ns; delivered %.0f of %ld ops, dropped %llu\n", delivered,
                 iterations * runs, static_cast<unsigned long long>(c.dropped_ops()));
    std::sort(ns.begin(), ns.end());
    std::printf("client_inc_ns_median=%.2f\n", ns[runs / 2]);
    return 0;
}

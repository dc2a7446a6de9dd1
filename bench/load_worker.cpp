// One busy worker process for the end-to-end bench (bench/scale_bench.py, row e2e): a real
// metricsd::client that connects, prints "ready", reads the start time from stdin (CLOCK_REALTIME
// seconds since the epoch: the driver gives 16 workers one start once all are ready), calls
// counter inc() as fast as it can for `seconds` from then, and flush()es what its buffer holds. Prints one JSON line: ops sent (inc() calls), ops the client dropped
// (its dropped_ops() counter) and whether the final flush was acknowledged.
//
// Usage: load_worker <socket> <worker id> <seconds>
#include <metricsd/client.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

int main(int argc, char** argv) {
    using namespace std::chrono;
    if (argc != 4) {
        std::fprintf(stderr, "usage: load_worker <socket> <worker id> <seconds>\n");
        return 2;
    }
    metricsd::client_options o;
    o.socket_path = argv[1];
    metricsd::client c(o);
    auto s = c.counter("bench_e2e_ops_total", "Ops sent by the end-to-end bench's workers.",
                       {"client", "worker"})
                 .labels("cpp", argv[2]);
    c.flush(seconds(10)); // connected and declared before the clock starts
    std::printf("ready\n");
    std::fflush(stdout);
    double start_at = 0;
    if (std::scanf("%lf", &start_at) != 1)
        return 2;
    const auto start = system_clock::time_point(
        duration_cast<system_clock::duration>(duration<double>(start_at)));
    const auto stop = start + duration_cast<system_clock::duration>(
                                  duration<double>(std::strtod(argv[3], nullptr)));
    std::this_thread::sleep_until(start);
    unsigned long long sent = 0;
    // The clock is read every 4096 incs: ~2 % of the loop at a few ns per inc().
    while (system_clock::now() < stop) {
        for (int i = 0; i < 4096; ++i)
            s.inc();
        sent += 4096;
    }
    const bool flushed = c.flush(seconds(60));
    std::printf("{\"sent\": %llu, \"dropped\": %llu, \"flushed\": %s}\n", sent,
                static_cast<unsigned long long>(c.dropped_ops()), flushed ? "true" : "false");
    return 0;
}

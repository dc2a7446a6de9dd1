// A worker process for the integration tests: instruments a loop with the C++ client the way an
// application would, flushes, and either exits or stays alive (to be killed).
//
// Usage: metricsd_test_worker SOCKET INCS [hold]
//   work_total{set=a|b|c}   INCS increments, round-robin over three label sets
//   busy_workers            livesum gauge: +1 while the worker is connected
//   worker_pid_max          max gauge: the worker's pid
//   total_seen              sum gauge: set to INCS
//   work_size               histogram (buckets 1, 10, 100): observes i % 200 for every i
// Prints "flushed" once the daemon acknowledged everything, then "holding" and sleeps if asked.
#include <metricsd/client.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s SOCKET INCS [hold]\n", argv[0]);
        return 2;
    }
    metricsd::client_options options;
    options.socket_path = argv[1];
    const long incs = std::atol(argv[2]);
    const bool hold = argc > 3 && std::string(argv[3]) == "hold";

    metricsd::client metrics(options);
    auto work = metrics.counter("work_total", "Units of work done.", {"set"});
    const metricsd::counter_series sets[3] = {work.labels("a"), work.labels("b"), work.labels("c")};
    auto busy = metrics.gauge("busy_workers", "Workers running.");
    auto pid_max =
        metrics.gauge("worker_pid_max", "Largest worker pid.", {}, metricsd::gauge_mode::max);
    auto seen = metrics.gauge("total_seen", "Increments per worker, summed.", {},
                              metricsd::gauge_mode::sum);
    auto size = metrics.histogram("work_size", "Size of each unit.", {}, {"1", "10", "100"});

    busy.labels().inc();
    pid_max.labels().set(static_cast<double>(::getpid()));
    const auto sizes = size.labels();
    for (long i = 0; i < incs; ++i) {
        sets[i % 3].inc();
        sizes.observe(static_cast<double>(i % 200));
    }
    seen.labels().set(static_cast<double>(incs));
    if (!metrics.flush(std::chrono::seconds(60))) {
        std::fprintf(stderr, "flush failed: %s\n", metrics.last_error().c_str());
        return 1;
    }
    std::printf("flushed dropped=%llu\n", static_cast<unsigned long long>(metrics.dropped_ops()));
    std::fflush(stdout);
    if (hold) {
        std::printf("holding\n");
        std::fflush(stdout);
        for (;;)
            ::pause();
    }
    return 0;
}

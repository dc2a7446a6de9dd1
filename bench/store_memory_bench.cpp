// Memory per series of the in-memory store, and the time to create them: builds a store with N
// series the way connections do (a worker declares each series and keeps its binding, as an
// ingest handle table would), in a fresh child process per measurement so freed memory of an
// earlier run cannot hide growth, and reads VmRSS from /proc/self/status before and after.
//
// Variants:
//   counter   N counter series with two short labels (`method`: 10 values, `path`: N/10 per
//             family up to 1 000), 10 000 series per family (the default per-family limit)
//   mixed     the same label sets over families of every kind in turn: counter, gauge livesum,
//             gauge shared, histogram (5 buckets), summary
//
// Prints one line per (variant, N):
//   store_memory variant=counter series=1000000 bytes_per_series=... bindings_bytes_per_series=...
//       create_ns_per_series=...
// bytes_per_series is the RSS growth over the series count, the bindings vector (what the
// caller keeps: the ingest handle table in the daemon) excluded; bindings_bytes_per_series is
// that vector's share.
//
// Then the hot path in process, without sockets: store::apply over 16 series of one family
// round robin (counter inc, gauge livesum inc, histogram observe), 50 M ops each:
//   store_apply kind=counter ns_per_op=...
//
// Usage: store_memory_bench [series_count...]      (default: 100000 1000000)
#include "daemon/store/store.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

using namespace metricsd;

namespace {

constexpr std::size_t series_per_family = 10'000;

/// Resident set size in bytes, from /proc/self/status (VmRSS, in kB).
std::size_t rss_bytes() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stoull(line.substr(6)) * 1024;
    return 0;
}

struct kind {
    protocol::metric_type type;
    protocol::gauge_mode mode;
};

constexpr kind counter_only[] = {{protocol::metric_type::counter, protocol::gauge_mode::livesum}};
constexpr kind mixed[] = {{protocol::metric_type::counter, protocol::gauge_mode::livesum},
                          {protocol::metric_type::gauge, protocol::gauge_mode::livesum},
                          {protocol::metric_type::gauge, protocol::gauge_mode::shared},
                          {protocol::metric_type::histogram, protocol::gauge_mode::livesum},
                          {protocol::metric_type::summary, protocol::gauge_mode::livesum}};

/// Build the store, print the line. Runs in a child process.
int measure(const char* variant, std::span<const kind> kinds, std::size_t n) {
    daemon::store_limits limits;
    limits.max_families = n / series_per_family + 2;
    limits.max_series_per_family = series_per_family;
    limits.max_series_total = n;
    // Everything the run needs but the store, allocated before the first reading.
    std::vector<daemon::binding> bindings;
    bindings.reserve(n);
    std::vector<std::string> names;
    for (std::size_t f = 0; f <= n / series_per_family; ++f)
        names.push_back("bench_family_" + std::to_string(f) + "_total");
    const std::string_view label_names[] = {"method", "path"};
    const std::string_view buckets[] = {"0.01", "0.1", "1", "10", "100"};
    const std::string_view methods[] = {"GET",    "POST", "PUT",   "DELETE", "HEAD",
                                        "OPTIONS", "PATCH", "TRACE", "CONNECT", "LIST"};
    std::vector<std::string> paths;
    for (std::size_t p = 0; p < series_per_family / 10; ++p)
        paths.push_back("/api/v1/item" + std::to_string(p));

    daemon::store* st = nullptr;
    const std::size_t before = rss_bytes();
    const auto start = std::chrono::steady_clock::now();
    st = new daemon::store(limits);
    const auto worker = st->add_worker(1234);
    const daemon::family* fam = nullptr;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t in_family = i % series_per_family;
        if (in_family == 0) {
            const auto& k = kinds[(i / series_per_family) % kinds.size()];
            protocol::family_decl d;
            d.type = k.type;
            d.mode = k.mode;
            d.name = names[i / series_per_family];
            d.help = "Bench family.";
            d.label_names = label_names;
            if (k.type == protocol::metric_type::histogram)
                d.buckets = buckets;
            auto declared = st->declare_family(d);
            if (!declared) {
                std::fprintf(stderr, "declare_family: %s\n", declared.error().message.c_str());
                return 1;
            }
            fam = declared.value();
        }
        const std::string_view values[] = {methods[in_family % 10], paths[in_family / 10]};
        auto b = st->declare_series(fam, values, worker);
        if (!b) {
            std::fprintf(stderr, "declare_series: %s\n", b.error().message.c_str());
            return 1;
        }
        bindings.push_back(b.value());
        const auto op = fam->spec().type == protocol::metric_type::counter ||
                                fam->spec().type == protocol::metric_type::gauge
                            ? protocol::op_code::inc
                            : protocol::op_code::observe;
        if (st->apply(b.value(), op, 1.0) != daemon::apply_status::ok) {
            std::fprintf(stderr, "apply refused\n");
            return 1;
        }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::size_t after = rss_bytes();
    if (st->series_count() != n) {
        std::fprintf(stderr, "expected %zu series, the store holds %zu\n", n, st->series_count());
        return 1;
    }
    // The bindings vector was reserved (and its pages not yet touched) before the first
    // reading: its pages are part of the growth; take them out.
    const double bindings_bytes = static_cast<double>(n * sizeof(daemon::binding));
    const double growth = static_cast<double>(after - before) - bindings_bytes;
    std::printf("store_memory variant=%s series=%zu bytes_per_series=%.0f "
                "bindings_bytes_per_series=%.0f create_ns_per_series=%.0f\n",
                variant, n, growth / static_cast<double>(n),
                bindings_bytes / static_cast<double>(n), secs * 1e9 / static_cast<double>(n));
    std::fflush(stdout);
    return 0;
}

/// ns per store::apply for one kind of series. Runs in a child process.
int measure_apply(const char* name, kind k, protocol::op_code op) {
    constexpr std::size_t series = 16;
    constexpr std::size_t ops = 50'000'000;
    daemon::store st;
    const auto worker = st.add_worker(1);
    const std::string_view label_names[] = {"n"};
    const std::string_view buckets[] = {"0.01", "0.1", "1", "10", "100"};
    protocol::family_decl d;
    d.type = k.type;
    d.mode = k.mode;
    d.name = "bench_apply";
    d.label_names = label_names;
    if (k.type == protocol::metric_type::histogram)
        d.buckets = buckets;
    const auto* fam = st.declare_family(d).value();
    std::vector<daemon::binding> bindings;
    std::vector<std::string> values;
    for (std::size_t i = 0; i < series; ++i)
        values.push_back(std::to_string(i));
    for (std::size_t i = 0; i < series; ++i) {
        const std::string_view v[] = {values[i]};
        bindings.push_back(st.declare_series(fam, v, worker).value());
    }
    std::size_t refused = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < ops; ++i)
        refused += st.apply(bindings[i % series], op, static_cast<double>(i & 7)) !=
                   daemon::apply_status::ok;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (refused != 0) {
        std::fprintf(stderr, "apply refused %zu ops\n", refused);
        return 1;
    }
    std::printf("store_apply kind=%s ns_per_op=%.2f\n", name, secs * 1e9 / ops);
    std::fflush(stdout);
    return 0;
}

/// Run `f` in a fresh child process; false when it failed.
template <class F>
bool in_child(F&& f) {
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0)
        _exit(f());
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::size_t> counts;
    for (int i = 1; i < argc; ++i)
        counts.push_back(std::stoull(argv[i]));
    if (counts.empty())
        counts = {100'000, 1'000'000};
    int failed = 0;
    for (const auto& [variant, kinds] : {std::pair{"counter", std::span<const kind>(counter_only)},
                                         std::pair{"mixed", std::span<const kind>(mixed)}})
        for (std::size_t n : counts)
            failed |= !in_child([&] { return measure(variant, kinds, n); });
    using protocol::gauge_mode;
    using protocol::metric_type;
    using protocol::op_code;
    failed |= !in_child([] {
        return measure_apply("counter", {metric_type::counter, gauge_mode::livesum}, op_code::inc);
    });
    failed |= !in_child([] {
        return measure_apply("gauge_livesum", {metric_type::gauge, gauge_mode::livesum},
                             op_code::inc);
    });
    failed |= !in_child([] {
        return measure_apply("histogram", {metric_type::histogram, gauge_mode::livesum},
                             op_code::observe);
    });
    return failed;
}

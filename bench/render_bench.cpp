// Render speed of /metrics without sockets: fills a store with N series of mixed types and
// times a full render, as the daemon does it (64 KiB slices into one reused buffer, the gzip
// variant deflating each slice), in text and OpenMetrics.
//
// Usage: render_bench [N...] [--runs R] [--slice BYTES] [--whole]
//   default N: 1000 10000 100000 1000000; R: 5 (the median is printed); --whole renders the
//   old way instead (one fresh string per scrape, gzip of the whole body) for comparison.
// Output, one line per (N, format, gzip) ("render_whole" with --whole):
//   render n=<series> format=<text|openmetrics> gzip=<0|1> cpu_ms=<median CPU time>
//          ms=<wall time of that run> bytes=<body bytes, compressed with gzip=1>
//          max_slice_ms=<longest slice> store_rss_mb=<RSS after filling the store>
// Series mix: 50 % counters, 30 % gauges (livesum, one worker), 10 % histograms (8 buckets),
// 10 % summaries; two labels each (a 3-letter method, a path with a number); families of at
// most 10 000 series.
#include "daemon/exposition/store_exposition.hpp"
#include "daemon/http/gzip.hpp"
#include "daemon/store/store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace metricsd;
using clock_type = std::chrono::steady_clock;

double rss_mb() {
    std::ifstream in("/proc/self/statm");
    long pages_total = 0, pages_rss = 0;
    in >> pages_total >> pages_rss;
    return static_cast<double>(pages_rss) * 4096.0 / (1024.0 * 1024.0);
}

struct kind {
    protocol::metric_type type;
    double share;
    const char* prefix;
};

void fill(daemon::store& s, std::size_t n) {
    const kind kinds[] = {{protocol::metric_type::counter, 0.5, "bench_requests"},
                          {protocol::metric_type::gauge, 0.3, "bench_inflight"},
                          {protocol::metric_type::histogram, 0.1, "bench_latency_seconds"},
                          {protocol::metric_type::summary, 0.1, "bench_size_bytes"}};
    const std::string_view label_names[] = {"method", "path"};
    const std::string_view buckets[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1"};
    const char* methods[] = {"GET", "PUT", "DEL", "POS", "HEA"};
    const daemon::worker_id w = s.add_worker(1234);
    constexpr std::size_t per_family = 10'000;
    for (const kind& k : kinds) {
        const auto count = static_cast<std::size_t>(static_cast<double>(n) * k.share);
        for (std::size_t done = 0, fam = 0; done < count; ++fam) {
            std::string name = std::string(k.prefix) + "_" + std::to_string(fam);
            if (k.type == protocol::metric_type::counter)
                name += "_total";
            protocol::family_decl d;
            d.type = k.type;
            d.name = name;
            d.help = "A benchmark family.";
            d.label_names = label_names;
            if (k.type == protocol::metric_type::histogram)
                d.buckets = buckets;
            const auto f = s.declare_family(d);
            if (!f) {
                std::fprintf(stderr, "declare_family failed\n");
                std::exit(1);
            }
            for (std::size_t i = 0; i < per_family && done < count; ++i, ++done) {
                const std::string path = "/api/v1/item/" + std::to_string(i);
                const std::string_view values[] = {methods[i % 5], path};
                auto b = s.declare_series(f.value(), values, w);
                if (!b) {
                    std::fprintf(stderr, "declare_series failed\n");
                    std::exit(1);
                }
                const auto op = k.type == protocol::metric_type::histogram ||
                                        k.type == protocol::metric_type::summary
                                    ? protocol::op_code::observe
                                    : protocol::op_code::inc;
                for (int j = 0; j < 3; ++j)
                    s.apply(b.value(), op, 0.003 * static_cast<double>(i % 400 + j));
            }
        }
    }
}

/// CPU time of this process: unlike wall time, not inflated by other processes on a busy
/// machine (the render is single-threaded).
double cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct result {
    double cpu = 0; ///< CPU ms
    double ms = 0;
    double max_slice_ms = 0;
    std::size_t bytes = 0;
};

/// The old way, for comparison (--whole): one fresh body string per scrape, then gzip of the
/// whole body. Only APIs that also existed before the sliced render.
result render_whole(const daemon::store& s, daemon::exposition_format f, bool gzip) {
    result r;
    const double cpu0 = cpu_ms();
    const auto start = clock_type::now();
    std::string body;
    daemon::render_families(s, f, body);
    daemon::render_trailer(f, body);
    r.bytes = body.size();
    if (gzip) {
        std::string packed;
        if (!daemon::gzip_compress(body, packed)) {
            std::fprintf(stderr, "gzip failed\n");
            std::exit(1);
        }
        r.bytes = packed.size();
    }
    const std::chrono::duration<double, std::milli> total = clock_type::now() - start;
    r.ms = total.count();
    r.cpu = cpu_ms() - cpu0;
    r.max_slice_ms = r.ms;
    return r;
}

#ifndef RENDER_BENCH_OLD_API
result render_once(const daemon::store& s, daemon::exposition_format f, bool gzip,
                   std::size_t slice, std::string& buffer, std::string& packed) {
    result r;
    daemon::store_cursor cursor;
    daemon::gzip_stream gz;
    const double cpu0 = cpu_ms();
    const auto start = clock_type::now();
    for (bool done = false; !done;) {
        const auto t0 = clock_type::now();
        buffer.clear();
        done = daemon::render_families_slice(s, f, cursor, buffer, slice);
        if (done)
            daemon::render_trailer(f, buffer);
        std::size_t out = buffer.size();
        if (gzip) {
            packed.clear();
            if (!gz.write(buffer, done, packed)) {
                std::fprintf(stderr, "gzip failed\n");
                std::exit(1);
            }
            out = packed.size();
        }
        r.bytes += out;
        const std::chrono::duration<double, std::milli> took = clock_type::now() - t0;
        r.max_slice_ms = std::max(r.max_slice_ms, took.count());
    }
    const std::chrono::duration<double, std::milli> total = clock_type::now() - start;
    r.ms = total.count();
    r.cpu = cpu_ms() - cpu0;
    return r;
}
#endif

} // namespace

int main(int argc, char** argv) {
    std::vector<std::size_t> sizes;
    int runs = 5;
    std::size_t slice = 64 * 1024;
    bool whole = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--whole")
            whole = true;
        else if (a == "--runs" && i + 1 < argc)
            runs = std::max(1, std::atoi(argv[++i]));
        else if (a == "--slice" && i + 1 < argc)
            slice = static_cast<std::size_t>(std::atoll(argv[++i]));
        else
            sizes.push_back(static_cast<std::size_t>(std::atoll(a.c_str())));
    }
    if (sizes.empty())
        sizes = {1'000, 10'000, 100'000, 1'000'000};
    for (const std::size_t n : sizes) {
        daemon::store_limits limits;
        limits.max_series_total = n + 10;
        limits.max_families = 10'000;
        daemon::store s(limits);
        fill(s, n);
        const double rss = rss_mb();
        std::string buffer, packed;
        for (const auto f : {daemon::exposition_format::text, daemon::exposition_format::openmetrics})
            for (const bool gzip : {false, true}) {
                std::vector<result> rs;
                for (int r = 0; r < runs; ++r) {
#ifndef RENDER_BENCH_OLD_API
                    if (!whole) {
                        rs.push_back(render_once(s, f, gzip, slice, buffer, packed));
                        continue;
                    }
#endif
                    rs.push_back(render_whole(s, f, gzip));
                }
                std::sort(rs.begin(), rs.end(),
                          [](const result& a, const result& b) { return a.cpu < b.cpu; });
                const result& med = rs[rs.size() / 2];
                double max_slice = 0;
                for (const auto& r : rs)
                    max_slice = std::max(max_slice, r.max_slice_ms);
                std::printf("render%s n=%zu format=%s gzip=%d cpu_ms=%.2f ms=%.2f bytes=%zu max_slice_ms=%.3f "
                            "store_rss_mb=%.0f\n",
                            whole ? "_whole" : "", n,
                            f == daemon::exposition_format::text ? "text" : "openmetrics",
                            gzip ? 1 : 0, med.cpu, med.ms, med.bytes, max_slice, rss);
                std::fflush(stdout);
            }
    }
    return 0;
}

// Shared, sliced, paced renders of /metrics. Every response to a scrape subscribes to a render
// of its (format, encoding); concurrent scrapes of the same kind share one render, whose slices
// are handed to each of them in turn. A render produces one slice (~scrape_slice_bytes), waits
// until every subscriber has written it, yields to the event loop, and goes on: ingest runs
// between slices, and a scrape in flight holds one slice of memory, not the whole body.
//
// Why slices on the event loop rather than a snapshot rendered elsewhere: the store is
// single-threaded by design (no locks on the ingest hot path), so a snapshot would have to be
// copied on the event loop anyway, in one piece: at 1 M series that copy alone is a pause of
// the order of the render it replaces, and it doubles memory for the scrape. Slices keep the
// store single-threaded and the extra memory at one slice; the price is that a body is not one
// instant of the store: each series is (the writer takes its cells in one go), the families
// and series around it may be a few milliseconds apart, which Prometheus does not see either
// (its sample timestamps are the scrape's).
//
// io_context thread only; not thread-safe.
#pragma once

#include "daemon/exposition/exposition.hpp"
#include "daemon/net/net.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace metricsd::daemon {

/// The body of one scrape, produced in slices by its source (the store through a cursor, a
/// Redis view, a test's text). Called only between event-loop turns, never concurrently.
class exposition_stream {
public:
    virtual ~exposition_stream() = default;
    /// Appends the next part of the body to `out`: about `budget` bytes, more when one series
    /// is larger (a series is never split). Returns true when this call appended the end of the
    /// body (the daemon's own families and the trailer included). May throw (bad_alloc).
    virtual bool next(std::string& out, std::size_t budget) = 0;
};

/// A body rendered at once (a test's, or a source that cannot render in slices), handed out
/// in slices of `budget` bytes.
class string_exposition final : public exposition_stream {
public:
    explicit string_exposition(std::string body) noexcept : body_(std::move(body)) {}
    bool next(std::string& out, std::size_t budget) override;

private:
    std::string body_;
    std::size_t sent_ = 0;
};

/// What a scrape source gives for one render: a body stream, or why metrics cannot be
/// served now.
struct scrape_outcome {
    std::unique_ptr<exposition_stream> body; ///< null with `unavailable` set
    std::string unavailable; ///< non-empty: answered 503 with this reason, not counted a scrape
    /// Time the scrape waited for its data (a Redis snapshot) before rendering: not counted in
    /// the scrape duration, which measures rendering and compression only.
    std::chrono::steady_clock::duration waited{};
};

/// Starts one render in `format`. May throw: the scrape is then answered 500.
using scrape_fn = std::function<net::awaitable<scrape_outcome>(exposition_format format)>;

/// How renders are cut and paced.
struct scrape_render_options {
    /// A slice is cut after the first series that takes it to this size; it is what a scrape
    /// in flight holds (twice with gzip), and ~0.1–0.3 ms of rendering at 64 KiB.
    std::size_t slice_bytes = 64 * 1024;
    /// When other work (ingest) is waiting between slices, renders together take at most this
    /// share of the event loop: after a slice of t, the next one waits until t / share has
    /// passed. An idle loop renders back to back. 0.1 keeps >= 90 % for ingest.
    double loop_share = 0.1;
    /// Bodies shorter than this (when the whole body fits the first slice) go out
    /// uncompressed even when gzip is accepted: below about one TCP segment gzip saves no
    /// round trip and costs CPU and ~20 bytes of framing.
    std::size_t gzip_min_size = 1024;
};

/// What a subscriber gets at each step of its render.
struct scrape_slice {
    enum class kind : std::uint8_t {
        data,        ///< `data` is the next part of the body (maybe empty); `last` ends it
        unavailable, ///< the source cannot serve now (503); `data` is the reason
        failed,      ///< the source threw before the first slice (500); `data` says why
        aborted,     ///< the render failed after it began: cut the response, do not end it
    };
    kind what = kind::data;
    std::string_view data; ///< valid until the subscription's next next() or its end
    bool last = false;
    bool gzip = false; ///< the body is gzip-encoded (decided before the first slice)
};

/// Counters of the renders, for self-metrics.
struct scrape_render_stats {
    std::uint64_t renders = 0;           ///< renders run (each serves one or more scrapes)
    std::uint64_t shared = 0;            ///< scrapes that joined a render another one started
    std::uint64_t paced_waits = 0;       ///< pauses made for other work (ingest) between slices
    std::uint64_t bytes_in_flight = 0;   ///< slice buffers held by renders now
    std::uint64_t bytes_in_flight_max = 0;
    double seconds_last = 0; ///< render + compression time of the last render, pauses excluded
    double seconds_total = 0;
};

namespace detail {
struct scrape_job;
struct scrape_broadcast_state;
} // namespace detail

/// One response's place in a render. Not copyable; leaving (destruction) at any point is fine:
/// the render no longer waits for it, and stops when nobody is left.
class scrape_subscription {
public:
    explicit scrape_subscription(std::shared_ptr<detail::scrape_job> job) noexcept;
    ~scrape_subscription();
    scrape_subscription(const scrape_subscription&) = delete;
    scrape_subscription& operator=(const scrape_subscription&) = delete;

    /// The next slice: the first call waits for the render to begin. Calling it again tells
    /// the render this subscriber has written the previous slice.
    net::awaitable<scrape_slice> next();

private:
    void done_with_current() noexcept;
    std::shared_ptr<detail::scrape_job> job_;
    std::uint64_t seen_ = 0; ///< slices taken; the render waits until each subscriber took it
    bool holding_ = false;   ///< took a slice it has not finished with
};

/// The renders of one HTTP endpoint. Holds the scrape source and the pacing shared by all
/// renders. io_context thread only.
class scrape_broadcast {
public:
    scrape_broadcast(scrape_fn scrape, scrape_render_options options = {});
    ~scrape_broadcast();
    scrape_broadcast(scrape_broadcast&&) noexcept = default;
    scrape_broadcast& operator=(scrape_broadcast&&) noexcept = default;

    /// Joins the next render of (`format`, `gzip` accepted) on `executor`: the one gathering
    /// subscribers now (started in this loop turn), or a new one that begins when the render of
    /// the same kind in progress ends. A scrape never joins a render midway.
    std::unique_ptr<scrape_subscription> subscribe(const net::any_io_executor& executor,
                                                   exposition_format format, bool gzip);

    scrape_render_stats stats() const noexcept;
    const scrape_render_options& options() const noexcept;

private:
    std::shared_ptr<detail::scrape_broadcast_state> state_;
};

} // namespace metricsd::daemon

// Maps one parsed HTTP request to its response: routing, content negotiation, gzip, counters.
// No socket IO: the session (http_session.hpp) reads and writes; this decides what to say,
// awaiting the scrape (which may read a backend, e.g. a Redis snapshot) for /metrics.
#pragma once

#include "daemon/exposition/exposition.hpp"
#include "daemon/net/net.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace metricsd::daemon {

/// Request and response types of the HTTP endpoint. Scrapes carry no body.
using http_request = http::request<http::empty_body>;
using http_response = http::response<http::string_body>;

/// Beast 1.74's string_view is boost::string_view: it neither converts to std::string_view
/// nor formats with fmt/spdlog. Bridge explicitly.
inline std::string_view to_std_view(beast::string_view s) noexcept {
    return {s.data(), s.size()};
}

/// The routes we count requests by. `other` is every unknown path and unparsable request.
enum class http_route : std::uint8_t { metrics, healthz, readyz, index, other };
inline constexpr std::size_t http_route_count = 5;

/// The path of a route ("/metrics"), or "other": a label value for self-metrics.
std::string_view route_name(http_route r) noexcept;

/// The status codes the handler and session can produce, in the order of
/// http_handler_stats::requests' inner index. Any other code is counted under the last slot.
inline constexpr std::array<unsigned, 9> http_counted_codes{200, 400, 404, 405, 413,
                                                            431, 500, 503, 0};

/// Counters of one handler. Plain integers: io_context thread only.
struct http_handler_stats {
    /// requests[route][i] counts responses with status http_counted_codes[i].
    std::array<std::array<std::uint64_t, http_counted_codes.size()>, http_route_count> requests{};
    std::uint64_t scrapes = 0;        ///< /metrics GET or HEAD whose scrape was available
    std::uint64_t scrape_errors = 0;  ///< of which the callback threw (answered 500)
    std::uint64_t gzip_responses = 0; ///< bodies sent gzip-encoded
    /// Render (and compression) time of the last scrape; waiting for data is not included.
    double scrape_seconds_last = 0;
    double scrape_seconds_total = 0;

    /// The count for one route and status code (codes not in http_counted_codes share a slot).
    std::uint64_t count(http_route r, unsigned code) const noexcept;
};

/// Options of the handler. The defaults suit Prometheus.
struct http_handler_options {
    /// Bodies shorter than this go out uncompressed even when gzip is accepted: below about
    /// one TCP segment gzip saves no round trip and costs CPU and ~20 bytes of framing.
    std::size_t gzip_min_size = 1024;
    bool gzip = true; ///< false disables compression altogether
};

/// What one scrape produced: the exposition, or why metrics cannot be served now.
struct scrape_outcome {
    std::string body;        ///< the exposition, when `unavailable` is empty
    std::string unavailable; ///< non-empty: answered 503 with this reason, not counted a scrape
    /// Time the scrape waited for its data (a Redis snapshot) before rendering: not counted in
    /// the scrape duration, which measures rendering and compression only.
    std::chrono::steady_clock::duration waited{};
};

/// Renders the exposition of every metric in `format` into `out`, at once. May throw.
using render_fn = std::function<void(exposition_format format, std::string& out)>;

/// Result of handling a request: the response and, when something went wrong on our side,
/// a message for the caller to log (this class never logs).
struct http_result {
    http_response response;
    http_route route = http_route::other;
    std::string error; ///< non-empty when the scrape callback threw: log it, don't send it
};

/// Routes requests and builds responses. io_context thread only; not thread-safe. The
/// callbacks must outlive the handler's use.
class http_handler {
public:
    /// One scrape in `format`, awaited by handle() for a /metrics GET or HEAD: the rendered
    /// exposition, or why it is unavailable (503). May throw: the request then gets 500 and
    /// the message comes back in http_result::error.
    using scrape_fn = std::function<net::awaitable<scrape_outcome>(exposition_format format)>;
    /// True when the daemon is ready to be scraped (for /readyz). Empty: always ready.
    using ready_fn = std::function<bool()>;

    explicit http_handler(scrape_fn scrape, ready_fn ready = {}, http_handler_options options = {});

    /// Answers one request; `req` must stay alive until it completes. The response has its
    /// Content-Length set (for HEAD: the length the GET body would have), Keep-Alive following
    /// the request and the request's HTTP version. Never throws except std::bad_alloc.
    net::awaitable<http_result> handle(const http_request& req);

    /// A response for a request that could not be parsed (400, 413, 431...): counted under
    /// http_route::other, with `Connection: close` because the stream cannot be resynchronised.
    http_response error_response(http::status status);

    const http_handler_stats& stats() const noexcept { return stats_; }

private:
    /// Every route but a /metrics GET or HEAD: answered at once.
    http_result answer(const http_request& req, http_route route);
    net::awaitable<http_result> handle_metrics(const http_request& req);
    /// HEAD drops the body; every response is counted.
    void finish(const http_request& req, http_result& r) noexcept;
    /// Replaces `body` by its gzip encoding when the client accepts it and it is worth it.
    bool compress(const http_request& req, std::string& body);
    void count(http_route route, const http_response& res) noexcept;

    scrape_fn scrape_;
    ready_fn ready_;
    http_handler_options options_;
    http_handler_stats stats_;
};

/// A scrape that renders at once with `render` (the memory backend, tests): it never waits
/// and is never unavailable.
http_handler::scrape_fn immediate_scrape(render_fn render);

} // namespace metricsd::daemon

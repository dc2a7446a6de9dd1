// Maps one parsed HTTP request to its response: routing, content negotiation, gzip, counters.
// No socket IO: the session (http_session.hpp) reads and writes; this decides what to say,
// awaiting the scrape (which may read a backend, e.g. a Redis snapshot) for /metrics.
#pragma once

#include "daemon/exposition/exposition.hpp"
#include "daemon/http/scrape_broadcast.hpp"
#include "daemon/net/net.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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
inline constexpr std::array<unsigned, 10> http_counted_codes{200, 400, 401, 404, 405, 413,
                                                             431, 500, 503, 0};

/// Counters of one handler. Plain integers: io_context thread only.
struct http_handler_stats {
    /// requests[route][i] counts responses with status http_counted_codes[i].
    std::array<std::array<std::uint64_t, http_counted_codes.size()>, http_route_count> requests{};
    std::uint64_t scrapes = 0;        ///< /metrics GET or HEAD whose scrape was available
    std::uint64_t scrape_errors = 0;  ///< of which the callback threw (answered 500)
    std::uint64_t gzip_responses = 0; ///< bodies sent gzip-encoded
    std::uint64_t scrapes_cut = 0;    ///< streamed bodies cut: reader gone, stalled, render failed
    /// Render (and compression) time of the last render; waiting for data, pauses between
    /// slices and writing are not included. A render shared by several scrapes counts once.
    double scrape_seconds_last = 0;
    double scrape_seconds_total = 0;
    scrape_render_stats render; ///< the shared renders behind the scrapes

    /// The count for one route and status code (codes not in http_counted_codes share a slot).
    std::uint64_t count(http_route r, unsigned code) const noexcept;
};

/// Options of the handler. The defaults suit Prometheus.
struct http_handler_options {
    bool gzip = true; ///< false disables compression altogether
    scrape_render_options render; ///< slices, pacing, gzip threshold
};

/// Result of handling a request: the response and, when something went wrong on our side,
/// a message for the caller to log (this class never logs).
struct http_result {
    http_response response;
    http_route route = http_route::other;
    std::string error; ///< non-empty when the scrape callback threw: log it, don't send it
};

/// Routes requests and builds responses. io_context thread only; not thread-safe. The
/// callbacks must outlive the handler's use.
class web_guard;

class http_handler {
public:
    /// One render in `format` (scrape_broadcast.hpp): the exposition as a stream of slices, or
    /// why it is unavailable (503). May throw: the request then gets 500 and the message comes
    /// back in http_result::error.
    using scrape_fn = daemon::scrape_fn;
    /// True when the daemon is ready to be scraped (for /readyz). Empty: always ready.
    using ready_fn = std::function<bool()>;

    explicit http_handler(scrape_fn scrape, ready_fn ready = {}, http_handler_options options = {});

    /// Answers one request with a whole response; `req` must stay alive until it completes.
    /// The response has its Content-Length set (for HEAD: the length the GET body would have),
    /// Keep-Alive following the request and the request's HTTP version. A /metrics body is
    /// collected whole here; the session streams it instead (streams()). Never throws except
    /// std::bad_alloc.
    net::awaitable<http_result> handle(const http_request& req);

    /// True for a /metrics GET or HEAD: the session streams its response (begin_scrape(),
    /// scrape_header()) rather than calling handle().
    bool streams(const http_request& req) const noexcept;
    /// The exposition format and whether the body may be gzip-encoded, for a /metrics request.
    exposition_format scrape_format(const http_request& req) const noexcept;
    bool scrape_gzip(const http_request& req) const noexcept;
    /// Joins the next render for this /metrics GET (see scrape_broadcast::subscribe).
    std::unique_ptr<scrape_subscription> begin_scrape(const net::any_io_executor& executor,
                                                      const http_request& req);
    /// The header of a streamed 200 answer: content type, Vary, Content-Encoding when `gzip`,
    /// chunked for HTTP/1.1 (HTTP/1.0 gets the body up to the connection's close).
    http::response<http::empty_body> scrape_header(const http_request& req, bool gzip) const;
    /// A streamed 200 answer ended: counts the response, and unless `head` the scrape (after
    /// its body, so a body's own self-metrics never count it: "before this one"). `cut`: the
    /// body was cut before its end (reader gone or stalled, render failed).
    void scrape_done(bool head, bool gzip, bool cut) noexcept;
    /// The whole answer to a scrape whose first slice was not data: 503 when unavailable, 500
    /// when the source failed (the message in http_result::error). Counted.
    http_result scrape_refusal(const http_request& req, const scrape_slice& first);

    /// The web config in force (TLS, basic auth, headers); null: none. Must outlive the handler.
    void set_guard(web_guard* guard) noexcept { guard_ = guard; }
    /// 401 with `WWW-Authenticate: Basic` when the web config's basic auth refuses `req`
    /// (counted); nullopt when it may be served.
    std::optional<http_result> refuse_unauthorized(const http_request& req);
    /// Adds the web config's extra headers to a response about to be written.
    void decorate(http::fields& fields) const;

    /// A response for a request that could not be parsed (400, 413, 431...): counted under
    /// http_route::other, with `Connection: close` because the stream cannot be resynchronised.
    http_response error_response(http::status status);

    /// The counters, with the renders' figures.
    http_handler_stats stats() const noexcept;

private:
    /// Every route but a /metrics GET or HEAD: answered at once.
    http_result answer(const http_request& req, http_route route);
    net::awaitable<http_result> handle_metrics(const http_request& req);
    /// HEAD drops the body; every response is counted.
    void finish(const http_request& req, http_result& r) noexcept;
    void count(http_route route, unsigned code) noexcept;

    ready_fn ready_;
    http_handler_options options_;
    http_handler_stats stats_;
    web_guard* guard_ = nullptr;
    scrape_broadcast broadcast_;
};

/// Renders the exposition of every metric in `format` into `out`, at once. May throw.
using render_fn = std::function<void(exposition_format format, std::string& out)>;

/// A scrape that renders at once with `render` (tests, small sources): it never waits and is
/// never unavailable; the body is then handed out in slices.
http_handler::scrape_fn immediate_scrape(render_fn render);

} // namespace metricsd::daemon

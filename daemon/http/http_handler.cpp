#include "daemon/http/http_handler.hpp"

#include "daemon/http/gzip.hpp"
#include "daemon/http/http_negotiation.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <utility>

namespace metricsd::daemon {
namespace {

beast::string_view beast_view(std::string_view s) noexcept {
    return {s.data(), s.size()};
}

constexpr std::string_view plain_text = "text/plain; charset=utf-8";

constexpr std::string_view index_body =
    "metricsd\n"
    "\n"
    "/metrics  Prometheus exposition (text 0.0.4 or OpenMetrics)\n"
    "/healthz  liveness\n"
    "/readyz   readiness\n";

/// The path without the query: Prometheus may be configured with `params`, and `?x` on a
/// known path is still that path.
std::string_view path_of(std::string_view target) noexcept {
    return target.substr(0, target.find('?'));
}

http_route route_of(std::string_view path) noexcept {
    if (path == "/metrics") {
        return http_route::metrics;
    }
    if (path == "/healthz") {
        return http_route::healthz;
    }
    if (path == "/readyz") {
        return http_route::readyz;
    }
    return path == "/" ? http_route::index : http_route::other;
}

http_response make_response(unsigned version, bool keep_alive, http::status status,
                            std::string_view type, std::string body) {
    http_response res{status, version};
    res.set(http::field::server, "metricsd");
    res.set(http::field::content_type, beast_view(type));
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

http_response make_response(const http_request& req, http::status status, std::string_view type,
                            std::string body) {
    return make_response(req.version(), req.keep_alive(), status, type, std::move(body));
}

/// By value: a coroutine. The shared function outlives every scrape started from it.
net::awaitable<scrape_outcome> render_at_once(std::shared_ptr<const render_fn> render,
                                              exposition_format format) {
    scrape_outcome out;
    (*render)(format, out.body);
    co_return out;
}

bool call_ready(const http_handler::ready_fn& ready) noexcept {
    try {
        return !ready || ready();
    } catch (...) {
        return false; // a readiness probe that cannot answer is not ready
    }
}

} // namespace

std::string_view route_name(http_route r) noexcept {
    switch (r) {
    case http_route::metrics:
        return "/metrics";
    case http_route::healthz:
        return "/healthz";
    case http_route::readyz:
        return "/readyz";
    case http_route::index:
        return "/";
    case http_route::other:
        break;
    }
    return "other";
}

std::uint64_t http_handler_stats::count(http_route r, unsigned code) const noexcept {
    const auto& by_code = requests[static_cast<std::size_t>(r)];
    const auto last = http_counted_codes.end() - 1; // the "any other code" slot
    const auto it = std::find(http_counted_codes.begin(), last, code);
    return by_code[static_cast<std::size_t>(it - http_counted_codes.begin())];
}

http_handler::scrape_fn immediate_scrape(render_fn render) {
    auto shared = std::make_shared<const render_fn>(std::move(render));
    return [shared](exposition_format format) { return render_at_once(shared, format); };
}

http_handler::http_handler(scrape_fn scrape, ready_fn ready, http_handler_options options)
    : scrape_(std::move(scrape)), ready_(std::move(ready)), options_(options) {}

net::awaitable<http_result> http_handler::handle(const http_request& req) {
    const http_route route = route_of(path_of(to_std_view(req.target())));
    const bool get_or_head = req.method() == http::verb::get || req.method() == http::verb::head;
    http_result r;
    if (route == http_route::metrics && get_or_head)
        r = co_await handle_metrics(req);
    else
        r = answer(req, route);
    finish(req, r);
    co_return r;
}

void http_handler::finish(const http_request& req, http_result& r) noexcept {
    if (req.method() == http::verb::head) {
        // prepare_payload() already set the GET body's Content-Length; HEAD sends no body.
        r.response.body().clear();
    }
    count(r.route, r.response);
}

http_result http_handler::answer(const http_request& req, http_route route) {
    http_result r;
    r.route = route;
    const bool get_or_head = req.method() == http::verb::get || req.method() == http::verb::head;
    if (r.route == http_route::other) {
        r.response = make_response(req, http::status::not_found, plain_text, "not found\n");
    } else if (!get_or_head) {
        r.response = make_response(req, http::status::method_not_allowed, plain_text,
                                   "method not allowed\n");
        r.response.set(http::field::allow, "GET, HEAD");
    } else if (r.route == http_route::healthz) {
        r.response = make_response(req, http::status::ok, plain_text, "ok\n");
    } else if (r.route == http_route::readyz) {
        r.response =
            call_ready(ready_)
                ? make_response(req, http::status::ok, plain_text, "ready\n")
                : make_response(req, http::status::service_unavailable, plain_text, "not ready\n");
    } else {
        r.response = make_response(req, http::status::ok, plain_text, std::string(index_body));
    }
    return r;
}

net::awaitable<http_result> http_handler::handle_metrics(const http_request& req) {
    const auto start = std::chrono::steady_clock::now();
    http_result r;
    r.route = http_route::metrics;
    const exposition_format format = negotiate_format(to_std_view(req[http::field::accept]));
    scrape_outcome scraped;
    try {
        if (scrape_) {
            scraped = co_await scrape_(format);
        }
    } catch (const std::exception& e) {
        r.error = std::string("scrape failed: ") + e.what();
    } catch (...) {
        r.error = "scrape failed: unknown exception";
    }
    if (r.error.empty() && !scraped.unavailable.empty()) {
        r.response = make_response(req, http::status::service_unavailable, plain_text,
                                   "metrics unavailable: " + scraped.unavailable + "\n");
        co_return r;
    }
    ++stats_.scrapes;
    if (!r.error.empty()) {
        ++stats_.scrape_errors;
        r.response =
            make_response(req, http::status::internal_server_error, plain_text, "scrape failed\n");
        co_return r;
    }
    const bool gzipped = compress(req, scraped.body);
    r.response =
        make_response(req, http::status::ok, content_type(format), std::move(scraped.body));
    // The body depends on both headers, whether or not this one was compressed.
    r.response.set(http::field::vary, "Accept, Accept-Encoding");
    if (gzipped) {
        r.response.set(http::field::content_encoding, "gzip");
    }
    const std::chrono::duration<double> took =
        std::chrono::steady_clock::now() - start - scraped.waited;
    stats_.scrape_seconds_last = took.count();
    stats_.scrape_seconds_total += took.count();
    co_return r;
}

bool http_handler::compress(const http_request& req, std::string& body) {
    if (!options_.gzip || body.size() < options_.gzip_min_size ||
        !accepts_gzip(to_std_view(req[http::field::accept_encoding]))) {
        return false;
    }
    std::string compressed;
    if (!gzip_compress(body, compressed)) {
        return false; // zlib failed or memory ran out: the plain body is still a good answer
    }
    body.swap(compressed);
    ++stats_.gzip_responses;
    return true;
}

http_response http_handler::error_response(http::status status) {
    http_response res = make_response(11, false, status, plain_text,
                                      std::string(http::obsolete_reason(status)) + "\n");
    count(http_route::other, res);
    return res;
}

void http_handler::count(http_route route, const http_response& res) noexcept {
    const auto last = http_counted_codes.end() - 1;
    const auto it = std::find(http_counted_codes.begin(), last, res.result_int());
    auto& by_code = stats_.requests[static_cast<std::size_t>(route)];
    ++by_code[static_cast<std::size_t>(it - http_counted_codes.begin())];
}

} // namespace metricsd::daemon

#include "daemon/http/http_handler.hpp"

#include "daemon/http/http_negotiation.hpp"
#include "daemon/http/web_guard.hpp"

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
    std::string body;
    (*render)(format, body);
    scrape_outcome out;
    out.body = std::make_unique<string_exposition>(std::move(body));
    co_return out;
}

bool is_get_or_head(const http_request& req) noexcept {
    return req.method() == http::verb::get || req.method() == http::verb::head;
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
    : ready_(std::move(ready)), options_(options),
      broadcast_(std::move(scrape), options.render) {}

bool http_handler::streams(const http_request& req) const noexcept {
    return is_get_or_head(req) &&
           route_of(path_of(to_std_view(req.target()))) == http_route::metrics;
}

exposition_format http_handler::scrape_format(const http_request& req) const noexcept {
    return negotiate_format(to_std_view(req[http::field::accept]));
}

bool http_handler::scrape_gzip(const http_request& req) const noexcept {
    return options_.gzip && accepts_gzip(to_std_view(req[http::field::accept_encoding]));
}

std::unique_ptr<scrape_subscription>
http_handler::begin_scrape(const net::any_io_executor& executor, const http_request& req) {
    return broadcast_.subscribe(executor, scrape_format(req), scrape_gzip(req));
}

http::response<http::empty_body> http_handler::scrape_header(const http_request& req,
                                                             bool gzip) const {
    http::response<http::empty_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "metricsd");
    res.set(http::field::content_type, beast_view(content_type(scrape_format(req))));
    // The body depends on both headers, whether or not this one was compressed.
    res.set(http::field::vary, "Accept, Accept-Encoding");
    if (gzip)
        res.set(http::field::content_encoding, "gzip");
    if (req.version() >= 11) {
        res.keep_alive(req.keep_alive());
        res.chunked(true); // the length is known only at the end
    } else {
        res.keep_alive(false); // HTTP/1.0 has no chunks: the close ends the body
    }
    return res;
}

void http_handler::scrape_done(bool head, bool gzip, bool cut) noexcept {
    count(http_route::metrics, 200);
    if (head)
        return;
    ++stats_.scrapes;
    if (gzip)
        ++stats_.gzip_responses;
    if (cut)
        ++stats_.scrapes_cut;
}

http_result http_handler::scrape_refusal(const http_request& req, const scrape_slice& first) {
    http_result r;
    r.route = http_route::metrics;
    if (first.what == scrape_slice::kind::unavailable) {
        r.response = make_response(req, http::status::service_unavailable, plain_text,
                                   "metrics unavailable: " + std::string(first.data) + "\n");
    } else {
        ++stats_.scrapes;
        ++stats_.scrape_errors;
        r.error = first.what == scrape_slice::kind::failed
                      ? "scrape failed: " + std::string(first.data)
                      : std::string("scrape failed: render ended early");
        r.response =
            make_response(req, http::status::internal_server_error, plain_text, "scrape failed\n");
    }
    count(r.route, r.response.result_int());
    return r;
}

http_handler_stats http_handler::stats() const noexcept {
    http_handler_stats s = stats_;
    s.render = broadcast_.stats();
    s.scrape_seconds_last = s.render.seconds_last;
    s.scrape_seconds_total = s.render.seconds_total;
    return s;
}

net::awaitable<http_result> http_handler::handle(const http_request& req) {
    const http_route route = route_of(path_of(to_std_view(req.target())));
    http_result r;
    if (route == http_route::metrics && is_get_or_head(req)) {
        r = co_await handle_metrics(req);
        if (req.method() == http::verb::head)
            r.response.body().clear(); // prepare_payload() set the GET body's Content-Length
        co_return r;
    }
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
    count(r.route, r.response.result_int());
}

http_result http_handler::answer(const http_request& req, http_route route) {
    http_result r;
    r.route = route;
    const bool get_or_head = is_get_or_head(req);
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
    auto executor = co_await net::this_coro::executor;
    const auto sub = begin_scrape(executor, req);
    scrape_slice slice = co_await sub->next();
    if (slice.what != scrape_slice::kind::data)
        co_return scrape_refusal(req, slice);
    std::string body(slice.data);
    while (!slice.last) {
        slice = co_await sub->next();
        if (slice.what != scrape_slice::kind::data) {
            ++stats_.scrapes_cut;
            co_return scrape_refusal(req, slice);
        }
        body += slice.data;
    }
    const auto header = scrape_header(req, slice.gzip);
    scrape_done(false, slice.gzip, false);
    http_result r;
    r.route = http_route::metrics;
    r.response = make_response(req, http::status::ok, content_type(scrape_format(req)),
                               std::move(body));
    r.response.set(http::field::vary, header[http::field::vary]);
    if (slice.gzip)
        r.response.set(http::field::content_encoding, "gzip");
    co_return r;
}

std::optional<http_result> http_handler::refuse_unauthorized(const http_request& req) {
    if (!guard_)
        return std::nullopt;
    const auto path = path_of(to_std_view(req.target()));
    const auto auth = req[http::field::authorization];
    if (guard_->authorize(path, to_std_view(auth)) == basic_auth::verdict::allowed)
        return std::nullopt;
    http_result r;
    r.route = route_of(path);
    r.response = make_response(req, http::status::unauthorized, plain_text, "Unauthorized\n");
    r.response.set(http::field::www_authenticate, "Basic");
    finish(req, r);
    return r;
}

void http_handler::decorate(http::fields& fields) const {
    if (guard_)
        guard_->decorate(fields);
}

http_response http_handler::error_response(http::status status) {
    http_response res = make_response(11, false, status, plain_text,
                                      std::string(http::obsolete_reason(status)) + "\n");
    count(http_route::other, res.result_int());
    return res;
}

void http_handler::count(http_route route, unsigned code) noexcept {
    const auto last = http_counted_codes.end() - 1;
    const auto it = std::find(http_counted_codes.begin(), last, code);
    auto& by_code = stats_.requests[static_cast<std::size_t>(route)];
    ++by_code[static_cast<std::size_t>(it - http_counted_codes.begin())];
}

} // namespace metricsd::daemon

#include "daemon/http/http_handler.hpp"

#include "scrape_sources.hpp"

#include <gtest/gtest.h>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <zlib.h>

namespace metricsd::test {
namespace {

using namespace daemon;

/// A header's value as std::string (Beast 1.74 returns boost::string_view).
template <class Message>
std::string hdr(const Message& m, http::field f) {
    return std::string(to_std_view(m[f]));
}

std::string gunzip(const std::string& in) {
    z_stream zs{};
    EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    std::string out;
    char chunk[4096];
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(chunk);
        zs.avail_out = sizeof chunk;
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(chunk, sizeof chunk - zs.avail_out);
    }
    EXPECT_EQ(rc, Z_STREAM_END);
    inflateEnd(&zs);
    return out;
}

/// A body well above the gzip threshold, different per format so tests can tell them apart.
std::string fake_exposition(exposition_format f) {
    std::string out = f == exposition_format::openmetrics ? "# openmetrics\n" : "# text\n";
    for (int i = 0; i < 200; ++i) {
        out += "metric_total{i=\"" + std::to_string(i) + "\"} 1\n";
    }
    return out;
}

/// Runs one handle() to completion on its own io_context.
http_result handled(http_handler& handler, const http_request& req) {
    net::io_context ioc;
    std::optional<http_result> out;
    net::co_spawn(ioc, handler.handle(req), [&](std::exception_ptr e, http_result r) {
        if (e)
            std::rethrow_exception(e);
        out = std::move(r);
    });
    ioc.run();
    EXPECT_TRUE(out.has_value());
    return out ? std::move(*out) : http_result{};
}

class http_handler_test : public ::testing::Test {
protected:
    http_handler handler{immediate_scrape([this](exposition_format f, std::string& out) {
                             ++scrapes;
                             if (fail) {
                                 throw std::runtime_error("store exploded");
                             }
                             out += fake_exposition(f);
                         }),
                         [this] { return ready; }};
    int scrapes = 0;
    bool fail = false;
    bool ready = true;

    http_result get(const char* target, http::verb verb = http::verb::get) {
        http_request req{verb, target, 11};
        return handled(handler, req);
    }
};

TEST_F(http_handler_test, metrics_text_by_default) {
    const http_result r = get("/metrics");
    EXPECT_EQ(r.response.result(), http::status::ok);
    EXPECT_EQ(r.route, http_route::metrics);
    EXPECT_EQ(hdr(r.response, http::field::content_type),
              std::string(content_type(exposition_format::text)));
    EXPECT_EQ(r.response.body(), fake_exposition(exposition_format::text));
    EXPECT_EQ(hdr(r.response, http::field::content_length),
              std::to_string(r.response.body().size()));
    EXPECT_EQ(hdr(r.response, http::field::server), "metricsd");
    EXPECT_EQ(r.response.count(http::field::content_encoding), 0u);
    EXPECT_TRUE(r.error.empty());
    EXPECT_EQ(scrapes, 1);
}

TEST_F(http_handler_test, metrics_openmetrics_for_prometheus) {
    http_request req{http::verb::get, "/metrics", 11};
    req.set(http::field::accept, "application/openmetrics-text;version=1.0.0,"
                                 "text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
    const http_result r = handled(handler, req);
    EXPECT_EQ(hdr(r.response, http::field::content_type),
              "application/openmetrics-text; version=1.0.0; charset=utf-8");
    EXPECT_EQ(r.response.body(), fake_exposition(exposition_format::openmetrics));
}

TEST_F(http_handler_test, metrics_gzip_when_accepted) {
    http_request req{http::verb::get, "/metrics", 11};
    req.set(http::field::accept_encoding, "gzip");
    const http_result r = handled(handler, req);
    EXPECT_EQ(hdr(r.response, http::field::content_encoding), "gzip");
    EXPECT_NE(hdr(r.response, http::field::vary).find("Accept-Encoding"), std::string::npos);
    EXPECT_EQ(hdr(r.response, http::field::content_length),
              std::to_string(r.response.body().size()));
    EXPECT_EQ(gunzip(r.response.body()), fake_exposition(exposition_format::text));
    EXPECT_EQ(handler.stats().gzip_responses, 1u);
}

TEST_F(http_handler_test, metrics_gzip_refused_or_small_body_stays_plain) {
    http_request req{http::verb::get, "/metrics", 11};
    req.set(http::field::accept_encoding, "gzip;q=0, identity");
    EXPECT_EQ(handled(handler, req).response.count(http::field::content_encoding), 0u);

    http_handler small{
        immediate_scrape([](exposition_format, std::string& out) { out += "up 1\n"; })};
    req.set(http::field::accept_encoding, "gzip");
    const http_result r = handled(small, req);
    EXPECT_EQ(r.response.count(http::field::content_encoding), 0u);
    EXPECT_EQ(r.response.body(), "up 1\n");
}

TEST_F(http_handler_test, head_has_no_body_but_get_length) {
    const std::size_t get_length = get("/metrics").response.body().size();
    const http_result r = get("/metrics", http::verb::head);
    EXPECT_EQ(r.response.result(), http::status::ok);
    EXPECT_TRUE(r.response.body().empty());
    EXPECT_EQ(hdr(r.response, http::field::content_length), std::to_string(get_length));
    EXPECT_EQ(hdr(r.response, http::field::content_type),
              std::string(content_type(exposition_format::text)));

    const http_result h = get("/healthz", http::verb::head);
    EXPECT_TRUE(h.response.body().empty());
    EXPECT_EQ(hdr(h.response, http::field::content_length), "3");
}

TEST_F(http_handler_test, head_gzip_reports_compressed_length) {
    http_request req{http::verb::get, "/metrics", 11};
    req.set(http::field::accept_encoding, "gzip");
    const std::size_t gz_length = handled(handler, req).response.body().size();
    req.method(http::verb::head);
    const http_result r = handled(handler, req);
    EXPECT_TRUE(r.response.body().empty());
    EXPECT_EQ(hdr(r.response, http::field::content_encoding), "gzip");
    EXPECT_EQ(hdr(r.response, http::field::content_length), std::to_string(gz_length));
}

TEST_F(http_handler_test, healthz_readyz_index) {
    EXPECT_EQ(get("/healthz").response.body(), "ok\n");
    EXPECT_EQ(get("/readyz").response.result(), http::status::ok);
    EXPECT_EQ(get("/readyz").response.body(), "ready\n");
    ready = false;
    EXPECT_EQ(get("/readyz").response.result(), http::status::service_unavailable);
    EXPECT_EQ(get("/readyz").response.body(), "not ready\n");
    const http_result index = get("/");
    EXPECT_EQ(index.response.result(), http::status::ok);
    EXPECT_NE(index.response.body().find("/metrics"), std::string::npos);
    EXPECT_EQ(scrapes, 0);
}

TEST_F(http_handler_test, readyz_without_callback_or_throwing) {
    http_handler no_ready{immediate_scrape([](exposition_format, std::string&) {})};
    EXPECT_EQ(handled(no_ready, http_request{http::verb::get, "/readyz", 11}).response.result(),
              http::status::ok);
    http_handler throws{immediate_scrape([](exposition_format, std::string&) {}),
                        []() -> bool { throw std::runtime_error("no"); }};
    EXPECT_EQ(handled(throws, http_request{http::verb::get, "/readyz", 11}).response.result(),
              http::status::service_unavailable);
}

TEST_F(http_handler_test, unknown_path_is_404) {
    for (const char* target : {"/metricsx", "/metrics/", "/favicon.ico", "*", "metrics"}) {
        const http_result r = get(target);
        EXPECT_EQ(r.response.result(), http::status::not_found) << target;
        EXPECT_EQ(r.route, http_route::other);
    }
    EXPECT_EQ(get("/nope", http::verb::post).response.result(), http::status::not_found);
}

TEST_F(http_handler_test, other_methods_are_405_with_allow) {
    for (const http::verb v : {http::verb::post, http::verb::put, http::verb::delete_,
                               http::verb::options, http::verb::patch}) {
        for (const char* target : {"/metrics", "/healthz", "/readyz", "/"}) {
            const http_result r = get(target, v);
            EXPECT_EQ(r.response.result(), http::status::method_not_allowed) << target;
            EXPECT_EQ(hdr(r.response, http::field::allow), "GET, HEAD");
        }
    }
    EXPECT_EQ(scrapes, 0);
}

TEST_F(http_handler_test, query_string_is_ignored) {
    EXPECT_EQ(get("/metrics?x").response.result(), http::status::ok);
    EXPECT_EQ(get("/metrics?name[]=a&b=").response.result(), http::status::ok);
    EXPECT_EQ(get("/healthz?").response.body(), "ok\n");
    EXPECT_EQ(scrapes, 2);
}

TEST_F(http_handler_test, scrape_exception_is_500_and_reported) {
    fail = true;
    const http_result r = get("/metrics");
    EXPECT_EQ(r.response.result(), http::status::internal_server_error);
    EXPECT_EQ(r.response.body(), "scrape failed\n");
    EXPECT_NE(r.error.find("store exploded"), std::string::npos);
    EXPECT_EQ(handler.stats().scrape_errors, 1u);
}

TEST(http_handler_scrape, unavailable_is_503_with_the_reason_and_not_counted_a_scrape) {
    http_handler h{unreachable};
    const http_result get = handled(h, http_request{http::verb::get, "/metrics", 11});
    EXPECT_EQ(get.response.result(), http::status::service_unavailable);
    EXPECT_EQ(get.response.body(), "metrics unavailable: Redis is unreachable\n");
    EXPECT_EQ(get.route, http_route::metrics);
    EXPECT_TRUE(get.error.empty());
    const http_result head = handled(h, http_request{http::verb::head, "/metrics", 11});
    EXPECT_EQ(head.response.result(), http::status::service_unavailable);
    EXPECT_TRUE(head.response.body().empty());
    EXPECT_EQ(h.stats().scrapes, 0u);
    EXPECT_EQ(h.stats().count(http_route::metrics, 503), 2u);
}

TEST_F(http_handler_test, keep_alive_and_version_follow_the_request) {
    http_request req{http::verb::get, "/healthz", 11};
    EXPECT_TRUE(handled(handler, req).response.keep_alive());
    req.keep_alive(false);
    EXPECT_FALSE(handled(handler, req).response.keep_alive());
    http_request old{http::verb::get, "/healthz", 10};
    const http_result r = handled(handler, old);
    EXPECT_EQ(r.response.version(), 10u);
    EXPECT_FALSE(r.response.keep_alive());
    old.keep_alive(true);
    EXPECT_TRUE(handled(handler, old).response.keep_alive());
}

TEST_F(http_handler_test, counts_by_route_and_code) {
    get("/metrics");
    get("/metrics");
    get("/nope");
    get("/metrics", http::verb::post);
    ready = false;
    get("/readyz");
    const http_response bad = handler.error_response(http::status::bad_request);
    EXPECT_FALSE(bad.keep_alive());
    EXPECT_EQ(bad.result(), http::status::bad_request);

    const http_handler_stats& s = handler.stats();
    EXPECT_EQ(s.count(http_route::metrics, 200), 2u);
    EXPECT_EQ(s.count(http_route::metrics, 405), 1u);
    EXPECT_EQ(s.count(http_route::other, 404), 1u);
    EXPECT_EQ(s.count(http_route::other, 400), 1u);
    EXPECT_EQ(s.count(http_route::readyz, 503), 1u);
    EXPECT_EQ(s.scrapes, 2u);
    EXPECT_GT(s.scrape_seconds_total, 0.0);
    EXPECT_EQ(route_name(http_route::metrics), "/metrics");
}

} // namespace
} // namespace metricsd::test

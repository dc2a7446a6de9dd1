#include "daemon/http/http_session.hpp"
#include "daemon/net/net.hpp"

#include <boost/beast/_experimental/test/stream.hpp>
#include "scrape_sources.hpp"

#include <gtest/gtest.h>

#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace metricsd::test {
namespace {

using namespace daemon;
namespace btest = boost::beast::test;
using response = http::response<http::string_body>;

/// A header's value as std::string (Beast 1.74 returns boost::string_view).
template <class Message>
std::string hdr(const Message& m, http::field f) {
    return std::string(to_std_view(m[f]));
}

constexpr const char* get_metrics = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
constexpr const char* get_healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

class http_session_test : public ::testing::Test {
protected:
    net::io_context ioc;
    http_handler handler{
        immediate_scrape([](exposition_format, std::string& out) { out += "up 1\n"; })};
    http_handler* active = &handler; ///< the handler start() serves with
    http_limits limits;
    session_registry<btest::stream> registry;
    btest::stream client{ioc};
    bool finished = false;

    /// Starts a session on a stream connected to `client`, with `input` already sent. Each
    /// read returns at most `read_size` bytes (0: no limit).
    void start(std::string_view input, std::size_t read_size = 0, btest::stream* custom = nullptr) {
        btest::stream server = custom != nullptr ? std::move(*custom) : btest::stream(ioc);
        server.connect(client);
        if (read_size != 0) {
            server.read_size(read_size);
        }
        server.append(beast::string_view(input.data(), input.size()));
        net::co_spawn(ioc, http_session(std::move(server), *active, limits, &registry),
                      [this](std::exception_ptr e) {
                          finished = true;
                          if (e) {
                              std::rethrow_exception(e); // escapes ioc.run(): fails the test
                          }
                      });
    }

    /// Runs until the session ends by itself; returns what it wrote to the client.
    std::string run() {
        ioc.run();
        EXPECT_TRUE(finished);
        EXPECT_EQ(registry.size(), 0u);
        return std::string(client.str());
    }

    /// Parses the responses in `wire`; `head[i]` says response i answers a HEAD.
    std::vector<response> parse(const std::string& wire, std::vector<bool> head = {}) {
        btest::stream reader{ioc, wire};
        reader.close_remote(); // EOF after the data instead of blocking
        beast::flat_buffer buffer;
        std::vector<response> out;
        for (;;) {
            http::response_parser<http::string_body> p;
            p.skip(out.size() < head.size() && head[out.size()]);
            beast::error_code ec;
            http::read(reader, buffer, p, ec);
            if (ec == http::error::end_of_stream) {
                return out;
            }
            EXPECT_FALSE(ec) << ec.message();
            if (ec) {
                return out;
            }
            out.push_back(p.release());
        }
    }
};

TEST_F(http_session_test, two_keep_alive_requests_fed_byte_by_byte) {
    start(std::string(get_metrics) + get_healthz, 1);
    client.close(); // the client leaves after the second request; the session then ends
    const auto responses = parse(run());
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_EQ(responses[0].body(), "up 1\n");
    EXPECT_TRUE(responses[0].keep_alive());
    EXPECT_EQ(responses[1].body(), "ok\n");
    EXPECT_TRUE(responses[1].keep_alive());
}

TEST_F(http_session_test, pipelined_requests_in_one_read) {
    start(std::string(get_healthz) + get_metrics + get_healthz);
    client.close();
    EXPECT_EQ(parse(run()).size(), 3u);
}

TEST_F(http_session_test, connection_close_is_honoured) {
    start(std::string("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n") + get_healthz);
    // The client stays open: the session must end by itself after the first response.
    const auto responses = parse(run());
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_FALSE(responses[0].keep_alive());
    EXPECT_EQ(hdr(responses[0], http::field::connection), "close");
}

TEST_F(http_session_test, http10_closes_unless_keep_alive) {
    start("GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_EQ(parse(run()).size(), 1u);
}

TEST_F(http_session_test, oversized_header_gets_431_and_close) {
    limits.header_limit = 1024;
    start("GET /metrics HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n" + get_healthz);
    const auto responses = parse(run());
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].result(), http::status::request_header_fields_too_large);
    EXPECT_FALSE(responses[0].keep_alive());
    EXPECT_EQ(handler.stats().count(http_route::other, 431), 1u);
}

TEST_F(http_session_test, oversized_header_byte_by_byte) {
    limits.header_limit = 512;
    start("GET / HTTP/1.1\r\nX: " + std::string(1000, 'b'), 1);
    const auto responses = parse(run());
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].result(), http::status::request_header_fields_too_large);
}

TEST_F(http_session_test, malformed_request_gets_400_and_close) {
    start(std::string("GET /metrics HTTP/9.9 garbage\r\n\r\n") + get_healthz);
    const auto responses = parse(run());
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].result(), http::status::bad_request);
    EXPECT_FALSE(responses[0].keep_alive());
}

TEST_F(http_session_test, garbage_bytes_get_400) {
    start(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)); // a TLS hello
    const auto responses = parse(run());
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].result(), http::status::bad_request);
}

TEST_F(http_session_test, large_body_gets_413) {
    start("POST /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
    const auto responses = parse(run());
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].result(), http::status::payload_too_large);
}

TEST_F(http_session_test, client_closing_mid_request_ends_quietly) {
    start("GET /metr", 1);
    client.close();
    EXPECT_EQ(run(), "");
    EXPECT_EQ(handler.stats().count(http_route::other, 400), 0u);
}

TEST_F(http_session_test, client_closing_between_requests_ends_quietly) {
    start("");
    client.close();
    EXPECT_EQ(run(), "");
}

TEST_F(http_session_test, head_sends_the_get_headers_but_no_body_and_renders_nothing) {
    int renders = 0;
    http_handler counting{immediate_scrape([&](exposition_format, std::string& out) {
        ++renders;
        out += "up 1\n";
    })};
    active = &counting;
    start(std::string("HEAD /metrics HTTP/1.1\r\n\r\n") + get_healthz);
    client.close();
    const auto responses = parse(run(), {true});
    ASSERT_EQ(responses.size(), 2u); // the second parses: HEAD wrote no body bytes
    EXPECT_EQ(hdr(responses[0], http::field::transfer_encoding), "chunked"); // as a GET
    EXPECT_EQ(responses[0].count(http::field::content_length), 0u);
    EXPECT_TRUE(responses[0].body().empty());
    EXPECT_EQ(responses[1].body(), "ok\n");
    EXPECT_EQ(renders, 0);
}

// Issue 11 item 7: the body goes out slice by slice, as chunks, not as one rendered string.
TEST_F(http_session_test, metrics_body_is_streamed_as_one_chunk_per_slice) {
    http_handler_options options;
    options.render.slice_bytes = 10;
    http_handler sliced{immediate_scrape([](exposition_format, std::string& out) {
                            out += "a 1\nb 2\nc 3\nd 4\n";
                        }),
                        {}, options};
    active = &sliced;
    start(std::string(get_metrics) + get_healthz);
    client.close();
    const std::string wire = run();
    EXPECT_NE(wire.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << wire;
    EXPECT_NE(wire.find("\r\n\r\na\r\na 1\nb 2\nc \r\n6\r\n3\nd 4\n\r\n0\r\n\r\nHTTP/1.1 200"),
              std::string::npos)
        << wire;
    const auto responses = parse(wire);
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_EQ(responses[0].body(), "a 1\nb 2\nc 3\nd 4\n");
    EXPECT_EQ(responses[1].body(), "ok\n");
    EXPECT_EQ(sliced.stats().count(http_route::metrics, 200), 1u);
    EXPECT_EQ(sliced.stats().scrapes, 1u);
}

TEST_F(http_session_test, http10_metrics_body_ends_with_the_connection) {
    start("GET /metrics HTTP/1.0\r\n\r\n");
    const std::string wire = run();
    EXPECT_EQ(wire.find("chunked"), std::string::npos) << wire;
    EXPECT_EQ(wire.find("Content-Length"), std::string::npos) << wire;
    EXPECT_TRUE(wire.ends_with("\r\n\r\nup 1\n")) << wire;
}

TEST_F(http_session_test, unavailable_scrape_is_a_whole_503_and_the_connection_stays) {
    http_handler down{unreachable};
    active = &down;
    start(std::string(get_metrics) + get_healthz);
    client.close();
    const auto responses = parse(run());
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_EQ(responses[0].result(), http::status::service_unavailable);
    EXPECT_EQ(responses[0].body(), "metrics unavailable: Redis is unreachable\n");
    EXPECT_EQ(responses[1].body(), "ok\n");
}

// Issue 12 item 2: concurrent scrapes of one kind share one render; a scrape that arrives
// while a render runs gets the next one, whole.
TEST(http_session_sharing, concurrent_scrapes_share_one_render_and_late_ones_get_the_next) {
    net::io_context ioc;
    int renders = 0;
    http_handler_options options;
    options.render.slice_bytes = 4;
    http_handler h{immediate_scrape([&](exposition_format, std::string& out) {
                       ++renders;
                       out += "x " + std::to_string(renders) + "\ny 0\n";
                   }),
                   {}, options};
    http_limits limits;
    std::vector<std::unique_ptr<btest::stream>> clients;
    int finished = 0;
    auto session = [&] {
        clients.push_back(std::make_unique<btest::stream>(ioc));
        btest::stream server{ioc};
        server.connect(*clients.back());
        const std::string req = "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n";
        server.append(beast::string_view(req.data(), req.size()));
        net::co_spawn(ioc, http_session<btest::stream>(std::move(server), h, limits),
                      [&](std::exception_ptr e) {
                          ++finished;
                          if (e)
                              std::rethrow_exception(e);
                      });
    };
    session();
    session();
    session();
    // Until the shared render is midway (the header and a first chunk are out), then a late one.
    while (std::string(clients[0]->str()).find("\r\n\r\n") == std::string::npos)
        ASSERT_EQ(ioc.run_one(), 1u);
    session();
    ioc.run();
    EXPECT_EQ(finished, 4);
    EXPECT_EQ(renders, 2);
    EXPECT_EQ(h.stats().render.renders, 2u);
    EXPECT_EQ(h.stats().render.shared, 2u);
    std::vector<std::string> bodies;
    for (auto& c : clients) {
        btest::stream reader{ioc, c->str()};
        reader.close_remote();
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        beast::error_code ec;
        http::read(reader, buffer, res, ec);
        EXPECT_FALSE(ec) << ec.message();
        bodies.push_back(res.body());
    }
    EXPECT_EQ(bodies[0], "x 1\ny 0\n");
    EXPECT_EQ(bodies[1], "x 1\ny 0\n");
    EXPECT_EQ(bodies[2], "x 1\ny 0\n");
    EXPECT_EQ(bodies[3], "x 2\ny 0\n");
}

TEST_F(http_session_test, max_requests_per_connection) {
    limits.max_requests_per_connection = 2;
    start(std::string(get_healthz) + get_healthz + get_healthz);
    const auto responses = parse(run());
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_TRUE(responses[0].keep_alive());
    EXPECT_FALSE(responses[1].keep_alive());
}

TEST_F(http_session_test, registry_close_all_ends_an_idle_session) {
    start("");
    net::post(ioc, [this] {
        EXPECT_EQ(registry.size(), 1u);
        registry.close_all();
    });
    EXPECT_EQ(run(), "");
}

TEST_F(http_session_test, session_started_after_close_all_ends_at_once) {
    registry.close_all();
    start(get_healthz);
    run(); // returns: the stream was closed on registration
}

TEST_F(http_session_test, injected_failures_end_quietly) {
    // Fail the n-th stream operation, for every n from the first read to past the last write:
    // each run ends without an exception or a hang, and later failures let more through.
    std::size_t previous = 0;
    for (std::size_t n = 1; n <= 40; ++n) {
        btest::fail_count fc{n};
        btest::stream failing{ioc, fc};
        start(std::string(get_healthz) + get_healthz, 8, &failing);
        client.close();
        ioc.restart();
        const std::size_t served = parse(run()).size();
        EXPECT_GE(served, previous) << n;
        previous = served;
        if (n == 1) {
            EXPECT_EQ(served, 0u);
        }
        client = btest::stream{ioc};
        finished = false;
    }
    EXPECT_EQ(previous, 2u); // 40 operations are more than the whole exchange needs
}

} // namespace
} // namespace metricsd::test

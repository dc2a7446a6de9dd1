#include "daemon/http/http_server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <future>
#include <netinet/in.h>
#include <memory>
#include <optional>
#include <vector>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace metricsd::test {
namespace {

using namespace daemon;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// A plain blocking POSIX client, deliberately sharing nothing with the server's code.
class raw_client {
public:
    explicit raw_client(unsigned short port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            throw std::system_error(errno, std::generic_category(), "connect");
        }
    }
    ~raw_client() { close(); }
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;

    void send(std::string_view data) {
        ASSERT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL),
                  static_cast<ssize_t>(data.size()));
    }

    void close() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    /// Everything received until the server closes (closed = true) or `timeout` passes.
    std::string read_until_close(std::chrono::milliseconds timeout, bool& closed) {
        const auto deadline = clock_type::now() + timeout;
        std::string out;
        closed = false;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                return out; // timed out: still open
            }
            char buf[4096];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) { // EOF or reset: closed either way
                closed = true;
                return out;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

private:
    int fd_;
};

constexpr const char* get_metrics_close =
    "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

class http_server_test : public ::testing::Test {
protected:
    net::io_context ioc{1};
    std::optional<http_server> server;
    std::thread runner;
    std::future<void> ran; ///< ready when ioc.run() has returned

    void start(http_limits limits = {}) {
        http_handler handler{
            immediate_scrape([](exposition_format, std::string& out) { out += "up 1\n"; })};
        server.emplace(ioc, "127.0.0.1:0", std::move(handler), limits);
        std::packaged_task<void()> task{[this] { ioc.run(); }};
        ran = task.get_future();
        runner = std::thread(std::move(task));
    }

    /// Runs `f` on the io_context thread (the server is not thread-safe) and returns its result.
    template <class F>
    auto on_ioc(F f) {
        std::packaged_task<decltype(f())()> task{std::move(f)};
        auto result = task.get_future();
        net::post(ioc, std::move(task));
        return result.get();
    }

    unsigned short port() const { return server->local_endpoint().port(); }

    /// Polls the server's counters until `pred` holds or 5 s pass.
    template <class Pred>
    bool wait_for_stats(Pred pred) {
        for (auto end = clock_type::now() + 5s; clock_type::now() < end;) {
            if (pred(on_ioc([this] { return server->stats(); }))) {
                return true;
            }
            std::this_thread::sleep_for(5ms);
        }
        return false;
    }

    /// close() and wait for ioc.run() to return by itself; false if it did not within 5 s.
    bool stop() {
        on_ioc([this] {
            server->close();
            return 0;
        });
        const bool returned = ran.wait_for(5s) == std::future_status::ready;
        if (!returned) {
            ioc.stop(); // don't hang the test binary; the assertion reports the failure
        }
        runner.join();
        return returned;
    }

    void TearDown() override {
        if (runner.joinable()) {
            stop();
        }
    }
};

TEST_F(http_server_test, serves_metrics_to_a_plain_socket) {
    start();
    EXPECT_EQ(server->local_endpoint().address().to_string(), "127.0.0.1");
    EXPECT_NE(port(), 0);
    raw_client c{port()};
    c.send(get_metrics_close);
    bool closed = false;
    const std::string reply = c.read_until_close(5s, closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
    EXPECT_NE(reply.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    EXPECT_NE(reply.find("Server: metricsd\r\n"), std::string::npos);
    EXPECT_NE(reply.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
    EXPECT_EQ(reply.substr(reply.find("\r\n\r\n") + 4), "5\r\nup 1\n\r\n0\r\n\r\n");
    ASSERT_TRUE(stop());
    EXPECT_EQ(server->stats().handler.count(http_route::metrics, 200), 1u);
    EXPECT_EQ(server->stats().connections_accepted, 1u);
    EXPECT_EQ(server->stats().connections_open, 0u);
}

TEST_F(http_server_test, connection_cap_rejects_the_excess) {
    http_limits limits;
    limits.max_connections = 2;
    start(limits);
    raw_client a{port()};
    raw_client b{port()};
    ASSERT_TRUE(wait_for_stats([](const http_stats& s) { return s.connections_open == 2; }));
    raw_client c{port()};
    bool closed = false;
    EXPECT_EQ(c.read_until_close(5s, closed), "");
    EXPECT_TRUE(closed);
    EXPECT_TRUE(wait_for_stats([](const http_stats& s) { return s.connections_rejected == 1; }));
    // Neither held connection had finished a request: none was idle, so none was evicted.
    EXPECT_EQ(on_ioc([this] { return server->stats(); }).connections_evicted, 0u);

    a.close(); // frees a slot
    ASSERT_TRUE(wait_for_stats([](const http_stats& s) { return s.connections_open == 1; }));
    raw_client d{port()};
    d.send(get_metrics_close);
    EXPECT_EQ(d.read_until_close(5s, closed).rfind("HTTP/1.1 200 OK", 0), 0u);
    EXPECT_TRUE(closed);
}

TEST_F(http_server_test, slowloris_does_not_block_others) {
    start();
    raw_client slow{port()};
    slow.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    raw_client fast{port()};
    fast.send(get_metrics_close);
    bool closed = false;
    EXPECT_EQ(fast.read_until_close(5s, closed).rfind("HTTP/1.1 200 OK", 0), 0u);
    EXPECT_TRUE(closed);
    EXPECT_EQ(slow.read_until_close(100ms, closed), ""); // still waiting, unserved
    EXPECT_FALSE(closed);
}

TEST_F(http_server_test, request_timeout_closes_idle_and_slow_connections) {
    http_limits limits;
    limits.request_timeout = 1s;
    start(limits);
    raw_client idle{port()};
    raw_client slow{port()};
    slow.send("GET /metrics HTTP/1.1\r\n");
    const auto begin = clock_type::now();
    bool closed = false;
    EXPECT_EQ(idle.read_until_close(5s, closed), "");
    EXPECT_TRUE(closed);
    EXPECT_EQ(slow.read_until_close(5s, closed), "");
    EXPECT_TRUE(closed);
    const auto took = clock_type::now() - begin;
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 4s);
    EXPECT_TRUE(wait_for_stats([](const http_stats& s) { return s.connections_open == 0; }));
}

TEST_F(http_server_test, keep_alive_connection_is_reused_until_timeout) {
    http_limits limits;
    limits.request_timeout = 1s;
    start(limits);
    raw_client c{port()};
    c.send("GET /healthz HTTP/1.1\r\n\r\nGET /readyz HTTP/1.1\r\n\r\n");
    bool closed = false;
    const std::string replies = c.read_until_close(5s, closed); // both, then idle timeout
    EXPECT_TRUE(closed);
    EXPECT_NE(replies.find("\r\n\r\nok\n"), std::string::npos);
    EXPECT_NE(replies.find("\r\n\r\nready\n"), std::string::npos);
}

// Issue 11 item 6: keep-alive pollers cannot hold every slot.
TEST_F(http_server_test, keep_alive_idle_closes_a_kept_connection_before_the_request_timeout) {
    http_limits limits;
    limits.request_timeout = 30s;
    limits.keep_alive_idle = 1s;
    start(limits);
    raw_client c{port()};
    const auto begin = clock_type::now();
    c.send("GET /healthz HTTP/1.1\r\n\r\n");
    bool closed = false;
    EXPECT_NE(c.read_until_close(10s, closed).find("\r\n\r\nok\n"), std::string::npos);
    EXPECT_TRUE(closed);
    const auto took = clock_type::now() - begin;
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 8s); // well below the 30 s request timeout
}

TEST_F(http_server_test, full_slots_close_the_idlest_kept_alive_poller_not_the_new_scrape) {
    http_limits limits;
    limits.max_connections = 4;
    limits.max_connections_per_peer = 0;
    start(limits);
    std::vector<std::unique_ptr<raw_client>> pollers;
    for (int i = 0; i < 4; ++i) {
        pollers.push_back(std::make_unique<raw_client>(port()));
        pollers.back()->send("GET /healthz HTTP/1.1\r\n\r\n"); // kept alive, then idle
        ASSERT_TRUE(wait_for_stats([i](const http_stats& s) {
            return s.handler.count(http_route::healthz, 200) == static_cast<unsigned>(i + 1);
        }));
    }
    raw_client scraper{port()};
    scraper.send(get_metrics_close);
    bool closed = false;
    const std::string reply = scraper.read_until_close(5s, closed);
    EXPECT_NE(reply.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << reply;
    EXPECT_TRUE(reply.ends_with("up 1\n\r\n0\r\n\r\n")) << reply; // chunked, whole
    // The first poller was idle the longest: it was closed; the others still work.
    bool first_closed = false;
    pollers[0]->read_until_close(5s, first_closed);
    EXPECT_TRUE(first_closed);
    const auto s = on_ioc([this] { return server->stats(); });
    EXPECT_EQ(s.connections_evicted, 1u);
    EXPECT_EQ(s.connections_rejected, 0u);
    pollers[3]->send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    EXPECT_NE(pollers[3]->read_until_close(5s, closed).find("ok\n"), std::string::npos);
}

TEST_F(http_server_test, per_peer_cap_refuses_the_excess_from_one_address) {
    http_limits limits;
    limits.max_connections_per_peer = 3;
    start(limits);
    std::vector<std::unique_ptr<raw_client>> held;
    for (int i = 0; i < 3; ++i)
        held.push_back(std::make_unique<raw_client>(port()));
    ASSERT_TRUE(wait_for_stats([](const http_stats& s) { return s.connections_open == 3; }));
    raw_client extra{port()};
    bool closed = false;
    EXPECT_EQ(extra.read_until_close(5s, closed), "");
    EXPECT_TRUE(closed);
    EXPECT_TRUE(wait_for_stats(
        [](const http_stats& s) { return s.connections_rejected_per_peer == 1; }));
    held[0]->close(); // a slot of that peer frees: the next connection is served
    ASSERT_TRUE(wait_for_stats([](const http_stats& s) { return s.connections_open == 2; }));
    raw_client next{port()};
    next.send(get_metrics_close);
    EXPECT_NE(next.read_until_close(5s, closed).find("up 1\n"), std::string::npos);
}

TEST_F(http_server_test, close_makes_run_return_with_open_connections) {
    start();
    raw_client idle{port()};
    raw_client slow{port()};
    slow.send("GET /metrics HTTP/1.1\r\n");
    ASSERT_TRUE(wait_for_stats([](const http_stats& s) { return s.connections_open == 2; }));
    EXPECT_TRUE(stop());
    bool closed = false;
    idle.read_until_close(5s, closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(server->stats().connections_open, 0u);
    EXPECT_THROW(raw_client{port()}, std::system_error); // no longer listening
}

TEST_F(http_server_test, bind_failure_names_the_address) {
    start();
    const std::string address = "127.0.0.1:" + std::to_string(port());
    net::io_context other;
    try {
        http_server second{other, address,
                           http_handler{immediate_scrape([](exposition_format, std::string&) {})}};
        FAIL() << "bound twice";
    } catch (const std::system_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "cannot listen on " + address + ": Address already in use");
        EXPECT_EQ(e.code().value(), EADDRINUSE);
    }
}

TEST_F(http_server_test, ipv6_loopback) {
    http_handler handler{immediate_scrape([](exposition_format, std::string&) {})};
    try {
        http_server v6{ioc, "[::1]:0", std::move(handler)};
        EXPECT_TRUE(v6.local_endpoint().address().is_v6());
        EXPECT_NE(v6.local_endpoint().port(), 0);
        EXPECT_EQ(to_string(v6.local_endpoint()).rfind("[::1]:", 0), 0u);
    } catch (const std::system_error& e) {
        GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
    }
}

TEST(parse_listen_endpoint, accepted_forms) {
    EXPECT_EQ(parse_listen_endpoint("127.0.0.1:9100"),
              tcp::endpoint(net::ip::make_address("127.0.0.1"), 9100));
    EXPECT_EQ(parse_listen_endpoint("[::1]:0"), tcp::endpoint(net::ip::make_address("::1"), 0));
    EXPECT_EQ(parse_listen_endpoint("localhost:80"),
              tcp::endpoint(net::ip::address_v4::loopback(), 80));
    EXPECT_EQ(parse_listen_endpoint(":9100"), tcp::endpoint(net::ip::address_v4::any(), 9100));
    EXPECT_EQ(parse_listen_endpoint("*:65535"), tcp::endpoint(net::ip::address_v4::any(), 65535));
    EXPECT_EQ(to_string(parse_listen_endpoint("[::]:1")), "[::]:1");
}

TEST(parse_listen_endpoint, rejected_forms) {
    for (const char* bad : {"9100", "", "example.com:80", "1.2.3.4:65536", "1.2.3.4:", "1.2.3.4:-1",
                            "1.2.3.4:80x", "[::1:80", "::1:80", "[]:80", "256.1.1.1:80"}) {
        EXPECT_THROW(parse_listen_endpoint(bad), std::runtime_error) << bad;
    }
    try {
        parse_listen_endpoint("host:9100");
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("'host:9100'"), std::string::npos);
    }
}

} // namespace
} // namespace metricsd::test

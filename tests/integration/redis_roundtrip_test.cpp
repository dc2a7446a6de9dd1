// The pure Redis layer against a real redis-server: a planned flush lands as pytheus's layout
// (checked with plain commands), an interrupted flush is neither lost nor applied twice, and
// keys written the way pytheus writes them read back through the scrape plan.
#include "daemon/redis/redis_flush.hpp"
#include "daemon/redis/redis_scrape.hpp"
#include "harness.hpp"
#include "redis_support.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <csignal>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace metricsd::daemon {
namespace {

using test_support::make;
using strings = std::vector<std::string>;
using protocol::gauge_mode;
using protocol::metric_type;

// A blocking RESP connection: test code only (the daemon does its IO with Asio).
class redis_conn {
public:
    explicit redis_conn(int port) {
        for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
            fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(static_cast<std::uint16_t>(port));
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
                break;
            ::close(fd_);
            fd_ = -1;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (fd_ < 0)
            throw std::runtime_error("cannot connect to redis-server");
    }
    ~redis_conn() { close(); }
    void close() {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }
    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0)
                throw std::runtime_error("send failed");
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    std::vector<reply_ptr> receive(std::size_t count) {
        std::vector<reply_ptr> out;
        char buf[4096];
        while (out.size() < count) {
            auto r = reader_.next();
            if (r.state == reply_reader::status::reply) {
                out.push_back(std::move(r.reply));
                continue;
            }
            if (r.state == reply_reader::status::protocol_error)
                throw std::runtime_error("protocol error");
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0)
                throw std::runtime_error("recv failed");
            reader_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
        }
        return out;
    }
    reply_ptr command(std::vector<std::string_view> argv) {
        std::string bytes;
        append_command(bytes, argv);
        send(bytes);
        return std::move(receive(1).front());
    }
    std::string text(std::vector<std::string_view> argv) {
        const auto r = command(std::move(argv));
        return std::string(reply_text(*r));
    }
    std::map<std::string, std::string> hash(std::string_view key) {
        const auto r = command({"HGETALL", key});
        std::map<std::string, std::string> out;
        const auto items = reply_elements(*r);
        for (std::size_t i = 0; i + 1 < items.size(); i += 2)
            out[std::string(reply_text(*items[i]))] = std::string(reply_text(*items[i + 1]));
        return out;
    }

private:
    int fd_ = -1;
    reply_reader reader_;
};

class redis_roundtrip : public ::testing::Test {
protected:
    void SetUp() override {
        server_ = std::make_unique<test::child_process>(
            std::vector<std::string>{"redis-server", "--port", std::to_string(port_), "--bind",
                                     "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                     dir_.path()},
            dir_.file("redis.log"));
        server_->wait_for_log("Ready to accept connections");
        conn_ = std::make_unique<redis_conn>(port_);
    }
    void TearDown() override {
        conn_.reset();
        server_->signal(SIGTERM);
        EXPECT_EQ(server_->wait(), 0) << server_->log();
    }

    transaction_outcome run(redis_conn& c, const flush_plan& plan) {
        c.send(plan.bytes);
        replies_ = c.receive(plan.replies);
        return check_transaction(replies_, plan.queued);
    }

    test::temp_dir dir_;
    int port_ = test::free_port();
    std::unique_ptr<test::child_process> server_;
    std::unique_ptr<redis_conn> conn_;
    std::vector<reply_ptr> replies_;

    family_spec requests = make("http_requests_total", metric_type::counter, {"method", "code"});
    family_spec jobs = make("jobs_total", metric_type::counter, {});
    family_spec lat = make("lat", metric_type::histogram, {"method"}, {"0.005", "0.5", "1"});
    family_spec temp = make("temp", metric_type::gauge, {"room"}, {}, gauge_mode::shared);
    family_spec query = make("q_total", metric_type::counter, {"q"});
};

TEST_F(redis_roundtrip, flush_lands_in_pytheus_layout) {
    std::vector<series_delta> d(4);
    d[0] = {&requests, {"GET", "200"}, series_delta::kind::add, 3, {}, 0, 0};
    d[1] = {&jobs, {}, series_delta::kind::add, 1.5, {}, 0, 0};
    d[2] = {&lat, {"GET"}, series_delta::kind::add, 0, {1, 0, 2, 1}, 3.7, 4};
    d[3] = {&temp, {"lab"}, series_delta::kind::set, 21.5, {}, 0, 0};
    const family_spec* meta[] = {&requests, &lat};
    flush_request req{"", "d1", 7, 3600, default_flushseq_expire_seconds, d, meta, {}};
    const auto out = run(*conn_, plan_flush(req));
    ASSERT_EQ(out.state, transaction_outcome::status::applied) << out.first_error;
    EXPECT_EQ(out.error_elements, 0u);

    auto& c = *conn_;
    EXPECT_EQ(c.text({"TYPE", "http_requests_total"}), "hash");
    EXPECT_EQ(c.hash("http_requests_total"),
              (std::map<std::string, std::string>{{R"({"method": "GET", "code": "200"})", "3"}}));
    EXPECT_EQ(c.text({"TYPE", "jobs_total"}), "string");
    EXPECT_EQ(c.text({"GET", "jobs_total"}), "1.5");
    const std::string get = R"({"method": "GET"})";
    const std::pair<const char*, const char*> cells[] = {{"lat:0.005", "1"}, {"lat:0.5", "1"},
                                                         {"lat:1", "3"},     {"lat:+Inf", "4"},
                                                         {"lat:sum", "3.7"}, {"lat:count", "4"}};
    for (const auto& [key, value] : cells)
        EXPECT_EQ(c.hash(key), (std::map<std::string, std::string>{{get, value}})) << key;
    EXPECT_EQ(c.hash("temp"), (std::map<std::string, std::string>{{R"({"room": "lab"})", "21.5"}}));
    for (const char* key :
         {"http_requests_total", "jobs_total", "lat:0.005", "lat:count", "temp", "metricsd:meta"}) {
        const auto ttl = c.command({"TTL", key})->integer;
        EXPECT_TRUE(ttl > 3590 && ttl <= 3600) << key << " " << ttl;
    }
    EXPECT_EQ(c.text({"GET", "metricsd:flushseq:d1"}), "7");
    EXPECT_GT(c.command({"TTL", "metricsd:flushseq:d1"})->integer, 3600);
    EXPECT_EQ(c.hash("metricsd:meta").at("lat"), encode_family_meta(lat));

    // The metadata and the data read back through the scrape side.
    c.send(plan_meta_read(""));
    const auto meta_read = parse_meta_reply(*c.receive(1).at(0));
    ASSERT_EQ(meta_read.families.size(), 2u);
    EXPECT_EQ(conflict_between(meta_read.families[1], lat), "");
    const family_spec* families[] = {&requests, &jobs, &lat, &temp};
    const auto plan = plan_scrape("", families);
    c.send(plan.bytes);
    const auto r = parse_scrape(plan, families, c.receive(plan.replies));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.families[0].at(strings{"GET", "200"}).value, 3);
    EXPECT_EQ(r.families[1].at(strings{}).value, 1.5);
    EXPECT_EQ(r.families[2].at(strings{"GET"}).cumulative, (std::vector<double>{1, 1, 3, 4}));
    EXPECT_EQ(r.families[3].at(strings{"lab"}).value, 21.5);
}

TEST_F(redis_roundtrip, interrupted_flush_is_neither_lost_nor_applied_twice) {
    std::vector<series_delta> d(1);
    d[0] = {&jobs, {}, series_delta::kind::add, 2, {}, 0, 0};
    const auto plan = plan_flush({"p", "d9", 1, 3600, default_flushseq_expire_seconds, d, {}, {}});
    // The connection drops before EXEC reaches Redis: Redis discards the transaction.
    const auto exec_at = plan.bytes.rfind("*1\r\n$4\r\nEXEC");
    {
        redis_conn lost(port_);
        lost.send(std::string_view(plan.bytes).substr(0, exec_at));
        lost.receive(plan.replies - 1);
    }
    auto& c = *conn_;
    c.send(plan_flushseq_probe("p", "d9"));
    EXPECT_EQ(check_flushseq_probe(*c.receive(1).at(0), 1), flushseq_state::not_applied);
    EXPECT_EQ(c.command({"GET", "p-jobs_total"})->type, REDIS_REPLY_NIL);
    // Resent on a new connection, the EXEC runs; the replies are "lost" again.
    {
        redis_conn lost(port_);
        lost.send(plan.bytes);
        lost.receive(plan.replies - 1); // closes before reading EXEC's reply
    }
    c.send(plan_flushseq_probe("p", "d9"));
    EXPECT_EQ(check_flushseq_probe(*c.receive(1).at(0), 1), flushseq_state::applied);
    EXPECT_EQ(c.text({"GET", "p-jobs_total"}), "2"); // applied once: no resend needed
}

TEST_F(redis_roundtrip, reads_what_pytheus_wrote) {
    auto& c = *conn_;
    // Byte for byte what pytheus's MultiProcessRedisBackend sends (fields are json.dumps text).
    c.command(
        {"HINCRBYFLOAT", "svc-http_requests_total", R"({"method": "GET", "code": "200"})", "3"});
    c.command({"HINCRBYFLOAT", "svc-http_requests_total", R"({"code": "200", "method": "GET"})",
               "2.5"}); // another writer's key order: merged
    c.command({"HINCRBYFLOAT", "svc-http_requests_total", "GET-200", "1"}); // malformed field
    c.command({"HINCRBYFLOAT", "svc-q_total", R"({"q": "\u00e9\"x\\"})", "4"});
    c.command({"EXPIRE", "svc-q_total", "3600"});
    const std::string get = R"({"method": "GET"})";
    const std::pair<const char*, const char*> cells[] = {
        {"0.005", "1"}, {"0.5", "2"}, {"1", "2"}, {"+Inf", "3"}, {"sum", "2.25"}, {"count", "3"}};
    for (const auto& [cell, v] : cells)
        c.command({"HINCRBYFLOAT", std::string("svc-lat:") + cell, get, v});
    c.command({"HINCRBYFLOAT", "svc-lat:sum", R"({"service": "api", "method": "GET"})", "1"});
    c.command({"SET", "svc-temp", "5"}); // labelled family stored as a STRING: wrong type
    c.command({"INCRBYFLOAT", "svc-jobs_total", "1e3"});

    const family_spec* families[] = {&requests, &query, &lat, &temp, &jobs};
    const auto plan = plan_scrape("svc", families);
    c.send(plan.bytes);
    const auto r = parse_scrape(plan, families, c.receive(plan.replies));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.families[0].size(), 1u);
    EXPECT_EQ(r.families[0].at(strings{"GET", "200"}).value, 5.5);
    EXPECT_EQ(r.families[1].at(strings{"\xc3\xa9\"x\\"}).value, 4);
    const auto& h = r.families[2].at(strings{"GET"});
    EXPECT_EQ(h.cumulative, (std::vector<double>{1, 2, 2, 3}));
    EXPECT_EQ(h.sum, 2.25);
    EXPECT_EQ(h.count, 3);
    EXPECT_TRUE(r.families[3].empty());
    EXPECT_EQ(r.families[4].at(strings{}).value, 1000);
    EXPECT_EQ(r.malformed_fields, 2u); // "GET-200", and the service/method field in lat:sum
    EXPECT_EQ(r.wrong_type_keys, 1u);
    EXPECT_EQ(r.bad_values, 0u);
}

// The third field from the issue, in a family whose labels are service and method.
TEST_F(redis_roundtrip, service_method_field_reads_back) {
    const auto api = make("api_calls_total", metric_type::counter, {"service", "method"});
    conn_->command(
        {"HINCRBYFLOAT", "api_calls_total", R"({"service": "api", "method": "GET"})", "7"});
    const family_spec* families[] = {&api};
    const auto plan = plan_scrape("", families);
    conn_->send(plan.bytes);
    const auto r = parse_scrape(plan, families, conn_->receive(plan.replies));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.families[0].at(strings{"api", "GET"}).value, 7);
}

} // namespace
} // namespace metricsd::daemon

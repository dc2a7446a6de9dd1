// Flush and scrape planning: the exact commands of a known flush, reply checking, the read
// pipeline and the parsing of its replies (key-order merge, bad data skipped and counted).
#include "daemon/redis/redis_flush.hpp"
#include "daemon/redis/redis_scrape.hpp"
#include "redis_support.hpp"

#include <gtest/gtest.h>

#include <charconv>
#include <limits>

namespace metricsd::daemon {
namespace {

using test_support::make;
using test_support::replies_of;
using strings = std::vector<std::string>;
using protocol::gauge_mode;
using protocol::metric_type;

// Decode RESP command arrays (`*N` of `$len` bulk strings) back into argv lists.
std::vector<strings> commands(std::string_view bytes) {
    std::vector<strings> out;
    const auto number = [&bytes](char tag) {
        EXPECT_EQ(bytes.front(), tag);
        const auto eol = bytes.find("\r\n");
        std::size_t n = 0;
        std::from_chars(bytes.data() + 1, bytes.data() + eol, n);
        bytes.remove_prefix(eol + 2);
        return n;
    };
    while (!bytes.empty()) {
        auto& argv = out.emplace_back(number('*'));
        for (auto& arg : argv) {
            const auto len = number('$');
            arg = std::string(bytes.substr(0, len));
            bytes.remove_prefix(len + 2);
        }
    }
    return out;
}

struct families {
    family_spec requests = make("http_requests_total", metric_type::counter, {"method", "code"});
    family_spec jobs = make("jobs_total", metric_type::counter, {});
    family_spec lat = make("lat", metric_type::histogram, {"method"}, {"0.005", "0.5", "1"});
    family_spec sz = make("sz", metric_type::summary, {});
    family_spec temp = make("temp", metric_type::gauge, {"room"}, {}, gauge_mode::shared);
    family_spec inflight = make("inflight", metric_type::gauge, {});
};

std::vector<series_delta> known_deltas(const families& f) {
    std::vector<series_delta> d(8);
    d[0] = {&f.requests, {"GET", "200"}, series_delta::kind::add, 3, {}, 0, 0};
    d[1] = {&f.requests, {"POST", "500"}, series_delta::kind::add, 1, {}, 0, 0};
    d[2] = {&f.jobs, {}, series_delta::kind::add, 1, {}, 0, 0};
    d[3] = {&f.lat, {"GET"}, series_delta::kind::add, 0, {1, 0, 2, 1}, 3.7, 4};
    d[4] = {&f.sz, {}, series_delta::kind::add, 0, {}, 10, 2};
    d[5] = {&f.temp, {"lab"}, series_delta::kind::set, 21.5, {}, 0, 0};
    d[6] = {&f.inflight, {}, series_delta::kind::add, -2, {}, 0, 0};
    d[7] = {&f.requests, {"GET"}, series_delta::kind::add, 1, {}, 0, 0}; // wrong label count
    return d;
}

TEST(redis_flush, pipeline_for_known_deltas) {
    const families f;
    const auto deltas = known_deltas(f);
    const family_spec* meta[] = {&f.lat};
    flush_request req;
    req.prefix = "svc";
    req.daemon_id = "d1";
    req.seq = 7;
    req.deltas = deltas;
    req.metadata = meta;
    const auto plan = plan_flush(req);
    const std::string get200 = R"({"method": "GET", "code": "200"})";
    const std::string get = R"({"method": "GET"})";
    std::vector<strings> want{
        {"MULTI"},
        {"HINCRBYFLOAT", "svc-http_requests_total", get200, "3"},
        {"HINCRBYFLOAT", "svc-http_requests_total", R"({"method": "POST", "code": "500"})", "1"},
        {"INCRBYFLOAT", "svc-jobs_total", "1"},
        {"HINCRBYFLOAT", "svc-lat:0.005", get, "1"},
        {"HINCRBYFLOAT", "svc-lat:0.5", get, "1"},
        {"HINCRBYFLOAT", "svc-lat:1", get, "3"},
        {"HINCRBYFLOAT", "svc-lat:+Inf", get, "4"},
        {"HINCRBYFLOAT", "svc-lat:sum", get, "3.7"},
        {"HINCRBYFLOAT", "svc-lat:count", get, "4"},
        {"INCRBYFLOAT", "svc-sz:sum", "10"},
        {"INCRBYFLOAT", "svc-sz:count", "2"},
        {"HSET", "svc-temp", R"({"room": "lab"})", "21.5"},
        {"INCRBYFLOAT", "svc-inflight", "-2"},
        {"HSETNX", "svc-metricsd:meta", "lat", encode_family_meta(f.lat)},
    };
    for (const char* key :
         {"http_requests_total", "jobs_total", "lat:0.005", "lat:0.5", "lat:1", "lat:+Inf",
          "lat:sum", "lat:count", "sz:sum", "sz:count", "temp", "inflight", "metricsd:meta"})
        want.push_back({"EXPIRE", std::string("svc-") + key, "3600"});
    want.push_back({"SET", "svc-metricsd:flushseq:d1", "7", "EX", "604800"});
    want.push_back({"EXEC"});
    EXPECT_EQ(commands(plan.bytes), want);
    EXPECT_EQ(plan.replies, want.size());
    EXPECT_EQ(plan.queued, want.size() - 2);
    EXPECT_EQ(plan.skipped, 1u);
}

TEST(redis_flush, live_contributions_go_to_the_daemons_own_leased_key) {
    const auto rss = make("rss", metric_type::gauge, {"app"}, {}, gauge_mode::liveall);
    const auto busy = make("busy", metric_type::gauge, {}, {}, gauge_mode::livesum);
    std::vector<series_delta> d(3);
    d[0] = {&rss, {"api", "41"}, series_delta::kind::remove, 0, {}, 0, 0};
    d[1] = {&rss, {"api", "42"}, series_delta::kind::set, 7.5, {}, 0, 0, true, 1000};
    d[2] = {&busy, {}, series_delta::kind::set, 3, {}, 0, 0, true, 2000};
    d[0].live = true;
    const std::string stale[] = {"gone1", "gone2"};
    flush_request req;
    req.prefix = "svc";
    req.daemon_id = "d1";
    req.seq = 2;
    req.deltas = d;
    req.live_lease_ms = 9000;
    req.stale_daemons = stale;
    EXPECT_EQ(
        commands(plan_flush(req).bytes),
        (std::vector<strings>{
            {"MULTI"},
            {"HDEL", "svc-metricsd:live:d1", R"(rss {"app": "api", "pid": "41"})"},
            {"HSET", "svc-metricsd:live:d1", R"(rss {"app": "api", "pid": "42"})", "7.5 1000"},
            {"HSET", "svc-metricsd:live:d1", "busy {}", "3 2000"},
            {"PEXPIRE", "svc-metricsd:live:d1", "9000"},
            {"SADD", "svc-metricsd:daemons", "d1"},
            {"SREM", "svc-metricsd:daemons", "gone1", "gone2"},
            {"EXPIRE", "svc-metricsd:daemons", "3600"},
            {"SET", "svc-metricsd:flushseq:d1", "2", "EX", "604800"},
            {"EXEC"}}));

    // Keepalive alone renews the lease; the final flush deletes the key and leaves the set.
    flush_request keep;
    keep.daemon_id = "d1";
    keep.live_keepalive = true;
    const auto k = commands(plan_flush(keep).bytes);
    ASSERT_GE(k.size(), 3u);
    EXPECT_EQ(k[1], (strings{"PEXPIRE", "metricsd:live:d1", "15000"}));
    EXPECT_EQ(k[2], (strings{"SADD", "metricsd:daemons", "d1"}));
    flush_request retire;
    retire.daemon_id = "d1";
    retire.live_retire = true;
    const auto r = commands(plan_flush(retire).bytes);
    ASSERT_GE(r.size(), 3u);
    EXPECT_EQ(r[1], (strings{"DEL", "metricsd:live:d1"}));
    EXPECT_EQ(r[2], (strings{"SREM", "metricsd:daemons", "d1"}));
}

TEST(redis_flush, reads_live_keys_of_every_daemon_in_the_snapshot) {
    const auto busy = make("busy", metric_type::gauge, {"q"}, {}, gauge_mode::livesum);
    const family_spec* fams[] = {&busy};
    const std::string daemons[] = {"a", "b"};
    const auto plan = plan_scrape("", fams, daemons);
    EXPECT_EQ(commands(plan.bytes), (std::vector<strings>{{"MULTI"},
                                                          {"HGETALL", "busy"},
                                                          {"HGETALL", "metricsd:live:a"},
                                                          {"HGETALL", "metricsd:live:b"},
                                                          {"EXEC"}}));
    // a: one good field, one of a family not read, one malformed; b: gone (lease expired).
    const auto replies = replies_of("+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n*0\r\n"
                                    "*6\r\n$15\r\nbusy {\"q\": \"x\"}\r\n$6\r\n2 1234\r\n"
                                    "$8\r\nother {}\r\n$1\r\n1\r\n"
                                    "$9\r\nbusy {bad\r\n$1\r\n1\r\n"
                                    "*0\r\n");
    const auto r = parse_scrape(plan, fams, replies, daemons);
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.live.size(), 2u);
    EXPECT_TRUE(r.live[0].present);
    EXPECT_FALSE(r.live[1].present);
    EXPECT_EQ(r.live[0].families.at(0).at(strings{"x"}).value, 2);
    EXPECT_EQ(r.live[0].families.at(0).at(strings{"x"}).stamp_ms, 1234);
    EXPECT_EQ(r.malformed_fields, 1u);
}

TEST(redis_flush, refuses_deltas_redis_would_reject) {
    const families f;
    std::vector<series_delta> d(4);
    d[0] = {&f.jobs, {}, series_delta::kind::add, std::numeric_limits<double>::infinity(), {},
            0,       0};
    d[1] = {&f.jobs, {}, series_delta::kind::set, 1, {}, 0, 0};         // set on a counter
    d[2] = {&f.lat, {"GET"}, series_delta::kind::add, 0, {1, 1}, 1, 2}; // bucket count
    d[3] = {nullptr, {}, series_delta::kind::add, 1, {}, 0, 0};
    flush_request req;
    req.daemon_id = "d";
    req.seq = 1;
    req.expire_seconds = 60;
    req.deltas = d;
    const auto plan = plan_flush(req);
    EXPECT_EQ(plan.skipped, 4u);
    EXPECT_EQ(commands(plan.bytes),
              (std::vector<strings>{
                  {"MULTI"}, {"SET", "metricsd:flushseq:d", "1", "EX", "604800"}, {"EXEC"}}));
}

TEST(redis_flush, checks_transaction_replies) {
    using status = transaction_outcome::status;
    auto ok =
        check_transaction(replies_of("+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n$3\r\n1.5\r\n:1\r\n"), 2);
    EXPECT_EQ(ok.state, status::applied);
    EXPECT_EQ(ok.error_elements, 0u);
    const auto partial = check_transaction(
        replies_of("+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n-WRONGTYPE wrong kind\r\n:1\r\n"), 2);
    EXPECT_EQ(partial.state, status::applied);
    EXPECT_EQ(partial.error_elements, 1u);
    EXPECT_EQ(partial.first_error, "WRONGTYPE wrong kind");
    const auto nil = check_transaction(replies_of("+OK\r\n+QUEUED\r\n*-1\r\n"), 1);
    EXPECT_EQ(nil.state, status::aborted);
    const auto execabort = check_transaction(
        replies_of("+OK\r\n-ERR unknown command\r\n-EXECABORT Transaction discarded\r\n"), 1);
    EXPECT_EQ(execabort.state, status::aborted);
    EXPECT_EQ(execabort.first_error, "ERR unknown command");
    EXPECT_EQ(check_transaction(replies_of("+OK\r\n+QUEUED\r\n*1\r\n:1\r\n"), 2).state,
              status::unexpected); // too few replies
    EXPECT_EQ(check_transaction(replies_of("+OK\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n"), 1).state,
              status::unexpected); // EXEC array size differs
    EXPECT_EQ(check_transaction(replies_of("-NOAUTH\r\n+QUEUED\r\n*1\r\n:1\r\n"), 1).state,
              status::unexpected);
}

TEST(redis_flush, flushseq_probe) {
    EXPECT_EQ(commands(plan_flushseq_probe("svc", "d1")),
              (std::vector<strings>{{"GET", "svc-metricsd:flushseq:d1"}}));
    const auto probe = [](std::string_view resp, std::uint64_t seq) {
        return check_flushseq_probe(*replies_of(resp).at(0), seq);
    };
    EXPECT_EQ(probe("$1\r\n7\r\n", 7), flushseq_state::applied);
    EXPECT_EQ(probe("$1\r\n6\r\n", 7), flushseq_state::not_applied);
    EXPECT_EQ(probe("$-1\r\n", 7), flushseq_state::not_applied);
    EXPECT_EQ(probe("$1\r\n8\r\n", 7), flushseq_state::unknown);
    EXPECT_EQ(probe("$2\r\nx1\r\n", 7), flushseq_state::unknown);
    EXPECT_EQ(probe("-ERR no\r\n", 7), flushseq_state::unknown);
}

} // namespace
} // namespace metricsd::daemon

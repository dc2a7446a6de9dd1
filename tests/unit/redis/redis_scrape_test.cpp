// The read side: the snapshot pipeline and the parsing of its replies.
#include "daemon/redis/redis_layout.hpp"
#include "daemon/redis/redis_scrape.hpp"
#include "redis_support.hpp"

#include <gtest/gtest.h>

namespace metricsd::daemon {
namespace {

using test_support::make;
using test_support::replies_of;
using strings = std::vector<std::string>;
using protocol::metric_type;

std::string bulk(std::string_view s) {
    return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
std::string array(std::size_t n) {
    return "*" + std::to_string(n) + "\r\n";
}

struct scrape_families {
    family_spec requests = make("http_requests_total", metric_type::counter, {"method", "code"});
    family_spec jobs = make("jobs_total", metric_type::counter, {});
    family_spec lat = make("lat", metric_type::histogram, {"method"}, {"0.005", "0.5", "1"});
    family_spec sz = make("sz", metric_type::summary, {});
    std::vector<const family_spec*> all{&requests, &jobs, &lat, &sz};
};

TEST(redis_scrape, plan_reads_every_key_in_one_transaction) {
    const scrape_families f;
    const auto plan = plan_scrape("svc", f.all);
    std::string want = array(1) + bulk("MULTI");
    const auto cmd = [&want](std::string_view c, std::string_view key) {
        want += array(2) + bulk(c) + bulk(key);
    };
    cmd("HGETALL", "svc-http_requests_total");
    cmd("GET", "svc-jobs_total");
    for (const char* cell : {"0.005", "0.5", "1", "+Inf", "sum", "count"})
        cmd("HGETALL", std::string("svc-lat:") + cell);
    cmd("GET", "svc-sz:sum");
    cmd("GET", "svc-sz:count");
    want += array(1) + bulk("EXEC");
    EXPECT_EQ(plan.bytes, want);
    EXPECT_EQ(plan.queued, 10u);
    EXPECT_EQ(plan.replies, 12u);
    ASSERT_EQ(plan.slots.size(), 10u);
    EXPECT_EQ(plan.slots[5].family, 2u);
    EXPECT_EQ(plan.slots[5].cell, 3u);
}

TEST(redis_scrape, merges_key_orders_and_counts_bad_data) {
    const scrape_families f;
    const auto plan = plan_scrape("", f.all);
    const std::string get = R"({"method": "GET"})";
    std::string resp = "+OK\r\n";
    for (int i = 0; i < 10; ++i)
        resp += "+QUEUED\r\n";
    resp += array(10);
    resp += array(8) + bulk(R"({"method": "GET", "code": "200"})") + bulk("3") +
            bulk(R"({"code": "200", "method": "GET"})") + bulk("2") + bulk("200-GET") + bulk("1") +
            bulk(R"({"method": "POST", "code": "500"})") + bulk("abc");
    resp += "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    resp += array(2) + bulk(get) + bulk("1");
    resp += array(0);
    resp += array(2) + bulk(get) + bulk("3");
    resp += array(2) + bulk(get) + bulk("4");
    resp += array(2) + bulk(get) + bulk("3.7");
    resp += array(2) + bulk(get) + bulk("4");
    resp += bulk("10") + bulk("2");
    const auto replies = replies_of(resp);
    const auto r = parse_scrape(plan, f.all, replies);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.malformed_fields, 1u);
    EXPECT_EQ(r.bad_values, 1u);
    EXPECT_EQ(r.wrong_type_keys, 1u);
    ASSERT_EQ(r.families.size(), 4u);
    ASSERT_EQ(r.families[0].size(), 1u);
    EXPECT_EQ(r.families[0].at(strings{"GET", "200"}).value, 5);
    EXPECT_TRUE(r.families[1].empty());
    const auto& h = r.families[2].at(strings{"GET"});
    EXPECT_EQ(h.cumulative, (std::vector<double>{1, 0, 3, 4}));
    EXPECT_EQ(h.sum, 3.7);
    EXPECT_EQ(h.count, 4);
    const auto& s = r.families[3].at(strings{});
    EXPECT_EQ(s.sum, 10);
    EXPECT_EQ(s.count, 2);
}

TEST(redis_scrape, a_transaction_that_did_not_run_is_not_a_result) {
    const scrape_families f;
    const auto plan = plan_scrape("", f.all);
    EXPECT_FALSE(parse_scrape(plan, f.all, replies_of("+OK\r\n")).ok);
    const std::vector<const family_spec*> fewer{&f.requests};
    std::string resp = "+OK\r\n";
    for (int i = 0; i < 10; ++i)
        resp += "+QUEUED\r\n";
    resp += "*-1\r\n";
    EXPECT_FALSE(parse_scrape(plan, f.all, replies_of(resp)).ok);
    EXPECT_FALSE(parse_scrape(plan, fewer, replies_of(resp)).ok);
}

TEST(redis_scrape, metadata_hash) {
    const auto lat = make("lat", metric_type::histogram, {"method"}, {"0.005", "0.5", "1"});
    EXPECT_EQ(plan_meta_read("svc"), array(2) + bulk("HGETALL") + bulk("svc-metricsd:meta"));
    const auto replies =
        replies_of(array(6) + bulk("lat") + bulk(encode_family_meta(lat)) + bulk("broken") +
                   bulk("{") + bulk("a_total") + bulk(R"({"type": "counter"})"));
    const auto meta = parse_meta_reply(*replies.at(0));
    EXPECT_TRUE(meta.ok);
    EXPECT_EQ(meta.malformed, 1u);
    ASSERT_EQ(meta.families.size(), 2u);
    EXPECT_EQ(meta.families[0].name, "a_total");
    EXPECT_EQ(meta.families[1].name, "lat");
    EXPECT_EQ(meta.families[1].bucket_texts, lat.bucket_texts);
    EXPECT_FALSE(parse_meta_reply(*replies_of("-WRONGTYPE x\r\n").at(0)).ok);
}

} // namespace
} // namespace metricsd::daemon

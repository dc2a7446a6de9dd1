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
    // The other spelling of bound 1 (str(float): pytheus with float bounds, the Python client).
    cmd("HGETALL", "svc-lat:1.0");
    cmd("GET", "svc-sz:sum");
    cmd("GET", "svc-sz:count");
    want += array(1) + bulk("EXEC");
    EXPECT_EQ(plan.bytes, want);
    EXPECT_EQ(plan.queued, 11u);
    EXPECT_EQ(plan.replies, 13u);
    ASSERT_EQ(plan.slots.size(), 11u);
    EXPECT_EQ(plan.slots[5].family, 2u);
    EXPECT_EQ(plan.slots[5].cell, 3u);
    EXPECT_EQ(plan.slots[5].hint, 3u);
    EXPECT_EQ(plan.slots[8].family, 2u);
    EXPECT_EQ(plan.slots[8].cell, 2u) << "read into bound 1's cell";
    EXPECT_EQ(plan.slots[8].hint, 6u) << "with its own position hints";
}

TEST(redis_scrape, bound_spellings_are_the_texts_python_writers_give) {
    EXPECT_EQ(bound_spellings("1", 1), (std::vector<std::string>{"1", "1.0"}));
    EXPECT_EQ(bound_spellings("1.0", 1), (std::vector<std::string>{"1.0", "1"}));
    EXPECT_EQ(bound_spellings("1e0", 1), (std::vector<std::string>{"1e0", "1.0", "1"}));
    EXPECT_EQ(bound_spellings("0.005", 0.005), (std::vector<std::string>{"0.005"}));
    EXPECT_EQ(bound_spellings("2.5", 2.5), (std::vector<std::string>{"2.5"}));
    EXPECT_EQ(bound_spellings("10", 10), (std::vector<std::string>{"10", "10.0"}));
    EXPECT_EQ(bound_spellings("-1", -1), (std::vector<std::string>{"-1", "-1.0"}));
    EXPECT_EQ(bound_spellings(".00001", 1e-05), (std::vector<std::string>{".00001", "1e-05"}));
    EXPECT_EQ(bound_spellings("0.0001", 1e-4), (std::vector<std::string>{"0.0001"}));
    EXPECT_EQ(bound_spellings("1e16", 1e16),
              (std::vector<std::string>{"1e16", "1e+16", "10000000000000000"}));
    EXPECT_EQ(bound_spellings("1.5e-7", 1.5e-7), (std::vector<std::string>{"1.5e-7", "1.5e-07"}));
    // Python: str(123456.789) == '123456.789', str(1e15) == '1000000000000000.0'.
    EXPECT_EQ(bound_spellings("123456.789", 123456.789),
              (std::vector<std::string>{"123456.789"}));
    EXPECT_EQ(bound_spellings("1e15", 1e15),
              (std::vector<std::string>{"1e15", "1000000000000000.0", "1000000000000000"}));
}

TEST(redis_scrape, merges_key_orders_and_counts_bad_data) {
    const scrape_families f;
    const auto plan = plan_scrape("", f.all);
    const std::string get = R"({"method": "GET"})";
    std::string resp = "+OK\r\n";
    for (int i = 0; i < 11; ++i)
        resp += "+QUEUED\r\n";
    resp += array(11);
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
    resp += array(2) + bulk(get) + bulk("1"); // lat:1.0, added to lat:1
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
    EXPECT_EQ(h.cumulative, (std::vector<double>{1, 0, 4, 4}));
    EXPECT_EQ(h.sum, 3.7);
    EXPECT_EQ(h.count, 4);
    const auto& s = r.families[3].at(strings{});
    EXPECT_EQ(s.sum, 10);
    EXPECT_EQ(s.count, 2);
}

// The next scrape reads into the last one's tables: known fields keep their rows (whatever
// their order in the reply), a field that left Redis leaves the exposition, a new one gets a
// row, and no value of the earlier snapshot stays.
TEST(redis_scrape, a_recycled_table_keeps_its_rows_and_only_reads_the_numbers) {
    const auto requests =
        make("http_requests_total", metric_type::counter, {"method", "code"});
    const family_spec* fams[] = {&requests};
    const auto plan = plan_scrape("", fams);
    const std::string get = R"({"method": "GET", "code": "200"})";
    const std::string post = R"({"method": "POST", "code": "500"})";
    const std::string put = R"({"method": "PUT", "code": "201"})";
    const auto snapshot = [&](const std::vector<std::pair<std::string, std::string>>& fields) {
        std::string resp = "+OK\r\n+QUEUED\r\n" + array(1) + array(fields.size() * 2);
        for (const auto& [field, value] : fields)
            resp += bulk(field) + bulk(value);
        return resp;
    };
    auto first = parse_scrape(plan, fams, replies_of(snapshot({{get, "3"}, {post, "1"}})));
    ASSERT_TRUE(first.ok);
    ASSERT_EQ(first.families[0].rows(), 2u);
    table_pool pool;
    pool.emplace("http_requests_total", std::move(first.families[0]));

    // Another order, POST gone, PUT new, GET also spelled with its keys the other way round.
    const auto replies = replies_of(snapshot(
        {{put, "2"}, {R"({"code": "200", "method": "GET"})", "1"}, {get, "4"}}));
    const auto second = parse_scrape(plan, fams, replies, {}, &pool);
    ASSERT_TRUE(second.ok);
    EXPECT_TRUE(pool.empty()) << "the table was taken";
    const auto& t = second.families[0];
    EXPECT_EQ(t.rows(), 3u) << "GET and POST kept their rows, PUT got one";
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(t.at(strings{"GET", "200"}).value, 5);
    EXPECT_EQ(t.at(strings{"PUT", "201"}).value, 2);
    EXPECT_THROW(t.at(strings{"POST", "500"}), std::out_of_range);
}

// A table that no longer fits the family (redeclared with other labels) is not reused.
TEST(redis_scrape, a_table_of_another_declaration_is_not_recycled) {
    const auto old_decl = make("jobs_total", metric_type::counter, {"q"});
    const auto new_decl = make("jobs_total", metric_type::counter, {"queue"});
    table_pool pool;
    pool.emplace("jobs_total", table_for(old_decl));
    pool.at("jobs_total").add(pool.at("jobs_total").row_of_labels(strings{"a"}), 0, 9);
    const family_spec* fams[] = {&new_decl};
    const auto plan = plan_scrape("", fams);
    const auto r = parse_scrape(
        plan, fams,
        replies_of("+OK\r\n+QUEUED\r\n" + array(1) + array(2) + bulk(R"({"queue": "a"})") +
                   bulk("1")),
        {}, &pool);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.families[0].rows(), 1u);
    EXPECT_EQ(r.families[0].at(strings{"a"}).value, 1);
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

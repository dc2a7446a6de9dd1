// The compact store's parts: the flat hash index under collisions and churn, label interning
// with reuse of forgotten values, and a family's series order, lookups and addresses while
// series come and go (series expiry erasing, new series reusing their places).
#include "daemon/store/flat_index.hpp"
#include "daemon/store/label_pool.hpp"
#include "daemon/store/pointer_set.hpp"
#include "daemon/store/store.hpp"
#include "series_expiry_fixture.hpp"
#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace metricsd::test {
namespace {

using daemon::flat_index;
using protocol::metric_type;
using protocol::op_code;

TEST(flat_index, finds_every_id_through_collisions_and_backward_shift_erasure) {
    // Seven hash values for 3 000 ids: long probe chains that wrap around the table.
    const auto hash_of = [](std::uint32_t id) { return std::size_t{id % 7}; };
    flat_index index;
    for (std::uint32_t id = 0; id < 3000; ++id)
        index.insert(hash_of(id), id, hash_of);
    // Erase every id divisible by 3, in descending order (holes in mid-chain, then chain heads).
    for (std::uint32_t id = 2999 / 3 * 3 + 3; id >= 3;) {
        id -= 3;
        index.erase(hash_of(id), id, hash_of);
    }
    EXPECT_EQ(index.size(), 2000u);
    for (std::uint32_t id = 0; id < 3000; ++id) {
        const auto found =
            index.find(hash_of(id), [&](std::uint32_t candidate) { return candidate == id; });
        EXPECT_EQ(found, id % 3 == 0 ? flat_index::none : id) << id;
    }
    for (std::uint32_t id = 0; id < 3000; id += 3)
        index.insert(hash_of(id), id, hash_of);
    EXPECT_EQ(index.size(), 3000u);
    for (std::uint32_t id = 0; id < 3000; ++id)
        EXPECT_EQ(index.find(hash_of(id), [&](std::uint32_t c) { return c == id; }), id) << id;
    // 3 000 ids at most 3/4 full: 4 096 slots of 4 bytes.
    EXPECT_EQ(index.bytes(), 4096u * 4);
}

TEST(pointer_set, holds_each_pointer_once_and_walks_them_all) {
    std::vector<int> targets(1000);
    daemon::pointer_set<int> set;
    for (auto& t : targets)
        EXPECT_TRUE(set.insert(&t));
    for (auto& t : targets)
        EXPECT_FALSE(set.insert(&t)) << "already there";
    EXPECT_EQ(set.size(), 1000u);
    set.for_each([](int* p) { ++*p; });
    EXPECT_EQ(std::count(targets.begin(), targets.end(), 1), 1000);
}

TEST(label_pool, one_id_per_value_forgotten_with_its_last_user_and_reused) {
    daemon::label_pool pool;
    const auto get = pool.acquire("GET");
    const auto post = pool.acquire("POST");
    EXPECT_NE(get, post);
    EXPECT_EQ(pool.acquire("GET"), get);
    EXPECT_EQ(pool.size(), 2u);
    pool.release(get);
    EXPECT_EQ(pool.find("GET"), get) << "one series still uses it";
    pool.release(get);
    EXPECT_EQ(pool.find("GET"), flat_index::none);
    EXPECT_EQ(pool.size(), 1u);
    const std::string long_value(300, 'x');
    EXPECT_EQ(pool.acquire(long_value), get) << "a forgotten value's id is reused";
    EXPECT_EQ(pool.value(get), long_value);
    EXPECT_EQ(pool.value(post), "POST");
    EXPECT_EQ(pool.find("POST"), post);
}

TEST(family_storage, series_render_in_label_value_order_whatever_the_declaration_order) {
    daemon::store s;
    const auto w = s.add_worker(1);
    const auto* f = must_declare(s, {"req_total", metric_type::counter, "", {"method", "path"}});
    int n = 0;
    for (const auto& [m, p] : std::vector<std::pair<std::string_view, std::string_view>>{
             {"POST", "/b"}, {"GET", "/b"}, {"POST", "/a"}, {"GET", "/a"}, {"DELETE", "/a"}})
        EXPECT_EQ(s.apply(bind(s, f, {m, p}, w), op_code::inc, ++n), daemon::apply_status::ok);
    EXPECT_EQ(samples(s, "req_total"), "req_total{method=\"DELETE\",path=\"/a\"} 5\n"
                                       "req_total{method=\"GET\",path=\"/a\"} 4\n"
                                       "req_total{method=\"GET\",path=\"/b\"} 2\n"
                                       "req_total{method=\"POST\",path=\"/a\"} 3\n"
                                       "req_total{method=\"POST\",path=\"/b\"} 1\n");
    // A series added after a walk goes to its place, not to the end.
    EXPECT_EQ(s.apply(bind(s, f, {"GET", "/c"}, w), op_code::inc, 6), daemon::apply_status::ok);
    EXPECT_EQ(samples(s, "req_total"), "req_total{method=\"DELETE\",path=\"/a\"} 5\n"
                                       "req_total{method=\"GET\",path=\"/a\"} 4\n"
                                       "req_total{method=\"GET\",path=\"/b\"} 2\n"
                                       "req_total{method=\"GET\",path=\"/c\"} 6\n"
                                       "req_total{method=\"POST\",path=\"/a\"} 3\n"
                                       "req_total{method=\"POST\",path=\"/b\"} 1\n");
    const auto range = f->all_series();
    EXPECT_EQ(range.size(), 6u);
    EXPECT_EQ(range.at({"GET", "/c"}).value, 6);
    EXPECT_EQ(range.find({"GET", "/d"}), range.end());
    EXPECT_EQ(range.find({"PUT", "/a"}), range.end()) << "a value no series has";
    std::vector<std::string> values;
    f->copy_label_values(range.at({"POST", "/a"}), values);
    EXPECT_EQ(values, (std::vector<std::string>{"POST", "/a"}));
}

TEST(family_storage, erased_series_free_their_place_and_values_for_new_ones_in_order) {
    daemon::store s;
    s.set_series_ttl({std::chrono::seconds(10), {}});
    const auto* f = must_declare(s, {"jobs_total", metric_type::counter, "", {"queue", "id"}});
    // 200 series from short-lived workers (unbound once they retire, so expiry erases them),
    // then 100 more that stay bound and busy.
    const auto temp = s.add_worker(1);
    for (int i = 0; i < 200; ++i)
        s.apply(bind(s, f, {"q" + std::to_string(i % 5), "old" + std::to_string(i)}, temp),
                op_code::inc, 1);
    s.retire_worker(temp);
    const auto keep = s.add_worker(2);
    std::vector<daemon::binding> kept;
    for (int i = 0; i < 100; ++i)
        kept.push_back(bind(s, f, {"q" + std::to_string(i % 5), "k" + std::to_string(i)}, keep));
    const daemon::series* first_kept = kept.front().target;
    s.expire_idle_series(at(0));
    for (const auto& b : kept)
        s.apply(b, op_code::inc, 2);
    EXPECT_EQ(s.expire_idle_series(at(10)), 200u);
    EXPECT_EQ(s.series_count(), 100u);
    EXPECT_EQ(f->all_series().size(), 100u);
    EXPECT_EQ(f->all_series().find({"q0", "old0"}), f->all_series().end());
    // New series take the erased places; the kept ones have not moved.
    const auto fresh = s.add_worker(3);
    for (int i = 0; i < 150; ++i)
        s.apply(bind(s, f, {"q" + std::to_string(i % 5), "new" + std::to_string(i)}, fresh),
                op_code::inc, 3);
    EXPECT_EQ(&f->all_series().at({"q0", "k0"}), first_kept);
    EXPECT_EQ(s.series_count(), 250u);
    // Every series once, in label-value order, each with its own values and total.
    std::vector<std::string> walked;
    for (const auto& [values, ser] : f->all_series()) {
        ASSERT_EQ(values.size(), 2u);
        const std::string id(values[1]);
        EXPECT_EQ(ser.value, id.starts_with("k") ? 2 : 3) << id;
        EXPECT_EQ(std::string(values[0]), "q" + std::to_string(std::stoi(id.substr(
                                                        id.starts_with("k") ? 1 : 3)) % 5));
        walked.push_back(std::string(values[0]) + "," + id);
    }
    ASSERT_EQ(walked.size(), 250u);
    EXPECT_TRUE(std::is_sorted(walked.begin(), walked.end()));
    EXPECT_EQ(std::adjacent_find(walked.begin(), walked.end()), walked.end());
}

TEST(family_storage, series_stay_put_while_the_family_grows) {
    daemon::store s;
    const auto w = s.add_worker(1);
    const auto* f = must_declare(s, {"big_total", metric_type::counter, "", {"a", "b"}});
    std::vector<daemon::binding> bindings;
    for (int i = 0; i < 5000; ++i)
        bindings.push_back(
            bind(s, f, {"a" + std::to_string(i % 50), "b" + std::to_string(i / 50)}, w));
    for (int i = 0; i < 5000; ++i) {
        s.apply(bindings[static_cast<std::size_t>(i)], op_code::inc, i);
        // A later declaration of the same values finds the same series.
        EXPECT_EQ(bind(s, f, {"a" + std::to_string(i % 50), "b" + std::to_string(i / 50)}, w)
                      .target,
                  bindings[static_cast<std::size_t>(i)].target);
    }
    for (int i = 0; i < 5000; ++i)
        EXPECT_EQ(f->all_series()
                      .at({"a" + std::to_string(i % 50), "b" + std::to_string(i / 50)})
                      .value,
                  i);
    EXPECT_EQ(s.series_count(), 5000u);
}

} // namespace
} // namespace metricsd::test

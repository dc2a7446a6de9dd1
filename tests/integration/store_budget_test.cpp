// The store's byte budget (max_store_bytes) against the real daemon: one client creating
// series until the budget is spent gets total_series_limit for each series beyond it, and
// nothing else changes: its own earlier series and another worker's keep counting exactly.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace metricsd::test {
namespace {

using protocol::error_code;
using protocol::frame_type;
using protocol::metric_type;
using protocol::op_code;

TEST(store_budget, series_over_the_budget_are_refused_to_that_client_and_nothing_else) {
    constexpr std::size_t budget = 1 << 20;
    constexpr std::uint32_t asked = 8000;
    // A counter series with one 6-byte label value: 96 + 8 (store_cost.hpp) + 51 (the value).
    constexpr std::size_t per_series = 155;
    temp_dir dir;
    daemon_process d(dir, {"--max-store-bytes", std::to_string(budget)});

    raw_client other(d.socket_path());
    other.send(hello() + family(0, "jobs_total", metric_type::counter, {"queue"}) +
               series(0, 0, {"mail"}) + ops({{op_code::inc, 0, 5}}));
    ASSERT_EQ(other.sync(1).size(), 2u); // WELCOME, ACK

    raw_client filler(d.socket_path());
    filler.send(hello() + family(0, "filler_total", metric_type::counter, {"id"}));
    ASSERT_EQ(filler.sync(1).size(), 2u);
    const double before = sample_value(d.scrape(), "metricsd_store_bytes");
    const std::size_t fits = (budget - static_cast<std::size_t>(before)) / per_series;
    ASSERT_LT(fits, asked);

    std::string frames;
    std::vector<std::string> ids(asked);
    for (std::uint32_t h = 0; h < asked; ++h) {
        char id[8];
        std::snprintf(id, sizeof id, "%06u", h);
        ids[h] = id;
        frames += series(h, 0, {ids[h]});
    }
    // One inc on every handle: the refused ones are dropped silently (already told).
    std::vector<protocol::op_record> all;
    for (std::uint32_t h = 0; h < asked; ++h)
        all.push_back({op_code::inc, h, 1});
    filler.send(frames);
    filler.send(ops(all));
    const auto replies = filler.sync(2);
    ASSERT_EQ(replies.size(), asked - fits + 1);
    const std::size_t used = static_cast<std::size_t>(before) + fits * per_series;
    for (std::size_t i = 0; i < asked - fits; ++i) {
        ASSERT_EQ(replies[i].type, frame_type::error);
        EXPECT_EQ(replies[i].code, error_code::total_series_limit);
        EXPECT_EQ(replies[i].handle, fits + i);
        EXPECT_EQ(replies[i].message, "a new series of 'filler_total' needs 155 bytes; the store holds " +
                                          std::to_string(used) + " of its 1048576 "
                                          "(max_store_bytes)");
    }
    EXPECT_EQ(replies.back().type, frame_type::ack);

    // The other worker's series keeps counting; a new series of its own is refused too.
    other.send(ops({{op_code::inc, 0, 2}}) + series(1, 0, {"sms"}));
    const auto other_replies = other.sync(2);
    ASSERT_EQ(other_replies.size(), 2u);
    EXPECT_EQ(other_replies[0].code, error_code::total_series_limit);
    EXPECT_EQ(other_replies[0].handle, 1u);

    const auto text = d.scrape();
    EXPECT_EQ(sample_value(text, "jobs_total{queue=\"mail\"}"), 7);
    EXPECT_EQ(sample_value(text, "filler_total{id=\"000000\"}"), 1);
    EXPECT_EQ(sample_value(text, "filler_total{id=\"" + ids[fits - 1] + "\"}"), 1);
    EXPECT_TRUE(std::isnan(sample_value(text, "filler_total{id=\"" + ids[fits] + "\"}")));
    EXPECT_EQ(sample_value(text, "metricsd_series"), 1 + fits);
    EXPECT_EQ(sample_value(text, "metricsd_store_bytes"), used);
    EXPECT_EQ(sample_value(text, "metricsd_store_max_bytes"), budget);
    EXPECT_EQ(sample_value(text, "metricsd_store_budget_refusals_total"), asked - fits + 1);
    EXPECT_EQ(sample_value(text, "metricsd_ingest_errors_total{code=\"total_series_limit\"}"),
              asked - fits + 1);
    EXPECT_EQ(sample_value(text, "metricsd_ingest_ops_dropped_total"), asked - fits);
    const auto log = d.process().log();
    EXPECT_EQ(occurrences(log, "new series refused, the store's byte budget is spent"), 1u)
        << log;
    EXPECT_EQ(d.stop(), 0);
}

} // namespace
} // namespace metricsd::test

// Issue 11 item 1, against the real daemon: handles far above what a connection declared must
// not grow its handle tables. A 44-byte DECLARE_SERIES naming series handle 1 048 575 for a
// family never declared used to cost +32 MiB RSS per connection (and the largest family handle
// another ~1 MiB); now each costs one sparse entry.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace metricsd::test {
namespace {

using protocol::error_code;
using protocol::frame_type;
using protocol::metric_type;
using protocol::op_code;

TEST(handle_memory, largest_handles_do_not_grow_the_daemon) {
    constexpr int connections = 8; // the old code: +8 x 33 MiB; the bound below: < 4 MiB
    constexpr std::uint32_t top_series = protocol::limits::max_series_handle;
    constexpr std::uint32_t top_family = protocol::limits::max_family_handle;
    temp_dir dir;
    daemon_process d(dir);

    // Open every connection and finish its handshake first, so the baseline already holds the
    // sessions' own buffers and only the handle tables can account for growth.
    std::vector<std::unique_ptr<raw_client>> clients;
    for (int i = 0; i < connections; ++i) {
        clients.push_back(std::make_unique<raw_client>(d.socket_path()));
        clients.back()->send(hello());
        auto r = clients.back()->sync(1);
        ASSERT_EQ(r.back().type, frame_type::ack);
    }
    const long before = rss_kib(d.process().pid());

    for (int i = 0; i < connections; ++i) {
        auto& c = *clients[static_cast<std::size_t>(i)];
        // The attack: the largest series handle on a family never declared (44 bytes).
        c.send(series(top_series, 7));
        // And the largest handles of each kind, legitimately bound and used.
        const std::string value = std::to_string(i);
        c.send(family(top_family, "top_handles_total", metric_type::counter, {"conn"}) +
               series(top_series - 1, top_family, {value}) +
               ops({{op_code::inc, top_series - 1, 3}, {op_code::inc, top_series, 1}}));
        auto r = c.sync(2);
        ASSERT_EQ(r.size(), 2u) << i;
        EXPECT_EQ(r[0].type, frame_type::error);
        EXPECT_EQ(r[0].code, error_code::unknown_family);
        EXPECT_EQ(r[0].handle, top_series);
        EXPECT_EQ(r[0].message, "family handle 7 was never declared");
        EXPECT_EQ(r[1].type, frame_type::ack);
        EXPECT_EQ(r[1].token, 2u);
    }
    const long after = rss_kib(d.process().pid());
    std::printf("VmRSS %ld KiB -> %ld KiB over %d connections\n", before, after, connections);
    EXPECT_LT(after - before, 4 * 1024) << "VmRSS " << before << " KiB -> " << after << " KiB";

    const auto text = d.scrape();
    for (int i = 0; i < connections; ++i)
        EXPECT_EQ(sample_value(text, "top_handles_total{conn=\"" + std::to_string(i) + "\"}"), 3);
    EXPECT_EQ(d.stop(), 0);
}

} // namespace
} // namespace metricsd::test

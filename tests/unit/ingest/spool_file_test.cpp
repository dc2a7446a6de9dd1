#include "daemon/ingest/spool_file.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/protocol/encoder.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;
using protocol::op_code;

/// A spool file from `pid`: the header, the handshake, one counter with two incs.
std::string spool_file(std::int64_t pid) {
    std::string b(spool_magic);
    for (int i = 0; i < 8; ++i)
        b.push_back(static_cast<char>((static_cast<std::uint64_t>(pid) >> (8 * i)) & 0xff));
    protocol::encode(b, protocol::handshake{});
    protocol::encode(b, protocol::family_decl{0, metric_type::counter,
                                              protocol::gauge_mode::livesum, "jobs_total", "",
                                              {}, {}});
    protocol::encode(b, protocol::series_decl{0, 0, {}});
    const std::vector<protocol::op_record> ops{{op_code::inc, 0, 2}, {op_code::inc, 0, 3}};
    protocol::encode_ops(b, ops);
    return b;
}

bool has_family(const store& s, std::string_view name) {
    return s.families().find(name) != s.families().end();
}

TEST(spool_file, applies_a_whole_file_as_a_connection_from_its_pid) {
    store s;
    const auto r = apply_spool(s, spool_file(4242), ingest_limits{});
    ASSERT_EQ(r.verdict, spool_verdict::applied) << r.reason;
    EXPECT_EQ(r.pid, 4242);
    EXPECT_EQ(r.stats.ops_applied, 2u);
    const auto& fam = *s.families().find("jobs_total")->second;
    EXPECT_EQ(fam.all_series().find(std::vector<std::string>{})->second.value, 5);
}

TEST(spool_file, a_truncated_file_applies_nothing) {
    const std::string whole = spool_file(7);
    for (std::size_t cut : {whole.size() - 1, whole.size() - 16, std::size_t{20}}) {
        store s;
        const auto r = apply_spool(s, std::string_view(whole).substr(0, cut), ingest_limits{});
        EXPECT_EQ(r.verdict, spool_verdict::bad_stream) << cut;
        EXPECT_FALSE(has_family(s, "jobs_total")) << cut;
    }
}

TEST(spool_file, a_bad_frame_after_good_ones_applies_nothing) {
    store s;
    std::string b = spool_file(7);
    b += std::string("\x04\x00\x00\x00\x7f\x00\x00\x00garb", 12); // unknown frame type 0x7f
    const auto r = apply_spool(s, b, ingest_limits{});
    EXPECT_EQ(r.verdict, spool_verdict::bad_stream);
    EXPECT_FALSE(has_family(s, "jobs_total"));
}

TEST(spool_file, headers_of_files_that_are_not_spool_files_are_refused) {
    store s;
    EXPECT_EQ(apply_spool(s, "", ingest_limits{}).verdict, spool_verdict::bad_header);
    std::string wrong_magic = spool_file(7);
    wrong_magic[0] = 'X';
    EXPECT_EQ(apply_spool(s, wrong_magic, ingest_limits{}).verdict, spool_verdict::bad_header);
    for (std::int64_t pid : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1} << 40}) {
        const auto r = apply_spool(s, spool_file(pid), ingest_limits{});
        EXPECT_EQ(r.verdict, spool_verdict::bad_header) << pid;
        EXPECT_EQ(r.reason, "impossible pid " + std::to_string(pid));
    }
    EXPECT_FALSE(has_family(s, "jobs_total"));
}

} // namespace
} // namespace metricsd::daemon

#include "daemon/http/gzip.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <zlib.h>

namespace metricsd::test {
namespace {

/// Independent decoder: zlib's inflate with the gzip wrapper only (15 + 16), so a zlib or raw
/// deflate stream would fail here.
bool gunzip(const std::string& in, std::string& out) {
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 16) != Z_OK) {
        return false;
    }
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    char chunk[4096];
    int rc = Z_OK;
    out.clear();
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(chunk);
        zs.avail_out = sizeof chunk;
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(chunk, sizeof chunk - zs.avail_out);
    }
    const bool ok = rc == Z_STREAM_END && zs.avail_in == 0; // no trailing bytes either
    inflateEnd(&zs);
    return ok;
}

std::string exposition_like(std::size_t series) {
    std::string s = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n";
    for (std::size_t i = 0; i < series; ++i) {
        s += "http_requests_total{code=\"" + std::to_string(200 + i % 5) + "\",path=\"/p" +
             std::to_string(i) + "\"} " + std::to_string(i * 7919) + "\n";
    }
    return s;
}

TEST(gzip_stream, slices_of_every_size_make_one_member_equal_to_the_input) {
    const std::string in = exposition_like(3000);
    for (const std::size_t slice : {std::size_t{1000}, std::size_t{65536}, in.size()}) {
        daemon::gzip_stream gz;
        std::string packed;
        std::size_t max_growth = 0;
        for (std::size_t at = 0; at < in.size();) {
            const std::size_t n = std::min(slice, in.size() - at);
            const std::size_t before = packed.size();
            ASSERT_TRUE(gz.write(std::string_view(in).substr(at, n), at + n == in.size(), packed));
            max_growth = std::max(max_growth, packed.size() - before);
            at += n;
        }
        std::string out;
        ASSERT_TRUE(gunzip(packed, out)) << "slice " << slice;
        EXPECT_EQ(out, in);
        // Output is emitted as the input goes: no slice adds more than a slice's worth.
        EXPECT_LE(max_growth, std::max<std::size_t>(slice, 64 * 1024) + 64) << "slice " << slice;
    }
}

TEST(gzip_stream, an_empty_last_slice_ends_the_member) {
    daemon::gzip_stream gz;
    std::string packed;
    ASSERT_TRUE(gz.write("up 1\n", false, packed));
    ASSERT_TRUE(gz.write("", true, packed));
    std::string out;
    ASSERT_TRUE(gunzip(packed, out));
    EXPECT_EQ(out, "up 1\n");
}

TEST(gzip, round_trip) {
    const std::string in = exposition_like(5000);
    std::string gz;
    ASSERT_TRUE(daemon::gzip_compress(in, gz));
    ASSERT_GE(gz.size(), 18u);
    EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f); // gzip magic
    EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
    EXPECT_LT(gz.size(), in.size() / 4);
    std::string back;
    ASSERT_TRUE(gunzip(gz, back));
    EXPECT_EQ(back, in);
}

TEST(gzip, empty_input_is_a_valid_empty_member) {
    std::string gz = "stale";
    ASSERT_TRUE(daemon::gzip_compress("", gz));
    std::string back = "x";
    ASSERT_TRUE(gunzip(gz, back));
    EXPECT_TRUE(back.empty());
}

TEST(gzip, incompressible_input_round_trips) {
    // Random bytes expand slightly: exercises the output-growing path's bound.
    std::mt19937 rng(42);
    std::string in(200'000, '\0');
    for (char& c : in) {
        c = static_cast<char>(rng());
    }
    std::string gz;
    ASSERT_TRUE(daemon::gzip_compress(in, gz));
    std::string back;
    ASSERT_TRUE(gunzip(gz, back));
    EXPECT_EQ(back, in);
}

TEST(gzip, every_level_round_trips) {
    const std::string in = exposition_like(300);
    for (int level = 0; level <= 9; ++level) {
        std::string gz;
        std::string back;
        ASSERT_TRUE(daemon::gzip_compress(in, gz, level)) << level;
        ASSERT_TRUE(gunzip(gz, back)) << level;
        EXPECT_EQ(back, in) << level;
    }
}

TEST(gzip, invalid_level_fails_without_throwing) {
    std::string gz = "stale";
    EXPECT_FALSE(daemon::gzip_compress("abc", gz, 42));
    EXPECT_TRUE(gz.empty());
}

} // namespace
} // namespace metricsd::test

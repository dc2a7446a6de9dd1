// Snapshots in pieces: the encoder's pieces make exactly encode_state's body at every piece
// size, a store changing between pieces still gives a valid file, and a snapshot whose header
// length was guessed wrong starts over and writes the same bytes.
#include "daemon/persistence/state_codec.hpp"
#include "daemon/persistence/state_file.hpp"
#include "daemon/persistence/state_format.hpp"
#include "daemon/store/store.hpp"
#include "series_expiry_fixture.hpp"
#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;
using protocol::op_code;
using test::bind;
using test::must_declare;
namespace fs = std::filesystem;

const state_metadata meta{1'700'000'000, "host-a", "0123456789abcdef"};

void build(store& s, int series) {
    const auto w = s.add_worker(7);
    const auto* c = must_declare(s, {"a_total", metric_type::counter, "A.", {"k"}});
    const auto* g = must_declare(s, {"b_gauge", metric_type::gauge, "not kept"});
    const auto* h = must_declare(s, {"c_seconds", metric_type::histogram, "", {"k"}, {"1", "2"}});
    const auto* e = must_declare(s, {"d_total", metric_type::counter, "Empty."});
    (void)e;
    s.apply(bind(s, g, {}, w), op_code::set, 3);
    for (int i = 0; i < series; ++i) {
        const std::string k = "v" + std::to_string(i);
        s.apply(bind(s, c, {k}, w), op_code::inc, i + 0.5);
        s.apply(bind(s, h, {k}, w), op_code::observe, i);
    }
    s.retire_worker(w);
}

std::string body_of(const std::string& file) {
    return file.substr(file.find('\n') + 1);
}

TEST(state_encoder, pieces_of_every_size_make_the_whole_body) {
    store s;
    build(s, 12);
    const std::string body = body_of(encode_state(s, meta));
    for (std::size_t budget = 1; budget <= body.size() + 1; ++budget) {
        state_encoder enc(s, meta);
        std::string joined, piece;
        std::size_t pieces = 0;
        for (bool more = true; more; ++pieces) {
            piece.clear();
            more = enc.next(piece, budget);
            joined += piece;
        }
        ASSERT_EQ(joined, body) << "budget " << budget;
        if (budget == 1) {
            // The preamble; per family its header, one per series, its end; the body's end.
            EXPECT_EQ(pieces, 1u + (1 + 12 + 1) + (1 + 12 + 1) + (1 + 0 + 1) + 1);
        }
    }
}

TEST(state_encoder, a_store_changing_between_pieces_gives_a_valid_body_with_each_series_once) {
    store s;
    series_ttl_policy ttl;
    ttl.default_ttl = std::chrono::seconds(10);
    s.set_series_ttl(ttl);
    build(s, 20);
    s.expire_idle_series(test::at(0));
    const auto* c = s.families().at("a_total").get();
    state_encoder enc(s, meta);
    std::string body, piece;
    bool more = true;
    for (int step = 0; more; ++step) {
        piece.clear();
        more = enc.next(piece, 1);
        body += piece;
        if (step == 3) {
            // Behind the cursor ("v0" sorts first) and ahead of it ("zz"), and a whole family.
            const auto w = s.add_worker(8);
            s.apply(bind(s, c, {"v0a"}, w), op_code::inc, 1);
            s.apply(bind(s, c, {"zz"}, w), op_code::inc, 2);
            s.apply(bind(s, must_declare(s, {"e_total", metric_type::counter}), {}, w),
                    op_code::inc, 3);
            s.retire_worker(w);
        }
        if (step == 6)
            s.expire_idle_series(test::at(11)); // every series of the first fill goes
    }
    store restored;
    const std::string file = detail::state_header(detail::state_crc32(body), body.size()) + body;
    const auto r = restore_state(file, restored);
    ASSERT_TRUE(r) << r.error;
    const auto& a = restored.families().at("a_total")->all_series();
    EXPECT_NE(a.find(std::vector<std::string>{"zz"}), a.end()) << "created ahead: written";
    EXPECT_EQ(a.find(std::vector<std::string>{"v0a"}), a.end()) << "created behind: next time";
    EXPECT_EQ(restored.families().count("e_total"), 1u);
    EXPECT_GT(r.series, 0u);
    EXPECT_LT(r.series, 2u * 20 + 2) << "erased series are not written";
}

class stream_dir : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("metricsd-stream-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

TEST_F(stream_dir, a_wrong_header_guess_starts_over_and_writes_encode_states_bytes) {
    store s;
    build(s, 3000); // a body over 100 KB: six digits, where the old file's guess says one
    const auto path = (dir_ / "state").string();
    std::ofstream(path) << "x";
    net::io_context ioc;
    snapshotter snap(ioc, s, path, std::chrono::seconds(0));
    ASSERT_TRUE(snap.write_now()) << snap.stats().last_error;
    const std::string file = read_all(path);
    store restored;
    const auto r = restore_state(file, restored);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(encode_state(s, r.meta), file) << "byte for byte what encode_state writes";
    EXPECT_EQ(fs::directory_iterator(dir_)->path().filename(), "state");
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1)
        << "no temporary file left";
}

TEST_F(stream_dir, a_periodic_snapshot_lets_the_loop_run_between_its_slices) {
    store s;
    build(s, 10'000); // ~1 MB of text: several 256 KiB slices
    const auto path = (dir_ / "state").string();
    const auto tmp = path + ".tmp-" + std::to_string(::getpid());
    net::io_context ioc;
    snapshotter snap(ioc, s, path, std::chrono::seconds(1));
    snap.start();
    std::size_t turns_during_snapshot = 0;
    // Another handler on the loop, as ingest would be: it runs while the temporary file exists.
    std::function<void()> tick = [&] {
        if (fs::exists(tmp))
            ++turns_during_snapshot;
        if (snap.stats().last_success_seconds == 0)
            net::post(ioc, tick);
        else
            snap.stop();
    };
    net::post(ioc, tick);
    ioc.run_for(std::chrono::seconds(8));
    ASSERT_GT(snap.stats().last_success_seconds, 0) << snap.stats().last_error;
    EXPECT_GE(turns_during_snapshot, 3u);
    store restored;
    const auto r = restore_state(read_all(path), restored);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.series, 2u * 10'000);
}

} // namespace
} // namespace metricsd::daemon

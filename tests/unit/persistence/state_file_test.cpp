// State file: exact round trips, and every kind of damage refused without touching the store;
// atomic replacement and setting aside on a real directory.
#include "daemon/persistence/atomic_file.hpp"
#include "daemon/exposition/store_exposition.hpp"
#include "daemon/persistence/state_codec.hpp"
#include "daemon/store/store.hpp"
#include "series_expiry_fixture.hpp"
#include "store_fixture.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <zlib.h>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;
using protocol::op_code;
using test::bind;
using test::declare;
using test::samples;
using test::at;
namespace fs = std::filesystem;

const state_metadata meta{1'700'000'000, "host-a", "0123456789abcdef"};

/// Counters, histograms and summaries with awkward values, plus a gauge that must not persist.
void build_awkward(store& s) {
    const auto w = s.add_worker(42);
    const auto c = declare(s, {"jobs_total", metric_type::counter, "Jobs.", {"queue"}}).value();
    s.apply(bind(s, c, {"a\"b\\c\n"}, w), op_code::inc, 0.1);
    s.apply(bind(s, c, {"a\"b\\c\n"}, w), op_code::inc, 0.2); // 0.30000000000000004
    s.apply(bind(s, c, {"ünïcode"}, w), op_code::inc, 9007199254740993.0);
    s.apply(bind(s, c, {""}, w), op_code::inc, 0);
    const auto h = declare(s, {"lat", metric_type::histogram, "", {}, {"0.005", "1e-05", "1.0"}});
    ASSERT_FALSE(h) << "bounds must increase";
    const auto hist =
        declare(s, {"lat_seconds", metric_type::histogram, "L.", {"r"}, {"1e-05", "0.1", "1.0"}})
            .value();
    const auto hb = bind(s, hist, {"/"}, w);
    for (double v : {0.0, 1e-06, 0.05, 0.1, 0.7, 3.0, 1e300})
        s.apply(hb, op_code::observe, v);
    const auto inf_sum = bind(s, hist, {"inf"}, w);
    s.apply(inf_sum, op_code::observe, INFINITY);
    const auto nan_sum = bind(s, hist, {"nan"}, w);
    s.apply(nan_sum, op_code::observe, INFINITY);
    s.apply(nan_sum, op_code::observe, -INFINITY); // sum becomes NaN
    const auto sum = declare(s, {"size_bytes", metric_type::summary, "S."}).value();
    const auto sb = bind(s, sum, {}, w);
    s.apply(sb, op_code::observe, -2.5);
    s.apply(sb, op_code::observe, 1e-320); // subnormal
    const auto g = declare(s, {"in_flight", metric_type::gauge, "G."}).value();
    s.apply(bind(s, g, {}, w), op_code::set, 5);
    s.retire_worker(w);
}

/// Bit-identical, except that every NaN equals every NaN (its sign and payload carry nothing:
/// inf + -inf gives -NaN on x86, and every NaN is exposed as "NaN").
bool same_bits(double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

void expect_same_durable_state(const store& a, const store& b) {
    std::size_t compared = 0;
    for (const auto& [name, fa] : a.families()) {
        if (fa->spec().type == metric_type::gauge) {
            EXPECT_EQ(b.families().count(name), 0u) << name << ": gauges are not persisted";
            continue;
        }
        const auto& fb = *b.families().at(name);
        EXPECT_EQ(fb.spec().help, fa->spec().help);
        EXPECT_EQ(fb.spec().label_names, fa->spec().label_names);
        EXPECT_EQ(fb.spec().bucket_texts, fa->spec().bucket_texts);
        ASSERT_EQ(fb.all_series().size(), fa->all_series().size()) << name;
        for (const auto& [values, sa] : fa->all_series()) {
            const auto& sb = fb.all_series().at(values);
            EXPECT_TRUE(same_bits(sa.value, sb.value)) << name;
            if (fa->spec().type == metric_type::summary) {
                EXPECT_TRUE(same_bits(sa.summary().sum, sb.summary().sum)) << name;
                EXPECT_TRUE(same_bits(sa.summary().count, sb.summary().count)) << name;
            }
            if (fa->spec().type == metric_type::histogram) {
                EXPECT_TRUE(same_bits(sa.histogram().sum, sb.histogram().sum)) << name;
                EXPECT_TRUE(same_bits(sa.histogram().count, sb.histogram().count)) << name;
                EXPECT_EQ(sa.histogram().counts, sb.histogram().counts) << name;
            }
            ++compared;
        }
        std::string ra, rb;
        render_family(*fa, exposition_format::text, ra);
        render_family(fb, exposition_format::text, rb);
        EXPECT_EQ(ra, rb);
    }
    EXPECT_GT(compared, 0u);
}

void expect_untouched(const store& s) {
    EXPECT_TRUE(s.families().empty());
    EXPECT_EQ(s.series_count(), 0u);
    EXPECT_EQ(s.live_workers(), 0u);
}

std::string awkward_state() {
    store s;
    build_awkward(s);
    return encode_state(s, meta);
}

/// A header with a correct checksum around any body: damage that the checksum cannot see.
std::string with_header(const std::string& body, int version = state_format_version) {
    const auto crc =
        crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    char header[96];
    std::snprintf(header, sizeof header, "metricsd-state %d crc32=%08lx bytes=%zu\n", version, crc,
                  body.size());
    return header + body;
}

std::string restore_error(const std::string& bytes) {
    store s;
    const auto r = restore_state(bytes, s);
    EXPECT_FALSE(r);
    expect_untouched(s);
    return r.error;
}

TEST(state_file, round_trip_is_exact) {
    store original;
    build_awkward(original);
    test::build_fixture(original);
    const std::string bytes = encode_state(original, meta);
    store restored;
    const auto r = restore_state(bytes, restored);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.meta.written_at, meta.written_at);
    EXPECT_EQ(r.meta.hostname, "host-a");
    EXPECT_EQ(r.meta.instance, meta.instance);
    EXPECT_EQ(r.families, restored.families().size());
    EXPECT_EQ(r.series, restored.series_count());
    expect_same_durable_state(original, restored);
    EXPECT_EQ(restored.live_workers(), 0u);
    // Encoding the restored store gives the same bytes: nothing drifts across restarts.
    EXPECT_EQ(encode_state(restored, meta), bytes);
}

TEST(state_file, restored_series_keep_counting) {
    store s;
    ASSERT_TRUE(restore_state(awkward_state(), s));
    const auto w = s.add_worker(7);
    const auto f = s.families().at("jobs_total").get();
    s.apply(bind(s, f, {""}, w), op_code::inc, 2);
    EXPECT_EQ(f->all_series().at({""}).value, 2);
    const auto h = s.families().at("lat_seconds").get();
    s.apply(bind(s, h, {"/"}, w), op_code::observe, 0.05);
    EXPECT_EQ(h->all_series().at({"/"}).histogram().count, 8);
}

TEST(state_file, a_non_finite_counter_is_never_written) {
    // Issue 11: a counter that overflowed to +Inf was persisted, and came back +Inf after every
    // restart. store::apply refuses the overflow now; a counter that is non-finite anyway (a
    // state file from an older daemon) is left out: it starts again from zero, a reset.
    store s;
    const auto w = s.add_worker(1);
    const auto c = declare(s, {"jobs_total", metric_type::counter, "Jobs.", {"q"}}).value();
    s.apply(bind(s, c, {"ok"}, w), op_code::inc, 3);
    bind(s, c, {"inf"}, w).target->value = INFINITY;
    bind(s, c, {"nan"}, w).target->value = NAN;
    const std::string bytes = encode_state(s, meta);
    EXPECT_EQ(bytes.find("Inf"), std::string::npos) << bytes;
    EXPECT_EQ(bytes.find("NaN"), std::string::npos) << bytes;
    store restored;
    const auto r = restore_state(bytes, restored);
    ASSERT_TRUE(r) << r.error;
    const auto& series = restored.families().at("jobs_total")->all_series();
    ASSERT_EQ(series.size(), 1u);
    EXPECT_EQ(series.at({"ok"}).value, 3);
}

TEST(state_file, header_is_readable) {
    const std::string bytes = awkward_state();
    EXPECT_TRUE(bytes.starts_with("metricsd-state 1 crc32="));
    EXPECT_NE(bytes.find("\"hostname\":\"host-a\""), std::string::npos);
    EXPECT_EQ(bytes.find("in_flight"), std::string::npos);
    EXPECT_NE(bytes.find("\"NaN\""), std::string::npos);
    EXPECT_NE(bytes.find("\"+Inf\""), std::string::npos);
}

TEST(state_file, every_flipped_byte_is_refused) {
    const std::string good = awkward_state();
    for (std::size_t i = 0; i < good.size(); ++i)
        for (unsigned char mask : {0x01, 0x20, 0x80}) {
            std::string bad = good;
            bad[i] = static_cast<char>(bad[i] ^ mask);
            store s;
            const auto r = restore_state(bad, s);
            ASSERT_FALSE(r) << "byte " << i << " mask " << int(mask);
            ASSERT_TRUE(s.families().empty()) << "byte " << i;
        }
    EXPECT_EQ(restore_error(good.substr(0, good.find('\n') + 1) + std::string("x") +
                            good.substr(good.find('\n') + 2)),
              "checksum mismatch: the state file is corrupt");
}

TEST(state_file, truncated_files_are_refused) {
    const std::string good = awkward_state();
    for (std::size_t n = 0; n < good.size(); ++n) {
        store s;
        ASSERT_FALSE(restore_state(std::string_view(good).substr(0, n), s)) << n;
        ASSERT_TRUE(s.families().empty());
    }
    const std::size_t body = good.size() - good.find('\n') - 1;
    EXPECT_EQ(restore_error(good.substr(0, good.size() - 10)),
              "truncated or padded: the header announces " + std::to_string(body) +
                  " body bytes, the file has " + std::to_string(body - 10));
}

TEST(state_file, foreign_files_and_versions_are_refused) {
    EXPECT_EQ(restore_error(""), "not a metricsd state file (no \"metricsd-state\" header)");
    EXPECT_EQ(restore_error("PK\x03\x04 some zip"),
              "not a metricsd state file (no \"metricsd-state\" header)");
    EXPECT_EQ(restore_error("{\"families\": []}\n"),
              "not a metricsd state file (no \"metricsd-state\" header)");
    EXPECT_EQ(restore_error(with_header("{}", 2)),
              "unsupported state format version 2 (this metricsd reads version 1)");
    EXPECT_EQ(restore_error("metricsd-state 1 crc=0 bytes=2\n{}"),
              "unreadable state file header \"metricsd-state 1 crc=0 bytes=2\"");
}

TEST(state_file, well_formed_but_invalid_content_is_refused) {
    const std::string head = R"({"written_at":1,"hostname":"h","instance":"i","families":[)";
    EXPECT_EQ(restore_error(with_header("[]")), "the state body is not a JSON object");
    EXPECT_EQ(restore_error(with_header(head + R"({"name":"1bad","type":"counter","help":"",)"
                                               R"("labels":[],"series":[]}]})")),
              "family \"1bad\": metric name '1bad' is not [a-zA-Z_:][a-zA-Z0-9_:]*")
        << "names are validated as a client's would be";
    EXPECT_EQ(restore_error(with_header(head + R"({"name":"g","type":"gauge","help":"",)"
                                               R"("labels":[],"series":[]}]})")),
              "family 0 (\"g\") has type \"gauge\"");
    EXPECT_EQ(restore_error(with_header(head + R"({"name":"h","type":"histogram","help":"",)"
                                               R"("labels":[],"buckets":["1"],"series":[)"
                                               R"({"labels":[],"buckets":[1],"sum":1,"count":1})"
                                               R"(]}]})")),
              "family 0 (\"h\") series 0 has the wrong number of bucket counts");
    EXPECT_EQ(restore_error(with_header(head + R"({"name":"c","type":"counter","help":"",)"
                                               R"("labels":[],"series":[)"
                                               R"({"labels":[],"value":-1}]}]})")),
              "family 0 series 0 value is negative or NaN");
    EXPECT_EQ(restore_error(with_header(head + R"({"name":"c","type":"counter","help":"",)"
                                               R"("labels":[],"series":[{"labels":[]}]}]})")),
              "family 0 (\"c\") series 0 has no value");
    EXPECT_EQ(restore_error(with_header(head + R"({"name":"c","type":"counter","help":"",)"
                                               R"("labels":[{"labels":[],"value":1}],)"
                                               R"("series":[]}]})")),
              "family 0 labels holds a non-string");
    EXPECT_EQ(restore_error(
                  with_header(R"({"written_at":1,"hostname":"h","instance":"i","families":{}})")),
              "the state's families is not a list of objects");
    EXPECT_EQ(restore_error(with_header(head + R"({"name":"c","type":"counter","help":"",)"
                                               R"("labels":["a"],"series":[)"
                                               R"({"labels":[],"value":1}]}]})")),
              "family \"c\": 'c' has 1 label(s); got 0 value(s)");
}

/// Label values of each family's series in `s`, by family name, in store order.
std::map<std::string, std::vector<std::vector<std::string>>> series_keys(const store& s) {
    std::map<std::string, std::vector<std::vector<std::string>>> out;
    for (const auto& [name, f] : s.families()) {
        auto& keys = out[name];
        for (const auto& [values, cell] : f->all_series())
            keys.emplace_back(values.begin(), values.end());
    }
    return out;
}

// Lower limits than when the file was written: what fits is restored, in file order (families
// by name, series by label values), and the rest is skipped and reported, never the whole file.
TEST(state_file, a_file_beyond_the_current_limits_restores_what_fits) {
    const std::string bytes = awkward_state();
    store full;
    ASSERT_TRUE(restore_state(bytes, full));
    auto keys = series_keys(full);
    ASSERT_EQ(keys.size(), 3u); // jobs_total (3 series), lat_seconds (3), size_bytes (1)
    ASSERT_EQ(keys["jobs_total"].size(), 3u);
    ASSERT_EQ(keys["lat_seconds"].size(), 3u);
    ASSERT_EQ(keys["size_bytes"].size(), 1u);

    store_limits per_family;
    per_family.max_series_per_family = 2;
    store a(per_family);
    auto r = restore_state(bytes, a);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.families, 3u);
    EXPECT_EQ(r.series, 5u);
    EXPECT_EQ(r.skipped_families, 0u);
    EXPECT_EQ(r.skipped_series, 2u);
    EXPECT_NE(r.first_skipped.find("family \"jobs_total\""), std::string::npos)
        << r.first_skipped;
    auto got = series_keys(a);
    EXPECT_EQ(got["jobs_total"], (std::vector(keys["jobs_total"].begin(),
                                              keys["jobs_total"].begin() + 2)));
    EXPECT_EQ(got["lat_seconds"], (std::vector(keys["lat_seconds"].begin(),
                                               keys["lat_seconds"].begin() + 2)));
    EXPECT_EQ(got["size_bytes"], keys["size_bytes"]);
    EXPECT_EQ(a.series_count(), 5u);

    store_limits total;
    total.max_series_total = 4;
    store b(total);
    r = restore_state(bytes, b);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.families, 2u);
    EXPECT_EQ(r.series, 4u);
    EXPECT_EQ(r.skipped_families, 1u); // size_bytes: the limit is reached, no empty family
    EXPECT_EQ(r.skipped_series, 3u);
    got = series_keys(b);
    EXPECT_EQ(got.size(), 2u);
    EXPECT_EQ(got["jobs_total"], keys["jobs_total"]);
    EXPECT_EQ(got["lat_seconds"], (std::vector<std::vector<std::string>>{keys["lat_seconds"].front()}));
    // What is restored is exact: the "/" histogram keeps its seven observations.
    const auto& restored_hist = b.families().at("lat_seconds")->all_series().begin()->second;
    EXPECT_EQ(restored_hist.histogram().count, 7);

    store_limits families;
    families.max_families = 1;
    store c(families);
    r = restore_state(bytes, c);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.families, 1u);
    EXPECT_EQ(r.series, 3u);
    EXPECT_EQ(r.skipped_families, 2u);
    EXPECT_EQ(r.skipped_series, 4u);
    EXPECT_EQ(series_keys(c).begin()->first, "jobs_total");

    store_limits short_values;
    short_values.max_label_value_length = 3; // "a\"b\\c\n" (6 bytes) and "ünïcode" do not fit
    store d(short_values);
    r = restore_state(bytes, d);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.series, 5u);
    EXPECT_EQ(r.skipped_series, 2u);
    EXPECT_EQ(series_keys(d)["jobs_total"], (std::vector<std::vector<std::string>>{{""}}));
}

// A smaller store byte budget than when the file was written: the same policy as the other
// limits, in file order; here the last series (size_bytes, a summary: 96 + 32 bytes) is left out.
TEST(state_file, a_smaller_store_budget_restores_what_fits_and_reports_the_rest) {
    const std::string bytes = awkward_state();
    store full;
    ASSERT_TRUE(restore_state(bytes, full));
    store_limits budget;
    budget.max_store_bytes = full.bytes() - 1;
    store s(budget);
    const auto r = restore_state(bytes, s);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.families, 3u);
    EXPECT_EQ(r.series, 6u);
    EXPECT_EQ(r.skipped_families, 0u);
    EXPECT_EQ(r.skipped_series, 1u);
    EXPECT_EQ(r.first_skipped, "family \"size_bytes\": a new series of 'size_bytes' needs 128 "
                               "bytes; the store holds " +
                                   std::to_string(full.bytes() - 128) + " of its " +
                                   std::to_string(full.bytes() - 1) + " (max_store_bytes)");
    EXPECT_EQ(s.series_count(), 6u);
    EXPECT_EQ(s.bytes(), full.bytes() - 128);
}

TEST(state_file, restore_needs_an_empty_store) {
    store s;
    declare(s, {"other_total", metric_type::counter});
    const auto r = restore_state(awkward_state(), s);
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error, "the store already holds families; restore needs an empty store");
    EXPECT_EQ(s.families().size(), 1u);
}

TEST(state_file, current_metadata_names_this_process) {
    const auto a = current_state_metadata(), b = current_state_metadata();
    EXPECT_EQ(a.instance, b.instance);
    EXPECT_EQ(a.instance.size(), 16u);
    EXPECT_GT(a.written_at, 1'600'000'000);
}

class state_dir : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("metricsd-state-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir_))
            names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
    fs::path dir_;
};

TEST_F(state_dir, atomic_write_replaces_and_leaves_no_temporary_file) {
    const std::string path = (dir_ / "state").string();
    write_file_atomically(path, "first");
    write_file_atomically(path, awkward_state());
    EXPECT_EQ(entries(), std::vector<std::string>{"state"});
    EXPECT_EQ(read_file_if_exists(path), awkward_state());
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    store s;
    EXPECT_TRUE(restore_state(*read_file_if_exists(path), s));
}

TEST_F(state_dir, failed_write_throws_and_leaves_the_old_file) {
    const std::string path = (dir_ / "state").string();
    write_file_atomically(path, "old");
    EXPECT_THROW(write_file_atomically((dir_ / "missing" / "state").string(), "x"),
                 std::system_error);
    fs::create_directories(dir_ / "blocked");
    // A directory in the way of the rename: the write fails, the temporary file is removed.
    EXPECT_THROW(write_file_atomically((dir_ / "blocked").string(), "new"), std::system_error);
    EXPECT_EQ(entries(), (std::vector<std::string>{"blocked", "state"}));
    EXPECT_EQ(read_file_if_exists(path), "old");
}

TEST_F(state_dir, missing_file_reads_as_nullopt) {
    EXPECT_EQ(read_file_if_exists((dir_ / "none").string()), std::nullopt);
}

TEST_F(state_dir, set_aside_keeps_every_bad_file) {
    const std::string path = (dir_ / "state").string();
    std::ofstream(path) << "garbage 1";
    const std::string first = set_aside(path);
    std::ofstream(path) << "garbage 2";
    const std::string second = set_aside(path);
    EXPECT_TRUE(first.starts_with(path + ".corrupt-")) << first;
    EXPECT_NE(first, second);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(read_file_if_exists(first), "garbage 1");
    EXPECT_EQ(read_file_if_exists(second), "garbage 2");
    EXPECT_THROW(set_aside(path), std::system_error);
}

TEST(state_file_series_expiry, the_state_file_leaves_hidden_series_out) {
    daemon::store s;
    s.set_series_ttl({std::chrono::seconds(10), {}});
    const auto w = s.add_worker(100);
    const auto* c = test::must_declare(s, {"c_total", metric_type::counter, "", {"k"}});
    const auto idle = bind(s, c, {"idle"}, w);
    const auto busy = bind(s, c, {"busy"}, w);
    s.apply(idle, op_code::inc, 5);
    s.apply(busy, op_code::inc, 1);
    EXPECT_EQ(s.expire_idle_series(at(0)), 0u);
    s.apply(busy, op_code::inc, 1);
    EXPECT_EQ(s.expire_idle_series(at(10)), 1u);
    daemon::store restored;
    const auto r = daemon::restore_state(daemon::encode_state(s, {1, "h", "i"}), restored);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.series, 1u);
    EXPECT_EQ(samples(restored, "c_total"), "c_total{k=\"busy\"} 2\n");
}

} // namespace
} // namespace metricsd::daemon

// The shared family rules (protocol/family_rules.hpp) against the family_rules vectors of
// protocol/test_vectors.json, directly and through the wire decoder, plus the gauge-mode parser.
#include <metricsd/protocol/decoder.hpp>
#include <metricsd/protocol/encoder.hpp>
#include <metricsd/protocol/family_rules.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace mp = metricsd::protocol;
using json = nlohmann::json;

namespace {

const json& rule_vectors() {
    static const json doc = [] {
        std::ifstream in(METRICSD_PROTOCOL_VECTORS);
        const json all = json::parse(in, nullptr, /*allow_exceptions=*/false);
        return all.is_object() && all.contains("family_rules") ? all.at("family_rules")
                                                               : json::array();
    }();
    return doc;
}

template <class E>
E enum_named(const std::string& name) {
    for (unsigned v = 0; v <= 0xff; ++v)
        if (mp::to_string(static_cast<E>(v)) == name)
            return static_cast<E>(v);
    ADD_FAILURE() << "no enumerator is named \"" << name << '"';
    return E{};
}

/// A vector's declaration with its strings, and the views a family_decl needs over them.
struct owned_decl {
    explicit owned_decl(const json& d)
        : name(d.at("name")), help(d.at("help")), labels(d.at("label_names")),
          buckets(d.at("buckets")), label_views(labels.begin(), labels.end()),
          bucket_views(buckets.begin(), buckets.end()) {
        decl.type = enum_named<mp::metric_type>(d.at("metric_type"));
        decl.mode = mp::parse_gauge_mode(d.at("gauge_mode").get<std::string>()).value();
        decl.name = name;
        decl.help = help;
        decl.label_names = label_views;
        decl.buckets = bucket_views;
    }
    std::string name, help;
    std::vector<std::string> labels, buckets;
    std::vector<std::string_view> label_views, bucket_views;
    mp::family_decl decl;
};

/// The code name check_family reports, or null.
json verdict(const mp::rule_result& r) {
    return r ? json(mp::to_string(r->code)) : json(nullptr);
}

struct rule_case {
    std::size_t index;
    std::string name;
    const json& get() const { return rule_vectors().at(index); }
};

void PrintTo(const rule_case& c, std::ostream* os) {
    *os << "family rule vector " << c.name;
}

std::vector<rule_case> rule_cases() {
    std::vector<rule_case> out;
    for (std::size_t i = 0; i < rule_vectors().size(); ++i)
        out.push_back({i, rule_vectors().at(i).at("name")});
    return out;
}

class family_rule_vector : public testing::TestWithParam<rule_case> {};

TEST_P(family_rule_vector, check_family_gives_the_expected_code) {
    const json& v = GetParam().get();
    const owned_decl d(v.at("declaration"));
    std::vector<double> bounds;
    const auto r = mp::check_family(d.decl, bounds);
    EXPECT_EQ(verdict(r), v.at("error")) << (r ? r->message : "accepted");
    if (r) {
        EXPECT_FALSE(r->message.empty());
    } else {
        EXPECT_EQ(bounds.size(), d.buckets.size()) << "every bound parsed";
    }
}

// What a daemon answers: the frame decoder first (its frame-level codes), then the rules. Both
// layers must agree on the code, so a client checking the rules learns what the daemon says.
TEST_P(family_rule_vector, the_daemon_path_gives_the_same_code) {
    const json& v = GetParam().get();
    owned_decl d(v.at("declaration"));
    d.decl.handle = 7;
    std::string bytes;
    mp::encode(bytes, mp::handshake{});
    mp::encode(bytes, d.decl);
    mp::decoder dec{mp::role::daemon};
    dec.feed(bytes);
    ASSERT_EQ(dec.next().state, mp::decode_result::status::message) << "handshake";
    const auto r = dec.next();
    if (r.state == mp::decode_result::status::error) {
        EXPECT_EQ(mp::to_string(r.error.code), v.at("error")) << r.error.message;
        return;
    }
    ASSERT_EQ(r.state, mp::decode_result::status::message);
    const auto& got = std::get<mp::family_decl>(r.msg);
    EXPECT_EQ(verdict(mp::check_family(got)), v.at("error"));
}

INSTANTIATE_TEST_SUITE_P(protocol, family_rule_vector, testing::ValuesIn(rule_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(family_rule_vectors, cover_every_rule_code) {
    ASSERT_GE(rule_vectors().size(), 50u) << METRICSD_PROTOCOL_VECTORS;
    std::set<std::string> seen;
    std::size_t accepted = 0;
    for (const auto& v : rule_vectors()) {
        if (v.at("error").is_null())
            ++accepted;
        else
            seen.insert(v.at("error").get<std::string>());
    }
    EXPECT_GE(accepted, 20u);
    for (const char* code :
         {"string_too_long", "invalid_gauge_mode", "too_many_labels", "too_many_buckets",
          "invalid_metric_name", "invalid_label_name", "invalid_buckets", "name_collision"})
        EXPECT_TRUE(seen.contains(code)) << "no family rule vector yields " << code;
}

// What JSON cannot carry: bytes that are not UTF-8, and enumerators out of range.
TEST(family_rules, refuses_what_the_vectors_cannot_spell) {
    mp::family_decl d;
    d.name = "x_total";
    d.help = "\xff";
    EXPECT_EQ(mp::check_family(d)->code, mp::error_code::invalid_label_value);
    d.help = "\xed\xa0\x80"; // a surrogate
    EXPECT_EQ(mp::check_family(d)->code, mp::error_code::invalid_label_value);
    d.help = "";
    d.type = mp::metric_type::gauge;
    d.mode = static_cast<mp::gauge_mode>(mp::gauge_mode_count);
    EXPECT_EQ(mp::check_family(d)->code, mp::error_code::invalid_gauge_mode);
    d.mode = mp::gauge_mode::livesum;
    d.type = static_cast<mp::metric_type>(5);
    EXPECT_EQ(mp::check_family(d)->code, mp::error_code::invalid_metric_type);
    d.type = mp::metric_type::counter;
    EXPECT_FALSE(mp::check_family(d));
}

TEST(family_rules, messages_name_the_offending_value) {
    mp::family_decl d;
    d.name = "1bad";
    EXPECT_EQ(mp::check_family(d)->message, "metric name '1bad' is not [a-zA-Z_:][a-zA-Z0-9_:]*");
    d.name = "metricsd_series";
    EXPECT_EQ(mp::check_family(d)->message,
              "metric name 'metricsd_series': the metricsd_ prefix is reserved for the daemon's "
              "own metrics");
    d.name = "h";
    d.type = mp::metric_type::histogram;
    const std::vector<std::string_view> bounds{"1", "1.0"};
    d.buckets = bounds;
    EXPECT_EQ(mp::check_family(d)->message,
              "bucket bounds must increase strictly; '1.0' follows '1'");
    d.type = mp::metric_type::gauge;
    d.mode = mp::gauge_mode::all;
    d.buckets = {};
    const std::vector<std::string_view> labels{"pid"};
    d.label_names = labels;
    EXPECT_EQ(mp::check_family(d)->message, "label name 'pid' is added by gauge mode all");
}

TEST(family_rules, bounds_hold_the_parsed_values) {
    const std::vector<std::string_view> texts{"-1", "1e-05", ".5", "+3", "10"};
    std::vector<double> bounds{42};
    EXPECT_FALSE(mp::check_buckets(mp::metric_type::histogram, texts, bounds));
    EXPECT_EQ(bounds, (std::vector<double>{-1, 1e-05, 0.5, 3, 10}));
    EXPECT_FALSE(mp::check_buckets(mp::metric_type::counter, {}, bounds));
    EXPECT_TRUE(bounds.empty());
}

TEST(gauge_mode_names, parse_reads_what_to_string_writes) {
    for (unsigned v = 0; v < mp::gauge_mode_count; ++v) {
        const auto mode = static_cast<mp::gauge_mode>(v);
        EXPECT_EQ(mp::parse_gauge_mode(mp::to_string(mode)), mode) << v;
        EXPECT_EQ(mp::gauge_mode_from_value(v), mode) << v;
    }
    for (const char* bad : {"", "unknown", "LIVESUM", "livesum ", "live", "loudest"})
        EXPECT_FALSE(mp::parse_gauge_mode(bad)) << bad;
    EXPECT_EQ(mp::to_string(static_cast<mp::gauge_mode>(mp::gauge_mode_count)), "unknown");
    EXPECT_FALSE(mp::gauge_mode_from_value(-1));
    EXPECT_FALSE(mp::gauge_mode_from_value(mp::gauge_mode_count));
    EXPECT_EQ(mp::parse_gauge_mode("livemostrecent"), mp::gauge_mode::livemostrecent);
    EXPECT_EQ(mp::parse_gauge_mode("shared"), mp::gauge_mode::shared);
}

} // namespace

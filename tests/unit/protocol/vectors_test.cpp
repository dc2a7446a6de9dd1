// Runs protocol/test_vectors.json, the vectors every client implementation must pass: encode
// each valid message byte-exactly, decode it under every split, and reproduce the expected
// results of every invalid input. Also checks that PROTOCOL.md agrees with the vectors.
#include <metricsd/protocol/decoder.hpp>
#include <metricsd/protocol/encoder.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace mp = metricsd::protocol;
using json = nlohmann::json;

namespace {

const json& vectors() {
    static const json doc = [] {
        std::ifstream in(METRICSD_PROTOCOL_VECTORS);
        return json::parse(in, nullptr, /*allow_exceptions=*/false);
    }();
    return doc;
}

std::string from_hex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
    }
    return out;
}

std::string to_hex(std::string_view bytes) {
    constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const char c : bytes) {
        out += digits[static_cast<unsigned char>(c) >> 4];
        out += digits[static_cast<unsigned char>(c) & 0xf];
    }
    return out;
}

/// Enumerator whose to_string() is name, found by trying every value of the underlying type.
template <class E>
E enum_named(const std::string& name, unsigned max) {
    for (unsigned v = 0; v <= max; ++v) {
        if (mp::to_string(static_cast<E>(v)) == name) {
            return static_cast<E>(v);
        }
    }
    ADD_FAILURE() << "no enumerator is named \"" << name << '"';
    return E{};
}

mp::error_code code_named(const std::string& name) {
    return enum_named<mp::error_code>(name, 0xff);
}

double to_double(const json& v) {
    if (v.is_string()) {
        const auto s = v.get<std::string>();
        if (s == "NaN") {
            return std::numeric_limits<double>::quiet_NaN();
        }
        if (s == "+Inf" || s == "-Inf") {
            return s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
        }
        EXPECT_EQ(s, "-0");
        return -0.0;
    }
    return v.get<double>();
}

std::uint32_t handle_of(const json& v) {
    return v.is_null() ? mp::no_handle : v.get<std::uint32_t>();
}

std::uint64_t frame_of(const json& v) {
    return v.is_null() ? mp::no_frame : v.get<std::uint64_t>();
}

std::vector<std::string> strings(std::span<const std::string_view> views) {
    return {views.begin(), views.end()};
}

std::vector<mp::op_record> records_of(const json& m) {
    std::vector<mp::op_record> out;
    for (const auto& r : m.at("records")) {
        out.push_back(
            {enum_named<mp::op_code>(r.at("op"), 0xff), r.at("handle"), to_double(r.at("value"))});
    }
    return out;
}

// Builds the message's views over local storage and encodes it while that storage lives.
std::string encode_declaration(const json& m) {
    std::string out;
    if (m.at("type") == "declare_family") {
        const auto names = m.at("label_names").get<std::vector<std::string>>();
        const auto bounds = m.at("buckets").get<std::vector<std::string>>();
        const std::vector<std::string_view> name_views(names.begin(), names.end());
        const std::vector<std::string_view> bound_views(bounds.begin(), bounds.end());
        const auto name = m.at("name").get<std::string>();
        const auto help = m.at("help").get<std::string>();
        mp::encode(out, mp::family_decl{m.at("handle"),
                                        enum_named<mp::metric_type>(m.at("metric_type"), 0xff),
                                        enum_named<mp::gauge_mode>(m.at("gauge_mode"), 0xff), name,
                                        help, name_views, bound_views});
    } else {
        const auto values = m.at("label_values").get<std::vector<std::string>>();
        const std::vector<std::string_view> views(values.begin(), values.end());
        mp::encode(out, mp::series_decl{m.at("handle"), m.at("family"), views});
    }
    return out;
}

std::string encode_json(const json& m) {
    const auto type = m.at("type").get<std::string>();
    std::string out;
    if (type == "handshake") {
        mp::encode(out, mp::handshake{m.at("version")});
    } else if (type == "declare_family" || type == "declare_series") {
        out = encode_declaration(m);
    } else if (type == "ops") {
        mp::encode_ops(out, records_of(m));
    } else if (type == "sync") {
        mp::encode(out, mp::sync{m.at("token")});
    } else if (type == "fold") {
        const auto buckets = m.at("buckets").get<std::vector<std::uint64_t>>();
        mp::encode_fold(out, m.at("handle"), m.at("count"), to_double(m.at("sum")), buckets);
    } else if (type == "client_stats") {
        mp::encode(out, mp::client_stats{m.at("dropped_ops")});
    } else if (type == "ack") {
        mp::encode(out, mp::ack{m.at("token")});
    } else if (type == "welcome") {
        mp::encode(out, mp::welcome{m.at("version"), m.at("max_frame_payload"),
                                    m.at("max_family_handle"), m.at("max_series_handle")});
    } else if (type == "error") {
        const auto text = m.at("message").get<std::string>();
        mp::encode(out, mp::error{code_named(m.at("code")), handle_of(m.at("handle")),
                                  frame_of(m.at("frame")), text});
    } else {
        ADD_FAILURE() << "unknown message type " << type;
    }
    return out;
}

/// Same double, bit for bit, except that any NaN equals any NaN.
void expect_same_double(double got, double want) {
    if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << got;
    } else {
        EXPECT_EQ(got, want);
        EXPECT_EQ(std::signbit(got), std::signbit(want)) << got;
    }
}

void expect_ops(const mp::op_batch& got, const json& m) {
    const auto want = records_of(m);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].op, want[i].op) << "record " << i;
        EXPECT_EQ(got[i].handle, want[i].handle) << "record " << i;
        expect_same_double(got[i].value, want[i].value);
    }
}

void expect_declaration(const mp::message& got, const json& m) {
    if (const auto* f = std::get_if<mp::family_decl>(&got)) {
        EXPECT_EQ(f->handle, m.at("handle").get<std::uint32_t>());
        EXPECT_EQ(mp::to_string(f->type), m.at("metric_type").get<std::string>());
        EXPECT_EQ(mp::to_string(f->mode), m.at("gauge_mode").get<std::string>());
        EXPECT_EQ(f->name, m.at("name").get<std::string>());
        EXPECT_EQ(f->help, m.at("help").get<std::string>());
        EXPECT_EQ(strings(f->label_names), m.at("label_names").get<std::vector<std::string>>());
        EXPECT_EQ(strings(f->buckets), m.at("buckets").get<std::vector<std::string>>());
    } else if (const auto* s = std::get_if<mp::series_decl>(&got)) {
        EXPECT_EQ(s->handle, m.at("handle").get<std::uint32_t>());
        EXPECT_EQ(s->family, m.at("family").get<std::uint32_t>());
        EXPECT_EQ(strings(s->label_values), m.at("label_values").get<std::vector<std::string>>());
    }
}

constexpr const char* type_names[] = {
    "handshake", "declare_family", "declare_series", "ops", "sync", "ack", "welcome", "error",
    "fold", "client_stats"};
static_assert(std::size(type_names) == std::variant_size_v<mp::message>);

void expect_message(const mp::message& got, const json& m) {
    ASSERT_EQ(type_names[got.index()], m.at("type").get<std::string>());
    if (const auto* h = std::get_if<mp::handshake>(&got)) {
        EXPECT_EQ(h->version, m.at("version").get<std::uint16_t>());
    } else if (const auto* o = std::get_if<mp::op_batch>(&got)) {
        expect_ops(*o, m);
    } else if (const auto* s = std::get_if<mp::sync>(&got)) {
        EXPECT_EQ(s->token, m.at("token").get<std::uint64_t>());
    } else if (const auto* f = std::get_if<mp::fold>(&got)) {
        EXPECT_EQ(f->handle, m.at("handle").get<std::uint32_t>());
        EXPECT_EQ(f->count, m.at("count").get<std::uint64_t>());
        expect_same_double(f->sum, to_double(m.at("sum")));
        std::vector<std::uint64_t> buckets;
        for (std::size_t i = 0; i < f->buckets(); ++i) {
            buckets.push_back(f->bucket(i));
        }
        EXPECT_EQ(buckets, m.at("buckets").get<std::vector<std::uint64_t>>());
    } else if (const auto* c = std::get_if<mp::client_stats>(&got)) {
        EXPECT_EQ(c->dropped_ops, m.at("dropped_ops").get<std::uint64_t>());
    } else if (const auto* a = std::get_if<mp::ack>(&got)) {
        EXPECT_EQ(a->token, m.at("token").get<std::uint64_t>());
    } else if (const auto* w = std::get_if<mp::welcome>(&got)) {
        EXPECT_EQ(w->version, m.at("version").get<std::uint16_t>());
        EXPECT_EQ(w->max_frame_payload, m.at("max_frame_payload").get<std::uint32_t>());
        EXPECT_EQ(w->max_family_handle, m.at("max_family_handle").get<std::uint32_t>());
        EXPECT_EQ(w->max_series_handle, m.at("max_series_handle").get<std::uint32_t>());
    } else if (const auto* e = std::get_if<mp::error>(&got)) {
        EXPECT_EQ(mp::to_string(e->code), m.at("code").get<std::string>());
        EXPECT_EQ(e->handle, handle_of(m.at("handle")));
        EXPECT_EQ(e->frame, frame_of(m.at("frame")));
        EXPECT_EQ(e->message, m.at("message").get<std::string>());
    } else {
        expect_declaration(got, m);
    }
}

/// How the input reaches the decoder: the part lengths, in order.
using split = std::vector<std::size_t>;

std::vector<split> splits_of(std::size_t n) {
    std::vector<split> out{{n}, split(n, 1)};
    for (std::size_t k = 1; k < n; ++k) {
        out.push_back({k, n - k});
    }
    return out;
}

std::string describe(const split& s) {
    if (s.size() > 2) {
        return "byte by byte";
    }
    return s.size() == 1 ? "whole" : "split at " + std::to_string(s[0]);
}

/// Feeds the parts (odd ones through prepare/commit, even ones through feed) and hands every
/// result but need_more to visit, at once: its views die at the next decoder call. Stops at
/// the first fatal error after checking that it repeats.
void decode(mp::role role, std::string_view bytes, const split& parts,
            const std::function<void(const mp::decode_result&)>& visit) {
    mp::decoder d{role, vectors().at("max_frame_payload").get<std::uint32_t>()};
    std::size_t at = 0;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto part = bytes.substr(at, parts[i]);
        at += parts[i];
        if (i % 2 == 1) {
            auto span = d.prepare(part.size());
            std::copy(part.begin(), part.end(), span.begin());
            d.commit(part.size());
        } else {
            d.feed(part);
        }
        for (auto r = d.next(); r.state != mp::decode_result::status::need_more; r = d.next()) {
            visit(r);
            if (r.state == mp::decode_result::status::error && r.error.fatal) {
                const auto again = d.next();
                EXPECT_EQ(again.error.code, r.error.code) << "fatal errors must stick";
                EXPECT_TRUE(again.error.fatal);
                return;
            }
        }
    }
}

struct vector_name {
    template <class P>
    std::string operator()(const testing::TestParamInfo<P>& info) const {
        return info.param.name;
    }
};

struct case_ref {
    std::string kind; ///< "valid" or "invalid"
    std::size_t index;
    std::string name;
    const json& get() const { return vectors().at(kind).at(index); }
};

void PrintTo(const case_ref& c, std::ostream* os) {
    *os << c.kind << " vector " << c.name;
}

std::vector<case_ref> cases(const std::string& kind) {
    std::vector<case_ref> out;
    if (vectors().is_discarded()) {
        return out; // reported by the vectors_file.loads test
    }
    for (std::size_t i = 0; i < vectors().at(kind).size(); ++i) {
        out.push_back({kind, i, vectors().at(kind).at(i).at("name")});
    }
    return out;
}

} // namespace

TEST(vectors_file, loads) {
    ASSERT_FALSE(vectors().is_discarded()) << METRICSD_PROTOCOL_VECTORS << " is not valid JSON";
    EXPECT_EQ(vectors().at("protocol_version"), mp::version);
    EXPECT_EQ(vectors().at("max_frame_payload"), mp::limits::max_frame_payload);
    std::set<std::string> names;
    for (const auto& kind : {"valid", "invalid", "family_rules"}) {
        for (const auto& v : vectors().at(kind)) {
            EXPECT_TRUE(names.insert(v.at("name")).second) << "duplicate name " << v.at("name");
        }
    }
}

class valid_vector : public testing::TestWithParam<case_ref> {};

TEST_P(valid_vector, encodes_byte_exactly) {
    const json& v = GetParam().get();
    EXPECT_EQ(to_hex(encode_json(v.at("message"))), v.at("hex").get<std::string>());
}

TEST_P(valid_vector, decodes_under_every_split) {
    const json& v = GetParam().get();
    const json& m = v.at("message");
    const bool to_daemon = v.at("direction") == "client_to_daemon";
    const bool prefix = to_daemon && m.at("type") != "handshake";
    const std::string bytes =
        (prefix ? from_hex("4d54524401000000") : "") + from_hex(v.at("hex").get<std::string>());
    for (const auto& parts : splits_of(bytes.size())) {
        SCOPED_TRACE(describe(parts));
        std::size_t seen = 0;
        decode(to_daemon ? mp::role::daemon : mp::role::client, bytes, parts,
               [&](const mp::decode_result& r) {
                   ASSERT_EQ(r.state, mp::decode_result::status::message) << r.error.message;
                   if (seen++ == 0 && prefix) {
                       EXPECT_TRUE(std::holds_alternative<mp::handshake>(r.msg));
                   } else {
                       expect_message(r.msg, m);
                   }
               });
        EXPECT_EQ(seen, prefix ? 2u : 1u);
    }
}

INSTANTIATE_TEST_SUITE_P(protocol, valid_vector, testing::ValuesIn(cases("valid")), vector_name{});

class invalid_vector : public testing::TestWithParam<case_ref> {};

/// One decode step as the vectors spell it.
json step_of(const mp::decode_result& r) {
    if (r.state == mp::decode_result::status::message) {
        return {{"message", type_names[r.msg.index()]}};
    }
    const auto& e = r.error;
    return {{"error", mp::to_string(e.code)},
            {"fatal", e.fatal},
            {"frame", e.frame == mp::no_frame ? json(nullptr) : json(e.frame)},
            {"handle", e.handle == mp::no_handle ? json(nullptr) : json(e.handle)}};
}

TEST_P(invalid_vector, yields_expected_results_under_every_split) {
    const json& v = GetParam().get();
    const std::string bytes = from_hex(v.at("hex").get<std::string>());
    const auto role = v.at("role") == "daemon" ? mp::role::daemon : mp::role::client;
    for (const auto& parts : splits_of(bytes.size())) {
        SCOPED_TRACE(describe(parts));
        json steps = json::array();
        decode(role, bytes, parts, [&](const mp::decode_result& r) {
            steps.push_back(step_of(r));
            if (r.state == mp::decode_result::status::error) {
                EXPECT_EQ(r.error.fatal, mp::is_fatal(r.error.code));
                EXPECT_FALSE(r.error.message.empty());
            }
        });
        ASSERT_EQ(steps, v.at("expect")) << steps.dump();
    }
}

INSTANTIATE_TEST_SUITE_P(protocol, invalid_vector, testing::ValuesIn(cases("invalid")),
                         vector_name{});

namespace {

std::set<std::string> names_in(const char* kind, const char* field) {
    std::set<std::string> out;
    for (const auto& v : vectors().at(kind)) {
        if (std::string(kind) == "invalid") {
            for (const auto& e : v.at("expect")) {
                out.insert(e.value(field, std::string{}));
            }
        } else if (field == std::string("op") && v.at("message").contains("records")) {
            for (const auto& r : v.at("message").at("records")) {
                out.insert(r.at("op").get<std::string>());
            }
        } else {
            out.insert(v.at("message").value(field, std::string{}));
        }
    }
    return out;
}

template <class E>
std::vector<std::string> all_names(unsigned below) {
    std::vector<std::string> out;
    for (unsigned v = 0; v < below; ++v) {
        if (const auto name = mp::to_string(static_cast<E>(v)); name != "unknown") {
            out.emplace_back(name);
        }
    }
    return out;
}

std::string protocol_md() {
    const auto path =
        std::filesystem::path(METRICSD_PROTOCOL_VECTORS).parent_path() / "PROTOCOL.md";
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace

TEST(vectors_file, covers_every_error_the_decoder_detects) {
    const auto seen = names_in("invalid", "error");
    // Stream-level codes the daemon's session sends (timeouts, memory), not the decoder.
    const std::set<std::string_view> session_codes{"handshake_timeout", "idle_timeout",
                                                   "connection_memory_limit", "peer_not_allowed"};
    for (const auto& name : all_names<mp::error_code>(32)) {
        if (session_codes.contains(name)) {
            continue;
        }
        EXPECT_TRUE(seen.contains(name)) << "no invalid vector yields " << name;
    }
}

TEST(vectors_file, covers_every_message_metric_type_and_op) {
    const auto types = names_in("valid", "type");
    for (const auto* name : type_names) {
        EXPECT_TRUE(types.contains(name)) << name;
    }
    const auto metric_types = names_in("valid", "metric_type");
    for (const auto& name : all_names<mp::metric_type>(256)) {
        EXPECT_TRUE(metric_types.contains(name)) << name;
    }
    const auto ops = names_in("valid", "op");
    for (const auto& name : all_names<mp::op_code>(256)) {
        EXPECT_TRUE(ops.contains(name)) << name;
    }
    EXPECT_GE(names_in("valid", "gauge_mode").size(), 3u) << "livesum and two other modes";
}

TEST(protocol_md, has_a_row_for_every_error_code) {
    const std::string md = protocol_md();
    ASSERT_FALSE(md.empty());
    for (unsigned v = 0; v <= 0xffff; ++v) {
        const auto c = static_cast<mp::error_code>(v);
        if (mp::to_string(c) == "unknown") {
            continue;
        }
        const std::string row =
            "| " + std::to_string(v) + " | `" + std::string(mp::to_string(c)) + "` |";
        EXPECT_NE(md.find(row), std::string::npos) << "missing table row starting " << row;
    }
}

// Every "<!-- vector: NAME -->" marker is followed by a code block whose lines read
// "hex bytes | comment"; the bytes must be exactly the vector's.
TEST(protocol_md, hex_examples_match_the_vectors) {
    const std::string md = protocol_md();
    std::map<std::string, std::string> hex_by_name;
    for (const auto& v : vectors().at("valid")) {
        hex_by_name[v.at("name")] = v.at("hex");
    }
    const std::string marker = "<!-- vector: ";
    std::size_t examples = 0;
    for (auto at = md.find(marker); at != std::string::npos; at = md.find(marker, at + 1)) {
        const auto name_end = md.find(" -->", at);
        const std::string name = md.substr(at + marker.size(), name_end - at - marker.size());
        const auto open = md.find("```\n", name_end);
        const auto close = md.find("\n```", open + 4);
        std::istringstream block(md.substr(open + 4, close - open - 4));
        std::string hex;
        for (std::string line; std::getline(block, line);) {
            for (const char c : line.substr(0, line.find('|'))) {
                hex += c == ' ' ? "" : std::string(1, c);
            }
        }
        ASSERT_TRUE(hex_by_name.contains(name)) << name;
        EXPECT_EQ(hex, hex_by_name[name]) << name;
        ++examples;
    }
    EXPECT_GE(examples, 7u);
}

#include "daemon/access/access_policy.hpp"
#include "daemon/access/uid_usage.hpp"

#include <gtest/gtest.h>

namespace metricsd::daemon {
namespace {

/// alice=1000, bob=1001; groups web=50, metrics=60.
const principal_resolver accounts = [](principal_kind kind,
                                       std::string_view name) -> std::optional<std::uint32_t> {
    if (kind == principal_kind::user) {
        if (name == "alice")
            return 1000;
        if (name == "bob")
            return 1001;
        return std::nullopt;
    }
    if (name == "web")
        return 50;
    if (name == "metrics")
        return 60;
    return std::nullopt;
};

peer_identity peer(std::uint32_t uid, std::uint32_t gid, std::vector<std::uint32_t> groups = {}) {
    return {.pid = 7, .uid = uid, .gid = gid, .groups = std::move(groups)};
}

TEST(principals, names_and_numbers_resolve_and_unknown_names_are_errors) {
    EXPECT_EQ(parse_id_list(principal_kind::user, "alice, 1001 ,7", accounts),
              (std::vector<std::uint32_t>{1000, 1001, 7}));
    EXPECT_TRUE(parse_id_list(principal_kind::group, "", accounts).empty());
    try {
        parse_id_list(principal_kind::group, "web,nope", accounts);
        FAIL();
    } catch (const access_error& e) {
        EXPECT_STREQ(e.what(), "no group named \"nope\"");
    }
    EXPECT_THROW(parse_id_list(principal_kind::user, "alice,,bob", accounts), access_error);
    const auto set = parse_principals("alice+@web+@61", accounts);
    EXPECT_EQ(set.uids, (std::vector<std::uint32_t>{1000}));
    EXPECT_EQ(set.gids, (std::vector<std::uint32_t>{50, 61}));
}

TEST(access_policy, allow_list_by_uid_primary_group_or_supplementary_group) {
    access_policy p;
    EXPECT_TRUE(p.admits(peer(4242, 4242))); // no list: everyone who can open the socket
    p.allowed.uids = {1000};
    p.allowed.gids = {60};
    EXPECT_TRUE(p.admits(peer(1000, 1000)));
    EXPECT_TRUE(p.admits(peer(1001, 60)));
    EXPECT_TRUE(p.admits(peer(1001, 1001, {5, 60})));
    EXPECT_FALSE(p.admits(peer(1001, 1001, {5, 61})));
    EXPECT_FALSE(p.admits(peer(0, 0))); // root too, unless listed
}

TEST(glob, star_and_question_mark) {
    EXPECT_TRUE(glob_match("app_*", "app_requests_total"));
    EXPECT_TRUE(glob_match("app_*", "app_"));
    EXPECT_FALSE(glob_match("app_*", "ap_requests"));
    EXPECT_TRUE(glob_match("*_total", "x_total"));
    EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
    EXPECT_FALSE(glob_match("a*b*c", "axxbyy"));
    EXPECT_TRUE(glob_match("job_?_seconds", "job_1_seconds"));
    EXPECT_FALSE(glob_match("job_?_seconds", "job_12_seconds"));
    EXPECT_TRUE(glob_match("*", ""));
    EXPECT_FALSE(glob_match("", "x"));
    // Many stars on a long mismatch stay fast (one backtrack point, no recursion).
    EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", std::string(10'000, 'a')));
}

TEST(family_owners, first_matching_rule_decides_and_unmatched_families_are_open) {
    access_policy p;
    p.family_owners = parse_family_owners("app_*=alice+@web, app_debug_*=bob", accounts);
    ASSERT_EQ(p.family_owners.size(), 2u);
    EXPECT_EQ(p.refusing_rule("app_requests_total", peer(1000, 1000)), nullptr);
    EXPECT_EQ(p.refusing_rule("app_requests_total", peer(1005, 50)), nullptr);
    const auto* rule = p.refusing_rule("app_requests_total", peer(1001, 1001));
    ASSERT_NE(rule, nullptr);
    EXPECT_EQ(rule->pattern, "app_*");
    // The first rule matches app_debug_x too: bob is refused there as well.
    EXPECT_NE(p.refusing_rule("app_debug_x", peer(1001, 1001)), nullptr);
    EXPECT_EQ(p.refusing_rule("other_total", peer(1001, 1001)), nullptr);
}

TEST(family_owners, malformed_rules_are_errors) {
    EXPECT_THROW(parse_family_owners("app_*", accounts), access_error);
    EXPECT_THROW(parse_family_owners("=alice", accounts), access_error);
    EXPECT_THROW(parse_family_owners("app-*=alice", accounts), access_error);
    EXPECT_THROW(parse_family_owners("app_*=", accounts), access_error);
    EXPECT_THROW(parse_family_owners("app_*=carol", accounts), access_error);
    EXPECT_TRUE(parse_family_owners("", accounts).empty());
}

TEST(uid_usage, series_are_given_back_when_forgotten) {
    uid_usage u;
    int a = 0, b = 0;
    u.add_family(7);
    u.add_series(7, &a);
    u.add_series(7, &b);
    EXPECT_EQ(u.of(7).families, 1u);
    EXPECT_EQ(u.of(7).series, 2u);
    u.forget_series(&a);
    u.forget_series(&a); // twice: no effect
    EXPECT_EQ(u.of(7).series, 1u);
    EXPECT_EQ(u.of(8).series, 0u);
    EXPECT_EQ(u.tracked_series(), 1u);
}

} // namespace
} // namespace metricsd::daemon

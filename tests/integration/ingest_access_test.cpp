// Who may write: the real daemon, and metricsctl run as other uids through setpriv (the tests
// run as root), so the kernel's SO_PEERCRED/SO_PEERGROUPS answer is what is tested. Covers the
// allow-list by uid and by group, the socket file's mode/owner/group, family ownership between
// two uids and the per-uid quotas.
#include "daemon_fixture.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using metricsd::test::daemon_process;
using metricsd::test::occurrences;
using metricsd::test::quoted;
using metricsd::test::run_command;
using metricsd::test::sample_value;
using metricsd::test::temp_dir;

constexpr int alice = 4242; // uids and gids no account on a test machine uses
constexpr int bob = 4343;
constexpr int metrics_group = 4500;

struct result {
    int code = -1;
    std::string output;
};

/// metricsctl `args` run as `uid`, primary group `gid`, supplementary groups `groups` (or
/// none), against `socket`.
result as_user(int uid, int gid, const std::string& socket, const std::string& args,
               const std::string& groups = "") {
    result r;
    const std::string creds = "setpriv --reuid=" + std::to_string(uid) +
                              " --regid=" + std::to_string(gid) +
                              (groups.empty() ? " --clear-groups" : " --groups=" + groups);
    r.code = run_command(creds + " " + METRICSD_METRICSCTL_BINARY + " --timeout 5 --socket " +
                             quoted(socket) + " " + args,
                         r.output);
    return r;
}

/// A temp dir other uids can reach (mkdtemp makes it 0700), for a socket they may open.
struct shared_dir : temp_dir {
    shared_dir() { ::chmod(path().c_str(), 0755); }
};

class ingest_access : public ::testing::Test {
protected:
    void start(std::vector<std::string> flags) {
        flags.insert(flags.end(), {"--socket-mode", "0666"});
        daemon = std::make_unique<daemon_process>(dir, flags);
    }
    result run(int uid, const std::string& args, int gid = -1, const std::string& groups = "") {
        return as_user(uid, gid < 0 ? uid : gid, daemon->socket_path(), args, groups);
    }
    double scraped(const std::string& series) { return sample_value(daemon->scrape(), series); }

    shared_dir dir;
    std::unique_ptr<daemon_process> daemon;
};

TEST_F(ingest_access, without_an_allow_list_any_uid_that_can_open_the_socket_writes) {
    start({});
    const auto r = run(bob, "counter inc jobs_total --value 2");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(scraped("jobs_total"), 2);
}

TEST_F(ingest_access, a_uid_off_the_list_is_refused_with_an_error_counted_and_logged) {
    start({"--allow-users", std::to_string(alice)});
    const auto refused = run(bob, "counter inc jobs_total --value 2");
    EXPECT_NE(refused.code, 0);
    EXPECT_NE(refused.output.find("uid 4343 (gid 4343) may not write to this daemon: not on its "
                                  "allow-list"),
              std::string::npos)
        << refused.output;
    const auto allowed = run(alice, "counter inc jobs_total --value 5");
    ASSERT_EQ(allowed.code, 0) << allowed.output;
    const auto text = daemon->scrape();
    EXPECT_EQ(sample_value(text, "jobs_total"), 5) << text;
    EXPECT_GE(sample_value(text, "metricsd_ingest_errors_total{code=\"peer_not_allowed\"}"), 1)
        << text;
    EXPECT_EQ(occurrences(daemon->process().log(), "(uid 4343, gid 4343) refused: not on the "
                                                   "allow-list"),
              1u)
        << daemon->process().log();
}

TEST_F(ingest_access, a_member_of_an_allowed_group_writes_by_primary_or_supplementary_group) {
    start({"--allow-groups", std::to_string(metrics_group)});
    auto r = run(bob, "counter inc jobs_total", metrics_group);
    ASSERT_EQ(r.code, 0) << r.output;
    r = run(alice, "counter inc jobs_total", alice, std::to_string(metrics_group));
    ASSERT_EQ(r.code, 0) << r.output;
    r = run(alice, "counter inc jobs_total --value 100");
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_EQ(scraped("jobs_total"), 2);
}

TEST_F(ingest_access, socket_owner_group_and_mode_are_set_and_the_kernel_enforces_them) {
    daemon = std::make_unique<daemon_process>(
        dir, std::vector<std::string>{"--socket-owner", std::to_string(alice), "--socket-group",
                                      std::to_string(metrics_group), "--socket-mode", "0660"});
    struct stat st {};
    ASSERT_EQ(::lstat(daemon->socket_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0660u);
    EXPECT_EQ(st.st_uid, static_cast<uid_t>(alice));
    EXPECT_EQ(st.st_gid, static_cast<gid_t>(metrics_group));
    EXPECT_EQ(as_user(bob, metrics_group, daemon->socket_path(), "counter inc a_total").code, 0);
    const auto outsider = as_user(bob, bob, daemon->socket_path(), "counter inc a_total");
    EXPECT_EQ(outsider.code, 3) << outsider.output; // unreachable: connect() gets EACCES
    EXPECT_NE(outsider.output.find("Permission denied"), std::string::npos) << outsider.output;
    EXPECT_EQ(scraped("a_total"), 1);
}

TEST_F(ingest_access, an_unknown_socket_group_name_stops_the_start) {
    std::string out;
    const int code =
        run_command(metricsd::test::daemon_binary() + " --socket " + quoted(dir.file("s.sock")) +
                        " --listen 127.0.0.1:0 --socket-group no-such-group-here",
                    out);
    EXPECT_EQ(code, 1);
    EXPECT_NE(out.find("access settings: no group named \"no-such-group-here\""), std::string::npos)
        << out;
}

TEST_F(ingest_access, an_owned_family_cannot_be_squatted_by_another_uid) {
    start({"--family-owners", "app_*=" + std::to_string(alice)});
    // bob comes first and tries to declare alice's counter as a gauge at 1e9 (issue 14).
    const auto squat = run(bob, "gauge set app_requests_total --value 1e9");
    EXPECT_EQ(squat.code, 4) << squat.output;
    EXPECT_NE(squat.output.find("uid 4343 may not declare 'app_requests_total': families "
                                "matching 'app_*' belong to other users"),
              std::string::npos)
        << squat.output;
    const auto owner = run(alice, "counter inc app_requests_total --value 7");
    ASSERT_EQ(owner.code, 0) << owner.output;
    EXPECT_EQ(run(bob, "counter inc app_requests_total --value 1000").code, 4);
    // Families no rule names stay open to everyone.
    ASSERT_EQ(run(bob, "counter inc bob_jobs_total").code, 0);
    const auto text = daemon->scrape();
    EXPECT_EQ(sample_value(text, "app_requests_total"), 7) << text;
    EXPECT_EQ(sample_value(text, "bob_jobs_total"), 1) << text;
    EXPECT_EQ(sample_value(text, "metricsd_ingest_errors_total{code=\"family_not_permitted\"}"), 2)
        << text;
}

TEST_F(ingest_access, per_uid_quotas_stop_one_tenant_not_the_others) {
    start({"--max-series-per-uid", "3", "--max-families-per-uid", "2"});
    for (int i = 0; i < 3; ++i) {
        const auto r = run(bob, "counter inc junk_total -l n=" + std::to_string(i));
        ASSERT_EQ(r.code, 0) << r.output;
    }
    auto r = run(bob, "counter inc junk_total -l n=3");
    EXPECT_EQ(r.code, 4) << r.output;
    EXPECT_NE(r.output.find("uid 4343 has created 3 series, its quota"), std::string::npos)
        << r.output;
    // Writing a series bob already created costs nothing.
    ASSERT_EQ(run(bob, "counter inc junk_total -l n=0").code, 0);
    ASSERT_EQ(run(bob, "counter inc other_total").code, 4); // its 4th series
    // alice has her own budget.
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(run(alice, "counter inc junk_total -l n=a" + std::to_string(i)).code, 0);
    ASSERT_EQ(run(alice, "gauge set alice_temp --value 3").code, 4); // 4th series again
    const auto text = daemon->scrape();
    EXPECT_EQ(sample_value(text, "junk_total{n=\"0\"}"), 2) << text;
    EXPECT_TRUE(std::isnan(sample_value(text, "junk_total{n=\"3\"}"))) << text;
    EXPECT_EQ(sample_value(text, "junk_total{n=\"a2\"}"), 1) << text;
    EXPECT_EQ(sample_value(text, "metricsd_ingest_errors_total{code=\"peer_series_quota\"}"), 3)
        << text;
}

TEST_F(ingest_access, the_family_quota_counts_families_a_uid_created) {
    start({"--max-families-per-uid", "2"});
    ASSERT_EQ(run(bob, "counter inc a_total").code, 0);
    ASSERT_EQ(run(bob, "counter inc b_total").code, 0);
    const auto r = run(bob, "counter inc c_total");
    EXPECT_EQ(r.code, 4) << r.output;
    EXPECT_NE(r.output.find("uid 4343 has created 2 families, its quota; 'c_total' would be one "
                            "more"),
              std::string::npos)
        << r.output;
    // Declaring a family someone else created is free.
    ASSERT_EQ(run(alice, "counter inc c_total").code, 0);
    ASSERT_EQ(run(bob, "counter inc c_total").code, 0);
    EXPECT_EQ(scraped("c_total"), 2);
}

} // namespace

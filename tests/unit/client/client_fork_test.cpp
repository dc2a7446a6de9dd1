// fork() with a live client (gunicorn preload_app): the child must never re-send the parent's
// buffered ops, must leave the parent's connection alone, and must get its own connection.
#include "client_test_util.hpp"

#include <metricsd/client.hpp>

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

namespace metricsd::test {
namespace {

TEST(client_fork, child_gets_own_connection_and_nothing_is_doubled) {
    temp_dir dir;
    const std::string path = dir.path() + "/ingest.sock";
    test_peer peer(path);
    client c(options_for(path));
    auto requests = c.counter("forked_total", "", {"route"}).labels("/");
    auto in_flight = c.gauge("forked_in_flight", "");
    in_flight.inc(2);
    // Let the peer finish the declarations: its threads then do no allocation around fork().
    // (GCC 12's ASan does not lock its allocator across fork(), so a child can deadlock in
    // malloc if another thread of the parent was allocating at that moment.)
    ASSERT_TRUE(c.flush(std::chrono::seconds(5)));
    // Not flushed: most of these are still in the parent's buffer when it forks.
    for (int i = 0; i < 1000; ++i)
        requests.inc();

    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Only async-signal-safe exits from here: no gtest assertions in the child.
        for (int i = 0; i < 10; ++i)
            requests.inc();
        in_flight.inc(); // the child's own worker value starts from 0
        const bool ok = c.flush(std::chrono::seconds(5)) && c.rejected() == 0;
        ::_exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);

    ASSERT_TRUE(c.flush(std::chrono::seconds(5)));
    EXPECT_TRUE(c.connected()); // the child closed its copy of the socket, not the connection
    EXPECT_EQ(c.rejected(), 0u) << c.last_error();
    EXPECT_EQ(peer.value("forked_total", {"/"}), 1010.0);
    EXPECT_EQ(peer.pids(), (std::set<std::int64_t>{::getpid(), child}));
    // livesum: once the peer has seen the child's connection close, only the parent's 2 remain.
    EXPECT_TRUE(eventually([&] { return peer.value("forked_in_flight") == 2.0; }))
        << *peer.value("forked_in_flight");

    requests.inc(); // the parent's connection still works after the fork
    ASSERT_TRUE(c.flush(std::chrono::seconds(5)));
    EXPECT_EQ(peer.value("forked_total", {"/"}), 1011.0);
}

TEST(client_fork, child_without_daemon_flushes_false_and_exits) {
    temp_dir dir;
    client c(options_for(dir.path() + "/none.sock"));
    auto s = c.counter("lonely_total", "").labels();
    s.inc();
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        s.inc();
        ::_exit(c.flush(std::chrono::seconds(5)) ? 1 : 0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

} // namespace
} // namespace metricsd::test

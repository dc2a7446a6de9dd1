// Issue 12 item 1: the ops a client still drops are exported by the daemon per client. A real
// C++ client (and one through the C ABI) is made to drop: with a buffer of 0 bytes every op
// folds, and an op the daemon would refuse (a negative counter inc) cannot be folded, so it is
// dropped and counted. The daemon then shows exactly that count under the client's pid, and
// under pid="exited" once the client is gone; a client whose connection is closed and opened
// again reports each drop once. The Python client has the same test in
// client/python/tests/test_client_stats.py.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"
#include "redis_server.hpp" // eventually()

#include <metricsd/client.hpp>
#include <metricsd/protocol/decoder.hpp>
#include <metricsd/protocol/encoder.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <metricsd.h>
#include <mutex>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace metricsd::test {
namespace {

using protocol::frame_type;

const std::string family_name = "metricsd_client_dropped_ops_total";

std::string own_pid_sample() {
    return family_name + "{pid=\"" + std::to_string(::getpid()) + "\"}";
}
const std::string exited_sample = family_name + "{pid=\"exited\"}";

/// Every line of the family in the scrape, HELP and TYPE included.
std::string family_lines(const std::string& text) {
    std::string out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t end = text.find('\n', pos);
        const std::string line = text.substr(pos, end - pos);
        if (line.find(family_name) != std::string::npos)
            out += line + "\n";
        if (end == std::string::npos)
            break;
        pos = end + 1;
    }
    return out;
}

std::string expected_family(const std::string& samples) {
    return "# HELP " + family_name +
           " Ops clients reported dropping instead of sending (e.g. no memory to fold a "
           "series), by pid of open connections; closed connections are summed under pid "
           "exited.\n# TYPE " +
           family_name + " counter\n" + samples;
}

client_options dropping_options(const daemon_process& d) {
    client_options o;
    o.socket_path = d.socket_path();
    o.max_buffer_bytes = 0; // every op folds, so a refused one is dropped
    return o;
}

/// `promtool check metrics` accepts the scrape (with per-pid samples in it).
void expect_promtool_accepts(const temp_dir& dir, const std::string& text) {
    const std::string file = dir.path() + "/scrape.txt";
    std::ofstream(file) << text;
    std::string out;
    EXPECT_EQ(run_command("promtool check metrics < " + file, out), 0) << out;
}

TEST(client_stats, cpp_client_drops_show_under_its_pid_then_under_exited) {
    temp_dir dir;
    daemon_process d(dir);
    EXPECT_EQ(family_lines(d.scrape()), expected_family(exited_sample + " 0\n"));
    {
        client c(dropping_options(d));
        auto jobs = c.counter("cs_jobs_total", "Jobs.", {"k"}).labels("a");
        ASSERT_TRUE(c.flush()); // connected: WELCOME (revision 2) read before the ACK
        for (int i = 0; i < 10; ++i)
            jobs.inc(1);
        for (int i = 0; i < 5; ++i)
            jobs.inc(-1); // folding: the daemon would refuse it, so it is dropped
        EXPECT_EQ(c.dropped_ops(), 5u);
        ASSERT_TRUE(c.flush()); // the report goes before the SYNC, so the ACK covers it
        const std::string text = d.scrape();
        EXPECT_EQ(family_lines(text),
                  expected_family(own_pid_sample() + " 5\n" + exited_sample + " 0\n"));
        EXPECT_EQ(sample_value(text, "cs_jobs_total{k=\"a\"}"), 10);
        EXPECT_EQ(c.rejected(), 0u) << c.last_error();
        expect_promtool_accepts(dir, text);

        ASSERT_TRUE(c.flush()); // nothing new dropped: nothing new reported, nothing changes
        EXPECT_EQ(family_lines(d.scrape()),
                  expected_family(own_pid_sample() + " 5\n" + exited_sample + " 0\n"));
    }
    std::string text;
    EXPECT_TRUE(eventually([&] {
        text = d.scrape();
        return sample_value(text, exited_sample) == 5;
    })) << text;
    EXPECT_EQ(family_lines(text), expected_family(exited_sample + " 5\n"));
}

// The connection is closed under the client (evicted for a newcomer at the connection limit)
// and opened again: the new connection reports only the drops after the old one's report, so
// pid + exited is the client's total, never more.
TEST(client_stats, a_reconnecting_client_reports_each_drop_once) {
    temp_dir dir;
    daemon_process d(dir, {"--max-connections", "1", "--idle-timeout", "1"});
    client c(dropping_options(d));
    auto jobs = c.counter("cs_jobs_total", "Jobs.", {"k"}).labels("a");
    ASSERT_TRUE(c.flush());
    for (int i = 0; i < 3; ++i)
        jobs.inc(-1);
    ASSERT_TRUE(c.flush());
    EXPECT_EQ(sample_value(d.scrape(), own_pid_sample()), 3);

    {
        // After a second of silence the client's connection is the one evicted for this one.
        std::this_thread::sleep_for(std::chrono::milliseconds(1100));
        raw_client newcomer(d.socket_path());
        newcomer.send(hello());
        const auto replies = newcomer.read_until(frame_type::welcome);
        ASSERT_FALSE(replies.empty());
        ASSERT_EQ(replies.back().type, frame_type::welcome);
        // The evicted session ends asynchronously (it sends its ERROR, then closes).
        std::string text;
        EXPECT_TRUE(eventually([&] {
            text = d.scrape();
            return sample_value(text, exited_sample) == 3;
        })) << text;
        EXPECT_EQ(family_lines(text), expected_family(exited_sample + " 3\n"));
    }
    for (int i = 0; i < 2; ++i)
        jobs.inc(-1);
    EXPECT_EQ(c.dropped_ops(), 5u);
    std::string text;
    // flush() connects at once; the newcomer's slot is freed asynchronously, so retry.
    EXPECT_TRUE(eventually([&] {
        if (!c.flush(std::chrono::seconds(1)))
            return false;
        text = d.scrape();
        return sample_value(text, own_pid_sample()) == 2;
    })) << text;
    EXPECT_EQ(family_lines(text),
              expected_family(own_pid_sample() + " 2\n" + exited_sample + " 3\n"));
}

/// A daemon of revision 1 (before CLIENT_STATS), faked over a real socket: it answers the
/// handshake with WELCOME version 1 and each SYNC with its ACK, and counts what it receives.
class revision_1_daemon {
public:
    explicit revision_1_daemon(const std::string& path) {
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
        listen_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(listen_, 4) != 0)
            throw std::runtime_error("cannot listen on " + path);
        thread_ = std::thread([this] { serve(); });
    }
    ~revision_1_daemon() {
        ::shutdown(listen_, SHUT_RDWR); // wakes accept() if no client ever came
        thread_.join();
        ::close(listen_);
    }
    revision_1_daemon(const revision_1_daemon&) = delete;
    revision_1_daemon& operator=(const revision_1_daemon&) = delete;

    std::size_t client_stats_frames() const { return client_stats_.load(); }
    std::size_t frames() const { return frames_.load(); }
    std::size_t errors() const { return errors_.load(); }

private:
    void serve() {
        const int fd = ::accept(listen_, nullptr, nullptr);
        if (fd < 0)
            return;
        protocol::decoder d(protocol::role::daemon);
        char buf[65536];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) {
            d.feed({buf, static_cast<std::size_t>(n)});
            std::string out;
            for (auto r = d.next(); r.state != protocol::decode_result::status::need_more;
                 r = d.next()) {
                if (r.state == protocol::decode_result::status::error) {
                    ++errors_;
                    if (r.error.fatal)
                        break;
                    continue;
                }
                if (std::holds_alternative<protocol::handshake>(r.msg)) {
                    protocol::encode(out, protocol::welcome{1, protocol::limits::max_frame_payload,
                                                            protocol::limits::max_family_handle,
                                                            protocol::limits::max_series_handle});
                    continue;
                }
                ++frames_;
                if (std::holds_alternative<protocol::client_stats>(r.msg))
                    ++client_stats_;
                if (const auto* s = std::get_if<protocol::sync>(&r.msg))
                    protocol::encode(out, protocol::ack{s->token});
            }
            if (!out.empty() && ::write(fd, out.data(), out.size()) != ssize_t(out.size()))
                break;
        }
        ::close(fd);
    }

    int listen_ = -1;
    std::atomic<std::size_t> frames_{0}, client_stats_{0}, errors_{0};
    std::thread thread_;
};

// A daemon that announced revision 1 would answer CLIENT_STATS with unknown_frame_type, so
// the client never sends it one, however many ops it drops.
TEST(client_stats, a_revision_1_daemon_never_receives_client_stats) {
    temp_dir dir;
    const std::string path = dir.file("old.sock");
    revision_1_daemon old(path);
    {
        client_options o;
        o.socket_path = path;
        o.max_buffer_bytes = 0;
        client c(o);
        auto jobs = c.counter("cs_jobs_total", "Jobs.", {"k"}).labels("a");
        ASSERT_TRUE(c.flush());
        jobs.inc(1);
        jobs.inc(-1);
        jobs.inc(-1);
        ASSERT_TRUE(c.flush());
        ASSERT_TRUE(c.flush());
        EXPECT_EQ(c.dropped_ops(), 2u);
        EXPECT_EQ(c.rejected(), 0u) << c.last_error();
    }
    // Family, series, the folded inc and 4 SYNCs (3 flushes and the destructor's): everything
    // the client sent, and no more.
    EXPECT_EQ(old.frames(), 7u);
    EXPECT_EQ(old.client_stats_frames(), 0u);
    EXPECT_EQ(old.errors(), 0u);
}

TEST(client_stats, c_client_drops_are_exported_the_same_way) {
    temp_dir dir;
    daemon_process d(dir);
    metricsd_options o;
    metricsd_options_init(&o);
    o.socket_path = d.socket_path().c_str();
    o.max_buffer_bytes = 0;
    metricsd_client* c = nullptr;
    ASSERT_EQ(metricsd_client_new(&o, &c), METRICSD_OK);
    metricsd_family* f = nullptr;
    metricsd_series* s = nullptr;
    ASSERT_EQ(metricsd_counter(c, "cs_c_total", "", nullptr, 0, &f), 0);
    ASSERT_EQ(metricsd_labels(f, nullptr, 0, &s), 0);
    ASSERT_EQ(metricsd_flush(c, 5000), METRICSD_OK);
    EXPECT_EQ(metricsd_inc(s, 4), 0);
    EXPECT_EQ(metricsd_inc(s, -1), 0); // accepted by the API, dropped while folding
    EXPECT_EQ(metricsd_inc(s, -2), 0);
    ASSERT_EQ(metricsd_flush(c, 5000), METRICSD_OK);
    EXPECT_EQ(metricsd_dropped_ops(c), 2u);
    const std::string text = d.scrape();
    EXPECT_EQ(family_lines(text),
              expected_family(own_pid_sample() + " 2\n" + exited_sample + " 0\n"));
    EXPECT_EQ(sample_value(text, "cs_c_total"), 4);
    metricsd_client_free(c);
    std::string after;
    EXPECT_TRUE(eventually([&] {
        after = d.scrape();
        return sample_value(after, exited_sample) == 2;
    })) << after;
}

} // namespace
} // namespace metricsd::test

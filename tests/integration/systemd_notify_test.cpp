// The real daemon under a fake systemd: NOTIFY_SOCKET is a datagram socket this test binds.
#include "daemon_fixture.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace metricsd::test {
namespace {

/// A bound AF_UNIX datagram socket: what systemd listens on for sd_notify messages.
class notify_socket {
public:
    explicit notify_socket(std::string path) : path_(std::move(path)) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
            throw std::runtime_error("cannot bind " + path_);
    }
    ~notify_socket() { ::close(fd_); }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    const std::string& path() const noexcept { return path_; }

    /// The next datagram, or "" after `timeout`.
    std::string receive(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1)
            return {};
        char buf[4096];
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }

private:
    std::string path_;
    int fd_ = -1;
};

TEST(sd_notify, ready_once_listening_then_stopping_on_sigterm) {
    temp_dir dir;
    notify_socket systemd(dir.file("notify"));
    child_process d({daemon_binary(), "--socket", dir.file("s.sock"), "--listen", "127.0.0.1:0"},
                    dir.file("daemon.log"), {{"NOTIFY_SOCKET", systemd.path()}});
    const auto ready = systemd.receive();
    EXPECT_TRUE(ready.starts_with("READY=1\n")) << ready;
    EXPECT_NE(ready.find("STATUS=ingest socket " + dir.file("s.sock")), std::string::npos) << ready;
    d.wait_for_log("metricsd ready:");
    d.signal(SIGTERM);
    const auto stopping = systemd.receive();
    EXPECT_TRUE(stopping.starts_with("STOPPING=1")) << stopping;
    EXPECT_EQ(d.wait(), 0);
}

TEST(sd_notify, pings_the_watchdog_at_half_the_interval) {
    temp_dir dir;
    notify_socket systemd(dir.file("notify"));
    child_process d({daemon_binary(), "--socket", dir.file("s.sock"), "--listen", "127.0.0.1:0"},
                    dir.file("daemon.log"),
                    {{"NOTIFY_SOCKET", systemd.path()}, {"WATCHDOG_USEC", "200000"}});
    EXPECT_TRUE(systemd.receive().starts_with("READY=1"));
    // Three pings at 100 ms within a second: the loop keeps running, not just a first ping.
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(systemd.receive(std::chrono::seconds(1)), "WATCHDOG=1") << "ping " << i;
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait(std::chrono::seconds(5)), 0) << "the ping timer must not block shutdown";
}

TEST(sd_notify, ignores_a_watchdog_meant_for_another_process) {
    temp_dir dir;
    notify_socket systemd(dir.file("notify"));
    child_process d(
        {daemon_binary(), "--socket", dir.file("s.sock"), "--listen", "127.0.0.1:0"},
        dir.file("daemon.log"),
        {{"NOTIFY_SOCKET", systemd.path()}, {"WATCHDOG_USEC", "100000"}, {"WATCHDOG_PID", "1"}});
    EXPECT_TRUE(systemd.receive().starts_with("READY=1"));
    EXPECT_EQ(systemd.receive(std::chrono::milliseconds(300)), "");
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait(), 0);
}

} // namespace
} // namespace metricsd::test

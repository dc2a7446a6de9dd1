// sd_notify datagrams and socket activation, against real sockets in a temporary directory.
#include "daemon/app/sd_notify.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace metricsd::daemon {
namespace {

env_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
        const auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

/// A datagram socket bound to `name` (a path, or "@x" for the abstract namespace).
class listener {
public:
    explicit listener(const std::string& name) : fd_(::socket(AF_UNIX, SOCK_DGRAM, 0)) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, name.data(), name.size());
        if (name[0] == '@')
            addr.sun_path[0] = '\0';
        const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len), 0)
            << std::strerror(errno);
    }
    ~listener() { ::close(fd_); }
    std::string receive() {
        char buf[256];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        return n < 0 ? "<nothing>" : std::string(buf, static_cast<std::size_t>(n));
    }

private:
    int fd_;
};

TEST(sd_notify, disabled_outside_systemd) {
    const systemd_notifier n(env_of({}), 100);
    EXPECT_FALSE(n.enabled());
    EXPECT_FALSE(n.notify("READY=1"));
    EXPECT_EQ(n.watchdog_interval(), std::nullopt);
}

TEST(sd_notify, sends_to_a_socket_path) {
    const auto path =
        std::filesystem::temp_directory_path() / ("metricsd-notify-" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    listener l(path.string());
    const systemd_notifier n(env_of({{"NOTIFY_SOCKET", path.string()}}), 100);
    EXPECT_TRUE(n.enabled());
    EXPECT_FALSE(n.notify("READY=1\nSTATUS=serving"));
    EXPECT_EQ(l.receive(), "READY=1\nSTATUS=serving");
    EXPECT_FALSE(n.notify("STOPPING=1"));
    EXPECT_EQ(l.receive(), "STOPPING=1");
    std::filesystem::remove(path);
}

TEST(sd_notify, sends_to_an_abstract_socket) {
    const std::string name = "@metricsd-notify-test-" + std::to_string(::getpid());
    listener l(name);
    const systemd_notifier n(env_of({{"NOTIFY_SOCKET", name}}), 100);
    EXPECT_FALSE(n.notify("WATCHDOG=1"));
    EXPECT_EQ(l.receive(), "WATCHDOG=1");
}

TEST(sd_notify, send_errors_are_returned_not_thrown) {
    EXPECT_TRUE(
        systemd_notifier(env_of({{"NOTIFY_SOCKET", "/nonexistent/notify"}}), 1).notify("READY=1"));
    EXPECT_TRUE(systemd_notifier(env_of({{"NOTIFY_SOCKET", "relative"}}), 1).notify("READY=1"));
}

TEST(sd_notify, watchdog_interval_is_for_this_process_only) {
    using std::chrono::microseconds;
    EXPECT_EQ(systemd_notifier(env_of({{"WATCHDOG_USEC", "30000000"}}), 7).watchdog_interval(),
              microseconds(30'000'000));
    EXPECT_EQ(systemd_notifier(env_of({{"WATCHDOG_USEC", "5"}, {"WATCHDOG_PID", "7"}}), 7)
                  .watchdog_interval(),
              microseconds(5));
    EXPECT_EQ(systemd_notifier(env_of({{"WATCHDOG_USEC", "5"}, {"WATCHDOG_PID", "8"}}), 7)
                  .watchdog_interval(),
              std::nullopt);
    EXPECT_EQ(systemd_notifier(env_of({{"WATCHDOG_USEC", "0"}}), 7).watchdog_interval(),
              std::nullopt);
    EXPECT_EQ(systemd_notifier(env_of({{"WATCHDOG_USEC", "x"}}), 7).watchdog_interval(),
              std::nullopt);
}

TEST(sd_notify, activation_for_another_process_is_ignored) {
    EXPECT_TRUE(activated_sockets(env_of({}), 7).empty());
    EXPECT_TRUE(activated_sockets(env_of({{"LISTEN_PID", "8"}, {"LISTEN_FDS", "1"}}), 7).empty());
    EXPECT_TRUE(activated_sockets(env_of({{"LISTEN_PID", "7"}, {"LISTEN_FDS", "0"}}), 7).empty());
    EXPECT_THROW(activated_sockets(env_of({{"LISTEN_PID", "7"}, {"LISTEN_FDS", "x"}}), 7),
                 std::runtime_error);
}

TEST(sd_notify, activated_sockets_start_at_descriptor_3) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    // Borrow descriptor 3 for the test and give it back afterwards.
    const int saved = ::fcntl(3, F_GETFD) != -1 ? ::dup(3) : -1;
    ASSERT_EQ(::dup2(pair[0], 3), 3);
    const auto pid = ::getpid();
    const auto sockets = activated_sockets(env_of({{"LISTEN_PID", std::to_string(pid)},
                                                   {"LISTEN_FDS", "1"},
                                                   {"LISTEN_FDNAMES", "ingest"}}),
                                           pid);
    ASSERT_EQ(sockets.size(), 1u);
    EXPECT_EQ(sockets[0].fd, 3);
    EXPECT_EQ(sockets[0].name, "ingest");
    EXPECT_EQ(::fcntl(3, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    if (saved >= 0) {
        ::dup2(saved, 3);
        ::close(saved);
    } else {
        ::close(3);
    }
    ::close(pair[0]);
    ::close(pair[1]);
}

} // namespace
} // namespace metricsd::daemon

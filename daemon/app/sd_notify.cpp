#include "daemon/app/sd_notify.hpp"

#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace metricsd::daemon {
namespace {

/// A whole decimal number, or nullopt.
template <class T>
std::optional<T> number(const char* text) {
    if (!text || !*text)
        return std::nullopt;
    T value{};
    const char* end = text + std::strlen(text);
    const auto [ptr, ec] = std::from_chars(text, end, value);
    if (ec != std::errc{} || ptr != end)
        return std::nullopt;
    return value;
}

} // namespace

systemd_notifier::systemd_notifier(const env_lookup& env, pid_t pid) {
    if (const char* s = env("NOTIFY_SOCKET"))
        socket_ = s;
    const auto usec = number<unsigned long long>(env("WATCHDOG_USEC"));
    const auto owner = number<long long>(env("WATCHDOG_PID"));
    // WATCHDOG_PID absent means "the main process", which is us.
    if (usec && *usec > 0 && (!env("WATCHDOG_PID") || (owner && *owner == pid)))
        watchdog_ = std::chrono::microseconds(*usec);
}

std::error_code systemd_notifier::notify(std::string_view state) const {
    if (socket_.empty())
        return {};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_.size() >= sizeof addr.sun_path || (socket_[0] != '/' && socket_[0] != '@'))
        return std::make_error_code(std::errc::invalid_argument);
    std::memcpy(addr.sun_path, socket_.data(), socket_.size());
    if (socket_[0] == '@')
        addr.sun_path[0] = '\0'; // abstract namespace
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return {errno, std::generic_category()};
    const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&addr), len);
    const std::error_code ec =
        sent < 0 ? std::error_code(errno, std::generic_category()) : std::error_code();
    ::close(fd);
    return ec;
}

std::vector<activated_socket> activated_sockets(const env_lookup& env, pid_t pid) {
    const char* listen_pid = env("LISTEN_PID");
    if (!listen_pid || number<long long>(listen_pid) != pid)
        return {}; // none, or meant for another process (e.g. our parent's)
    const auto count = number<int>(env("LISTEN_FDS"));
    if (!count || *count < 0 || *count > 64)
        throw std::runtime_error("socket activation: invalid LISTEN_FDS");
    std::vector<std::string> names;
    if (const char* all = env("LISTEN_FDNAMES")) {
        std::string_view rest = all;
        for (auto colon = rest.find(':');; colon = rest.find(':')) {
            names.emplace_back(rest.substr(0, colon));
            if (colon == std::string_view::npos)
                break;
            rest.remove_prefix(colon + 1);
        }
    }
    std::vector<activated_socket> sockets;
    for (int i = 0; i < *count; ++i) {
        const int fd = 3 + i; // SD_LISTEN_FDS_START
        if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
            throw std::runtime_error("socket activation: descriptor " + std::to_string(fd) +
                                     " is not open");
        const auto index = static_cast<std::size_t>(i);
        sockets.push_back({fd, index < names.size() ? names[index] : "unknown"});
    }
    return sockets;
}

} // namespace metricsd::daemon

#include "daemon/persistence/atomic_file.hpp"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace metricsd::daemon {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path);
}

/// Closes on scope exit; errors from close() after fsync carry no new information.
struct fd_guard {
    int fd = -1;
    ~fd_guard() {
        if (fd >= 0)
            ::close(fd);
    }
};

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

void write_all(int fd, std::string_view bytes, const std::string& path) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("cannot write", path);
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

} // namespace

void write_file_atomically(const std::string& path, std::string_view bytes) {
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    {
        fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
        if (f.fd < 0)
            fail("cannot create", tmp);
        try {
            write_all(f.fd, bytes, tmp);
            if (::fsync(f.fd) != 0)
                fail("cannot fsync", tmp);
        } catch (...) {
            ::unlink(tmp.c_str());
            throw;
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int saved = errno;
        ::unlink(tmp.c_str());
        errno = saved;
        fail("cannot rename " + tmp + " to", path);
    }
    // The rename is durable only once the directory entry is on disk.
    const std::string dir = directory_of(path);
    fd_guard d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd < 0 || ::fsync(d.fd) != 0)
        fail("cannot fsync directory", dir);
}

std::optional<std::string> read_file_if_exists(const std::string& path) {
    fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0 && errno == ENOENT)
        return std::nullopt;
    if (f.fd < 0)
        fail("cannot open", path);
    std::string out;
    char buf[64 * 1024];
    for (;;) {
        const ssize_t n = ::read(f.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("cannot read", path);
        if (n == 0)
            return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

std::string set_aside(const std::string& path) {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    const std::string base = path + ".corrupt-" + stamp;
    std::string target = base;
    for (int i = 1; exists(target); ++i)
        target = base + "." + std::to_string(i);
    if (::rename(path.c_str(), target.c_str()) != 0)
        fail("cannot set aside " + path + " as", target);
    return target;
}

} // namespace metricsd::daemon

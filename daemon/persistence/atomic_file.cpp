#include "daemon/persistence/atomic_file.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <dirent.h>
#include <ctime>
#include <fcntl.h>
#include <memory>
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

std::string temporary_name(const std::string& path) {
    return path + ".tmp-" + std::to_string(::getpid());
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

} // namespace

atomic_file_writer::atomic_file_writer(std::string path)
    : path_(std::move(path)), tmp_(temporary_name(path_)) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0)
        fail("cannot create", tmp_);
}

atomic_file_writer::~atomic_file_writer() {
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlink(tmp_.c_str());
    }
}

void atomic_file_writer::write_at(std::size_t offset, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n =
            ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("cannot write", tmp_);
        bytes.remove_prefix(static_cast<std::size_t>(n));
        offset += static_cast<std::size_t>(n);
    }
}

void atomic_file_writer::truncate(std::size_t size) {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
        fail("cannot truncate", tmp_);
}

void atomic_file_writer::commit() {
    if (::fsync(fd_) != 0)
        fail("cannot fsync", tmp_);
    ::close(fd_);
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
        const int saved = errno;
        ::unlink(tmp_.c_str());
        errno = saved;
        fail("cannot rename " + tmp_ + " to", path_);
    }
    // The rename is durable only once the directory entry is on disk.
    const std::string dir = directory_of(path_);
    fd_guard d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd < 0 || ::fsync(d.fd) != 0)
        fail("cannot fsync directory", dir);
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
    atomic_file_writer file(path);
    file.write_at(0, bytes);
    file.commit();
}

void check_directory_writable(const std::string& path) {
    const std::string tmp = temporary_name(path);
    fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    if (f.fd < 0)
        fail("state directory not writable: cannot create", tmp);
    if (::unlink(tmp.c_str()) != 0)
        fail("state directory not writable: cannot remove", tmp);
}

std::vector<std::string> remove_stale_temporaries(const std::string& path) {
    const std::string dir = directory_of(path);
    const auto slash = path.rfind('/');
    const std::string prefix =
        (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp-";
    std::vector<std::string> names;
    {
        // Closed however the loop ends (emplace_back may throw).
        const std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
        if (!d)
            fail("cannot list", dir);
        while (const dirent* e = ::readdir(d.get())) {
            const std::string_view name = e->d_name;
            if (!name.starts_with(prefix) || name.size() == prefix.size())
                continue;
            const auto pid = name.substr(prefix.size());
            // Digits only: `state.tmp-notes` is someone else's file, not ours to delete.
            if (std::all_of(pid.begin(), pid.end(),
                            [](unsigned char c) { return std::isdigit(c) != 0; }))
                names.emplace_back(name);
        }
    }
    std::sort(names.begin(), names.end());
    std::vector<std::string> removed;
    for (const auto& name : names) {
        const std::string full = (slash == std::string::npos ? name : dir + "/" + name);
        if (::unlink(full.c_str()) != 0 && errno != ENOENT)
            fail("cannot remove stale temporary file", full);
        removed.push_back(full);
    }
    return removed;
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

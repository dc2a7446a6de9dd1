#include "daemon/ingest/spool_reader.hpp"

#include "daemon/ingest/spool_file.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

// Exactly once (protocol/SPOOL.md has the whole argument). The daemon has one thread, and one
// handler does all of read, apply, unlink and fsync of the directory for a file; snapshots of
// the state file and Redis flushes run on the same thread, so none can fall between the apply
// and the unlink:
// - a crash before the unlink loses the apply with the rest of the in-memory state (the last
//   snapshot predates it), and the file, still there, is applied at the next start: once;
// - a crash after it loses the apply only as every op received since the last snapshot is
//   lost (the state file's documented window), never twice.
// The fsync of the directory makes the unlink durable before any later snapshot can be.

namespace metricsd::daemon {

namespace {

constexpr std::string_view spool_suffix = ".spool";

bool is_spool_name(const std::string& name) {
    // Writers create ".<name>.tmp" and rename it when complete: a dot file is unfinished.
    return name.size() > spool_suffix.size() && name[0] != '.' &&
           name.compare(name.size() - spool_suffix.size(), spool_suffix.size(), spool_suffix) == 0;
}

std::string errno_text(int e) {
    return std::strerror(e);
}

} // namespace

spool_reader::spool_reader(net::io_context& ioc, store& s, spool_options options)
    : store_(s), options_(std::move(options)), timer_(ioc) {}

void spool_reader::prepare() {
    const mode_t mode = options_.any_owner ? 01770 : 0700;
    if (::mkdir(options_.dir.c_str(), mode) == 0) {
        ::chmod(options_.dir.c_str(), mode); // mkdir applies the umask
        spdlog::info("spool: created {}", options_.dir);
    } else if (errno != EEXIST) {
        spdlog::warn("spool: cannot create {}: {}; clients that exit while the daemon is down "
                     "cannot leave their ops there",
                     options_.dir, errno_text(errno));
    }
}

std::size_t spool_reader::scan() {
    DIR* d = ::opendir(options_.dir.c_str());
    if (d == nullptr) {
        if (errno != ENOENT)
            warn("spool: cannot read " + options_.dir + ": " + errno_text(errno));
        return 0;
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (is_spool_name(name))
            names.push_back(std::move(name));
    }
    ::closedir(d);
    // Writers name files by time first: the oldest first keeps a gauge's values in order.
    std::sort(names.begin(), names.end());
    std::size_t applied = 0;
    const std::uint64_t ops_before = stats_.ops_applied;
    for (const auto& name : names)
        applied += take(name) ? 1 : 0;
    if (applied != 0) // one line per scan, however many workers spooled
        spdlog::info("spool: applied {} files from {}: {} ops", applied, options_.dir,
                     stats_.ops_applied - ops_before);
    return applied;
}

bool spool_reader::take(const std::string& name) {
    const std::string path = options_.dir + "/" + name;
    // O_NOFOLLOW: a symlink planted here must not make the daemon read (or later unlink
    // through) another file; O_NONBLOCK: a FIFO must not block the daemon.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            ++stats_.read_errors;
            warn("spool: cannot open " + path + ": " + errno_text(errno));
        }
        return false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        set_aside(name, "not a regular file");
        ++stats_.rejected_format;
        return false;
    }
    if (!options_.any_owner && st.st_uid != ::geteuid()) {
        ::close(fd);
        // Another uid's file: never read, never touched (it is not ours to remove); counted
        // and logged once per name.
        if (foreign_.insert(name).second) {
            ++stats_.rejected_owner;
            warn("spool: " + path + " is owned by uid " + std::to_string(st.st_uid) +
                 ", not the daemon's; not read (set spool_any_owner to read other uids' files)");
        }
        return false;
    }
    if (static_cast<std::uint64_t>(st.st_size) > options_.max_file_bytes) {
        ::close(fd);
        ++stats_.rejected_size;
        set_aside(name, std::to_string(st.st_size) + " bytes, over spool_max_file_bytes (" +
                            std::to_string(options_.max_file_bytes) + ")");
        return false;
    }
    std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (done != bytes.size()) {
        ++stats_.read_errors;
        warn("spool: short read of " + path);
        return false;
    }
    // Unlink before applying would lose the file to a crash in between; applying first and
    // unlinking right after, on this one thread, is the order the comment at the top argues.
    const spool_outcome r = apply_spool(store_, bytes, options_.limits);
    if (r.verdict != spool_verdict::applied) {
        ++stats_.rejected_format;
        set_aside(name, r.reason);
        return false;
    }
    if (::unlink(path.c_str()) != 0) {
        // Applied but still there: it would be applied again. Stop the daemon from doing so
        // by renaming it; if that fails too there is nothing safe left to do but say so loudly.
        const int e = errno;
        if (::rename(path.c_str(), (path + ".applied").c_str()) != 0)
            spdlog::error("spool: {} applied but neither removed ({}) nor renamed ({}); remove "
                          "it by hand or it is applied again at the next start",
                          path, errno_text(e), errno_text(errno));
    }
    if (const int dfd = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    ++stats_.files_applied;
    stats_.ops_applied += r.stats.ops_applied;
    stats_.ops_refused += r.stats.ops_rejected + r.stats.ops_dropped;
    spdlog::debug("spool: applied {} (pid {}): {} ops, {} refused", name, r.pid,
                 r.stats.ops_applied, r.stats.ops_rejected + r.stats.ops_dropped);
    return true;
}

void spool_reader::set_aside(const std::string& name, const std::string& why) {
    // Renamed, not removed: an operator can look at it; the new name is never read again.
    const std::string path = options_.dir + "/" + name;
    if (::rename(path.c_str(), (path + ".rejected").c_str()) != 0)
        ++stats_.read_errors;
    warn("spool: " + path + " rejected (" + why + "); renamed to " + name + ".rejected");
}

void spool_reader::warn(const std::string& text) {
    if (const auto suppressed = log_.admit()) {
        if (*suppressed)
            spdlog::warn("{} ({} more spool problems not logged)", text, *suppressed);
        else
            spdlog::warn("{}", text);
    }
}

void spool_reader::start() {
    if (options_.interval.count() > 0)
        schedule();
}

void spool_reader::stop() {
    stopped_ = true;
    timer_.cancel();
}

void spool_reader::schedule() {
    timer_.expires_after(options_.interval);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_)
            return;
        scan();
        schedule();
    });
}

} // namespace metricsd::daemon

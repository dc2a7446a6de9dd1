// Durable file replacement and quarantine, for the state file. Start-up/shutdown code on the
// io_context thread: blocking syscalls, errors throw std::system_error naming the path.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

/// A replacement of `path` written in pieces (a state snapshot streams the store rather than
/// hold it whole): the bytes go to `<path>.tmp-<pid>` in the same directory (mode 0600, created
/// by the constructor), at any offset; commit() fsyncs it, renames it over `path` and fsyncs
/// the directory, so a crash at any moment leaves either the old file or the new one. Dropped
/// without commit() (an error, an abandoned snapshot), the temporary file is removed. Errors
/// throw std::system_error naming the path; `path` is unchanged then.
class atomic_file_writer {
public:
    explicit atomic_file_writer(std::string path);
    ~atomic_file_writer();
    atomic_file_writer(const atomic_file_writer&) = delete;
    atomic_file_writer& operator=(const atomic_file_writer&) = delete;

    /// Write `bytes` at `offset` of the temporary file.
    void write_at(std::size_t offset, std::string_view bytes);
    /// Cut the temporary file to `size` bytes (a retry that wrote a longer file before).
    void truncate(std::size_t size);
    /// Make it `path`, durably.
    void commit();

private:
    std::string path_;
    std::string tmp_;
    int fd_ = -1;
};

/// Replace `path` with `bytes` so that a crash at any moment leaves either the old file or the
/// new one, never a mix: write `<path>.tmp-<pid>` in the same directory (mode 0600), fsync it,
/// rename it over `path`, fsync the directory. On failure the temporary file is removed and
/// std::system_error is thrown; `path` is unchanged.
void write_file_atomically(const std::string& path, std::string_view bytes);

/// Throw std::system_error naming `path` unless a file can be created in its directory: create
/// and remove the temporary file write_file_atomically() would use. A real attempt rather than
/// access(2), which says yes to root on a read-only mount and to nobody on an ACL.
void check_directory_writable(const std::string& path);

/// Remove the temporaries a killed writer left (`<path>.tmp-<digits>`, see
/// write_file_atomically) and return their full paths. Only call it while no other process
/// writes `path` (the daemon holds its ingest socket by then). Throws when the directory cannot
/// be read or a file cannot be removed.
std::vector<std::string> remove_stale_temporaries(const std::string& path);

/// The whole file, or std::nullopt when it does not exist. Other errors throw
/// std::system_error.
std::optional<std::string> read_file_if_exists(const std::string& path);

/// Move a file that must not be loaded (corrupt, foreign, too new) out of the way: rename it to
/// `<path>.corrupt-<UTC timestamp>` (with `.N` appended if that exists) and return the new
/// name, so an operator can inspect it and the next start begins clean. Throws on failure.
std::string set_aside(const std::string& path);

} // namespace metricsd::daemon

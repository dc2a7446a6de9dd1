// Durable file replacement and quarantine, for the state file. Start-up/shutdown code on the
// io_context thread: blocking syscalls, errors throw std::system_error naming the path.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

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

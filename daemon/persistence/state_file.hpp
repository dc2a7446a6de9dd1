// The memory backend's state file in the running daemon: restore at start-up, snapshots every
// interval and at shutdown. io_context thread only.
#pragma once

#include "daemon/net/log_limiter.hpp"
#include "daemon/net/net.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

namespace metricsd::daemon {

class store;

/// Load `path` into the empty store `s` if the file exists. A file that cannot be restored
/// (corrupt, truncated, foreign) is set aside as `<path>.corrupt-<time>` with a warning, and the
/// daemon starts empty. Over lower limits, what fits is restored and the rest logged (see
/// restore_state). Read or rename errors throw (start-up failure): carrying on would overwrite
/// a file nobody could inspect. Returns the number of series skipped over the limits.
std::size_t restore_state_file(const std::string& path, store& s);

/// Before restore_state_file(), with the ingest socket bound (so no other daemon writes this
/// path): remove the temporaries a killed daemon left beside `path`, logging each, and throw
/// std::system_error (a start-up failure) unless the directory lets us create files: a daemon
/// that could never save its state must not start and lose every count at its first stop.
void prepare_state_directory(const std::string& path);

/// Consecutive failed snapshots after which /readyz answers 503, until one succeeds.
inline constexpr std::uint64_t snapshot_failures_before_unready = 3;
/// Failed snapshots are logged at the first, then at most once per this period with the count
/// not logged since the last line, instead of at every interval.
inline constexpr std::chrono::seconds snapshot_failure_log_period{60};

/// Text a snapshot encodes and writes per slice, the most it holds in memory beside the store
/// (plus one series). About 2 500 counter series, a millisecond or two of the event loop.
inline constexpr std::size_t snapshot_slice_bytes = 256 * 1024;

/// What the snapshots did since start, for the self-metrics and readiness.
struct snapshot_stats {
    std::uint64_t failures = 0;             ///< every failed snapshot, the final one included
    std::uint64_t consecutive_failures = 0; ///< since the last success
    double last_success_seconds = 0;        ///< Unix time of the last success; 0: none yet
    std::string last_error;                 ///< of the last failure; empty after a success
};

/// Writes snapshots of a store to its state file: periodically on the io_context, and once
/// more when asked (at shutdown, after the ingest connections drained).
class snapshotter {
public:
    snapshotter(net::io_context& ioc, const store& s, std::string path,
                std::chrono::seconds interval);

    /// Start the periodic snapshots (none when the interval is 0).
    void start();
    /// Cancel the timer so ioc.run() can return. Idempotent.
    void stop();
    /// Write a snapshot now, all its slices at once (at shutdown, nothing else runs). Failures
    /// are counted and logged (rate-limited), never thrown: the daemon keeps serving and the
    /// previous snapshot stays intact (the file is replaced atomically).
    bool write_now();

    const snapshot_stats& stats() const noexcept { return stats_; }
    /// False after snapshot_failures_before_unready failures in a row, until a success.
    bool healthy() const noexcept {
        return stats_.consecutive_failures < snapshot_failures_before_unready;
    }

private:
    net::awaitable<void> run();
    /// A periodic snapshot: one slice per turn of the event loop, so ingest and scrapes run
    /// between slices however large the store. Abandoned (temporary file removed) at stop().
    net::awaitable<void> write_in_slices();
    void record_failure(const std::exception& e);
    void record_success(std::size_t body_bytes);

    const store& store_;
    std::string path_;
    std::chrono::seconds interval_;
    net::steady_timer timer_;
    bool stopped_ = false;
    snapshot_stats stats_;
    std::size_t last_body_bytes_ = 0; ///< the header's length is guessed from it
    log_limiter failure_log_{snapshot_failure_log_period};
};

} // namespace metricsd::daemon

// The memory backend's state file in the running daemon: restore at start-up, snapshots every
// interval and at shutdown. io_context thread only.
#pragma once

#include "daemon/net/net.hpp"

#include <chrono>
#include <string>

namespace metricsd::daemon {

class store;

/// Load `path` into the empty store `s` if the file exists. A file that cannot be restored
/// (corrupt, truncated, foreign, over the limits) is set aside as `<path>.corrupt-<time>` with
/// a warning, and the daemon starts empty. Read or rename errors throw (start-up failure):
/// carrying on would overwrite a file nobody could inspect.
void restore_state_file(const std::string& path, store& s);

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
    /// Write a snapshot now. Failures are logged, never thrown: the daemon keeps serving and
    /// the previous snapshot stays intact (the file is replaced atomically).
    bool write_now() const;

private:
    net::awaitable<void> run();

    const store& store_;
    std::string path_;
    std::chrono::seconds interval_;
    net::steady_timer timer_;
    bool stopped_ = false;
};

} // namespace metricsd::daemon

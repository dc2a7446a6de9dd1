#include "daemon/persistence/state_file.hpp"

#include "daemon/persistence/atomic_file.hpp"
#include "daemon/net/spawn.hpp"
#include "daemon/persistence/state_codec.hpp"
#include "daemon/store/store.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace metricsd::daemon {

std::size_t restore_state_file(const std::string& path, store& s) {
    const auto bytes = read_file_if_exists(path);
    if (!bytes) {
        spdlog::info("no state file at {}; starting empty", path);
        return 0;
    }
    const auto r = restore_state(*bytes, s);
    if (!r) {
        const auto moved = set_aside(path);
        spdlog::warn("state file {} not restored ({}); moved it to {} and starting empty", path,
                     r.error, moved);
        return 0;
    }
    spdlog::info("restored {} families, {} series from {} (written at {} by {} instance {})",
                 r.families, r.series, path, r.meta.written_at, r.meta.hostname, r.meta.instance);
    if (r.skipped_series > 0 || r.skipped_families > 0)
        spdlog::warn("state file {}: {} families and {} series did not fit the limits and were "
                     "dropped (restored in file order: families by name, series by label values; "
                     "first refusal: {})",
                     path, r.skipped_families, r.skipped_series, r.first_skipped);
    return r.skipped_series;
}

void prepare_state_directory(const std::string& path) {
    check_directory_writable(path);
    for (const auto& stale : remove_stale_temporaries(path))
        spdlog::warn("removed stale temporary state file {} (left by a daemon that was killed "
                     "while writing a snapshot)",
                     stale);
}

snapshotter::snapshotter(net::io_context& ioc, const store& s, std::string path,
                         std::chrono::seconds interval)
    : store_(s), path_(std::move(path)), interval_(interval), timer_(ioc) {}

void snapshotter::start() {
    if (interval_.count() > 0)
        spawn_logged(timer_.get_executor(), run(), "state snapshots");
}

void snapshotter::stop() {
    stopped_ = true;
    timer_.cancel();
}

bool snapshotter::write_now() {
    try {
        write_file_atomically(path_, encode_state(store_, current_state_metadata()));
    } catch (const std::exception& e) {
        ++stats_.failures;
        ++stats_.consecutive_failures;
        stats_.last_error = e.what();
        // The first failure, then one line per period: a full disk must not also fill the log
        // at every interval, nor a flapping one every other interval.
        if (const auto not_logged = failure_log_.admit())
            spdlog::error("state snapshot to {} failed: {} ({} in a row, {} not logged)", path_,
                          e.what(), stats_.consecutive_failures, *not_logged);
        if (stats_.consecutive_failures == snapshot_failures_before_unready)
            spdlog::error("state snapshots to {} failed {} times in a row; /readyz answers 503 "
                          "until one succeeds",
                          path_, stats_.consecutive_failures);
        return false;
    }
    if (stats_.consecutive_failures >= snapshot_failures_before_unready)
        spdlog::info("state snapshot to {} written again after {} failures; ready", path_,
                     stats_.consecutive_failures);
    else
        spdlog::debug("state snapshot written to {}", path_);
    stats_.consecutive_failures = 0;
    stats_.last_error.clear();
    stats_.last_success_seconds =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    return true;
}

net::awaitable<void> snapshotter::run() {
    // stopped_ is checked too: stop() may come before this coroutine first runs, when there is
    // no wait yet for cancel() to abort.
    while (!stopped_) {
        timer_.expires_after(interval_);
        boost::system::error_code ec;
        co_await timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (ec || stopped_)
            co_return;
        write_now();
    }
}

} // namespace metricsd::daemon

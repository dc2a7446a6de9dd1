#include "daemon/persistence/state_file.hpp"

#include "daemon/persistence/atomic_file.hpp"
#include "daemon/net/spawn.hpp"
#include "daemon/persistence/state_codec.hpp"
#include "daemon/persistence/state_format.hpp"
#include "daemon/store/store.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <sys/stat.h>
#include <optional>
#include <stdexcept>

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
    : store_(s), path_(std::move(path)), interval_(interval), timer_(ioc) {
    // The file restored at start is the best guess of the next one's size (snapshot_job).
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0)
        last_body_bytes_ = static_cast<std::size_t>(st.st_size);
}

void snapshotter::start() {
    if (interval_.count() > 0)
        spawn_logged(timer_.get_executor(), run(), "state snapshots");
}

void snapshotter::stop() {
    stopped_ = true;
    timer_.cancel();
}

namespace {

/// One snapshot being written: the body is encoded slice by slice and written after room left
/// for the header, whose length depends on the body's (its byte count is in decimal). The
/// length is guessed from the previous snapshot; in the rare case the body's size crossed a
/// power of ten since, the snapshot starts over with the right length. The file's bytes are
/// exactly encode_state's.
class snapshot_job {
public:
    snapshot_job(const store& s, const std::string& path, std::size_t guessed_body_bytes)
        : store_(s), file_(path) {
        start(guessed_body_bytes);
    }

    /// Encode and write the next slice; false once the file is complete and in place.
    bool step() {
        buf_.clear();
        const bool more = encoder_->next(buf_, snapshot_slice_bytes);
        crc_ = detail::state_crc32(buf_, crc_);
        file_.write_at(header_bytes_ + body_bytes_, buf_);
        body_bytes_ += buf_.size();
        if (more)
            return true;
        const std::string header = detail::state_header(crc_, body_bytes_);
        if (header.size() != header_bytes_) {
            if (++restarts_ > 3)
                throw std::runtime_error("the state's size kept changing while it was written");
            file_.truncate(0);
            start(body_bytes_);
            return true;
        }
        file_.write_at(0, header);
        file_.commit();
        return false;
    }
    std::size_t body_bytes() const noexcept { return body_bytes_; }

private:
    void start(std::size_t guessed_body_bytes) {
        encoder_.emplace(store_, current_state_metadata());
        header_bytes_ = detail::state_header(0, guessed_body_bytes).size();
        body_bytes_ = 0;
        crc_ = 0;
    }

    const store& store_;
    atomic_file_writer file_;
    std::optional<state_encoder> encoder_;
    std::string buf_;
    std::size_t header_bytes_ = 0;
    std::size_t body_bytes_ = 0;
    std::uint32_t crc_ = 0;
    int restarts_ = 0;
};

} // namespace

bool snapshotter::write_now() {
    try {
        snapshot_job job(store_, path_, last_body_bytes_);
        while (job.step()) {
        }
        record_success(job.body_bytes());
        return true;
    } catch (const std::exception& e) {
        record_failure(e);
        return false;
    }
}

net::awaitable<void> snapshotter::write_in_slices() {
    try {
        snapshot_job job(store_, path_, last_body_bytes_);
        while (job.step()) {
            // Let ingest and scrapes run between two slices, as the scrape renderer does.
            co_await net::post(timer_.get_executor(), net::use_awaitable);
            if (stopped_)
                co_return; // the final snapshot follows at shutdown; this one is dropped
        }
        record_success(job.body_bytes());
    } catch (const std::exception& e) {
        record_failure(e);
    }
}

void snapshotter::record_failure(const std::exception& e) {
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
}

void snapshotter::record_success(std::size_t body_bytes) {
    last_body_bytes_ = body_bytes;
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
        co_await write_in_slices();
    }
}

} // namespace metricsd::daemon

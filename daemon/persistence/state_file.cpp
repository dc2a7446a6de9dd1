#include "daemon/persistence/state_file.hpp"

#include "daemon/persistence/atomic_file.hpp"
#include "daemon/net/spawn.hpp"
#include "daemon/persistence/state_codec.hpp"
#include "daemon/store/store.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace metricsd::daemon {

void restore_state_file(const std::string& path, store& s) {
    const auto bytes = read_file_if_exists(path);
    if (!bytes) {
        spdlog::info("no state file at {}; starting empty", path);
        return;
    }
    const auto r = restore_state(*bytes, s);
    if (!r) {
        const auto moved = set_aside(path);
        spdlog::warn("state file {} not restored ({}); moved it to {} and starting empty", path,
                     r.error, moved);
        return;
    }
    spdlog::info("restored {} families, {} series from {} (written at {} by {} instance {})",
                 r.families, r.series, path, r.meta.written_at, r.meta.hostname, r.meta.instance);
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

bool snapshotter::write_now() const {
    try {
        write_file_atomically(path_, encode_state(store_, current_state_metadata()));
        spdlog::debug("state snapshot written to {}", path_);
        return true;
    } catch (const std::exception& e) {
        spdlog::error("state snapshot to {} failed: {}", path_, e.what());
        return false;
    }
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

// The read side of the Redis backend: a scrape waits for the next snapshot, which serve()
// reads between two flushes (see redis_backend.hpp).
#include "daemon/redis/redis_backend.hpp"
#include "daemon/redis/redis_scrape.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace metricsd::daemon {
namespace {

constexpr auto never = std::chrono::steady_clock::time_point::max();

} // namespace

/// A scrape waiting for the next snapshot: woken by cancelling its timer.
struct redis_backend::waiter {
    explicit waiter(net::io_context& ioc) : timer(ioc, never) {}
    net::steady_timer timer;
    std::shared_ptr<const redis_view> view;
    std::string error;
    bool done = false;
};

net::awaitable<bool> redis_backend::read_snapshot() {
    // Arguments that are temporaries inside a co_await expression crash g++ 12 builds
    // (SIGILL in the coroutine): always name them first.
    const std::string meta_request =
        plan_meta_read(options_.key_prefix) + plan_daemons_read(options_.key_prefix);
    if (!co_await connection_.roundtrip(meta_request, 2))
        co_return false;
    const auto& meta_replies = connection_.replies();
    meta_read meta = parse_meta_reply(*meta_replies.front());
    const std::vector<std::string> daemons = parse_daemons_reply(*meta_replies.back());
    const redisReply& meta_reply = *meta_replies.front();
    if (!meta.ok && meta_reply.type == REDIS_REPLY_ERROR &&
        reply_text(meta_reply).starts_with("WRONGTYPE")) {
        // Someone overwrote the metadata hash (our HSETNX fail too: write errors). Reads still
        // work: export this daemon's own declarations, as with an empty hash, and count the key
        // like any other wrong-typed one, rather than refuse every scrape.
        ++stats_.wrong_type_keys;
        if (!std::exchange(meta_wrong_type_logged_, true))
            spdlog::warn("redis: the metadata hash is not a hash ({}); scrapes show only this "
                         "daemon's declarations until it is deleted",
                         reply_text(meta_reply));
        meta.ok = true;
    }
    if (!meta.ok) {
        reads_ok_ = false;
        finish_waiters(nullptr, "the metadata hash is not a hash: " +
                                    std::string(reply_text(meta_reply)));
        co_return true;
    }
    stats_.malformed_meta += meta.malformed;
    const scrape_selection selected = select_families(store_, meta);
    for (const auto& c : selected.conflicts) {
        ++stats_.meta_conflicts;
        if (conflicts_logged_.insert(c).second)
            spdlog::warn("redis: family {} (exporting this daemon's declaration)", c);
    }
    const scrape_plan plan = plan_scrape(options_.key_prefix, selected.families, daemons);
    if (!co_await connection_.roundtrip(plan.bytes, plan.replies))
        co_return false;
    // Read into the last view's tables when no scrape renders it any more (the usual case: a
    // scrape renders its view at once), so only series new since then cost a row.
    table_pool pool;
    if (last_view_ && last_view_.use_count() == 1)
        last_view_->recycle(pool);
    last_view_.reset();
    scrape_result result =
        parse_scrape(plan, selected.families, connection_.replies(), daemons, &pool);
    if (!result.ok) {
        reads_ok_ = false;
        finish_waiters(nullptr, "snapshot failed: " + result.error);
        co_return true;
    }
    stats_.malformed_fields += result.malformed_fields;
    stats_.wrong_type_keys += result.wrong_type_keys;
    stats_.bad_values += result.bad_values;
    reads_ok_ = true;
    if (!waiters_.empty())
        ++stats_.snapshots; // not the reads serve() makes on its own for readiness
    // Daemons whose live key is gone died (or lost Redis) for longer than the lease: take them
    // out of the set in our next flush, so scrapes stop reading their keys.
    for (const auto& d : result.live)
        if (!d.present && d.id != options_.daemon_id)
            stale_daemons_.insert(d.id);
    // No flush is in flight (one request at a time): the snapshot holds every flush sent, and
    // the store's changed series are exactly what it lacks.
    std::vector<series_delta> pending;
    ledger_.pending_deltas(unix_now_ms(), pending);
    last_view_ =
        std::make_shared<redis_view>(selected, std::move(result), pending, options_.daemon_id);
    finish_waiters(last_view_, {});
    co_return true;
}

void redis_backend::finish_waiters(std::shared_ptr<const redis_view> view,
                                   const std::string& error) {
    for (waiter* w : waiters_) {
        w->view = view;
        w->error = error;
        w->done = true;
        w->timer.cancel();
    }
    if (!view && !waiters_.empty())
        stats_.snapshot_failures += waiters_.size();
    waiters_.clear();
}

net::awaitable<redis_snapshot> redis_backend::snapshot() {
    redis_snapshot out;
    if (!connection_.connected() || stopped_) {
        ++stats_.snapshot_failures;
        out.error = stopped_ ? "metricsd is stopping" : "Redis is unreachable";
        co_return out;
    }
    waiter w(ioc_);
    waiters_.push_back(&w);
    wake();
    while (!w.done) {
        boost::system::error_code ec;
        co_await w.timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    out.view = std::move(w.view);
    out.error = std::move(w.error);
    co_return out;
}

} // namespace metricsd::daemon

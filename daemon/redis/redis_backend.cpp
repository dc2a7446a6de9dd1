#include "daemon/redis/redis_backend.hpp"

#include "daemon/net/spawn.hpp"
#include "daemon/redis/redis_flush.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <unistd.h>

namespace metricsd::daemon {
namespace {

using clock = std::chrono::steady_clock;
std::string default_daemon_id() {
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) != 0)
        host[0] = '\0';
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return fmt::format("{}:{}:{}", host.data(), ::getpid(),
                       std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

} // namespace

redis_backend::redis_backend(net::io_context& ioc, store& st, redis_backend_options options)
    : ioc_(ioc), store_(st), ledger_(st), options_(std::move(options)),
      connection_(ioc, options_.endpoint, options_.command_timeout), wake_(ioc) {
    if (options_.daemon_id.empty())
        options_.daemon_id = default_daemon_id();
    // The store calls this from mark_dirty when that many series changed: flush early rather
    // than let one flush grow without bound under a burst of new series.
    store_.set_dirty_alarm(options_.early_flush_series, [this]() noexcept {
        due_.early = true;
        wake();
    });
}

redis_backend::~redis_backend() {
    store_.set_dirty_alarm(0, {});
}

std::int64_t redis_backend::unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void redis_backend::start() {
    due_.flush = clock::now() + options_.flush_interval;
    due_.refresh = clock::now() + refresh_period();
    due_.lease = clock::now();
    spawn_logged(ioc_, run(), "redis backend");
}

void redis_backend::wake() noexcept {
    wake_.cancel();
}

redis_stats redis_backend::stats() const {
    redis_stats s = stats_;
    s.connected = connection_.connected();
    s.pending_series = store_.dirty_series().size() + inflight_.taken.size() +
                       (next_ ? next_->batch.taken.size() : 0);
    return s;
}

net::awaitable<void> redis_backend::run() {
    while (!stopped_) {
        if (!co_await connection_.connect()) {
            ++stats_.connect_failures;
            finish_waiters(nullptr, "Redis is unreachable");
            wake_.expires_after(connection_.next_backoff()); // drain() cuts it short
            boost::system::error_code ec;
            co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
            continue;
        }
        ++stats_.connects;
        reads_ok_ = false; // not ready until a snapshot read works on this connection
        reread_ = clock::now();
        spdlog::info("redis: connected to {}", describe(options_.endpoint));
        meta_written_.clear();     // Redis may have lost them (restart without persistence)
        due_.lease = clock::now(); // and our live key may have expired meanwhile: rewrite it
        // One co_await per statement: g++ 12 miscompiles co_await inside `&&` (SIGILL).
        bool healthy = co_await settle_after_reconnect();
        if (healthy)
            healthy = co_await serve();
        if (healthy)
            break; // drained
        connection_.close();
        finish_waiters(nullptr, "Redis connection lost");
    }
    connection_.close();
    finish_waiters(nullptr, "metricsd is stopping");
}

net::awaitable<bool> redis_backend::settle_after_reconnect() {
    if (inflight_.empty())
        co_return true;
    // The last flush's EXEC reply never came: its sequence key says whether it ran.
    const std::string probe = plan_flushseq_probe(options_.key_prefix, options_.daemon_id);
    const bool answered = co_await connection_.roundtrip(probe, 1);
    if (answered)
        settle_probed(check_flushseq_probe(*connection_.replies().front(), inflight_seq_));
    co_return answered;
}

void redis_backend::settle_probed(flushseq_state state) {
    switch (state) {
    case flushseq_state::applied:
        spdlog::info("redis: flush {} was applied before the connection dropped", inflight_seq_);
        ++stats_.flushes;
        ledger_.settle_applied(inflight_);
        return;
    case flushseq_state::not_applied:
        spdlog::info("redis: flush {} was not applied; its deltas go out again", inflight_seq_);
        break;
    case flushseq_state::unknown:
        // Another run with our id, or garbage: resending risks a double count, dropping it a
        // loss. Resend, as the design says, and say so.
        spdlog::error("redis: cannot tell whether flush {} was applied (sequence key holds "
                      "something else); sending its deltas again",
                      inflight_seq_);
        break;
    }
    ++stats_.flush_failures;
    ledger_.settle_failed(inflight_);
}

std::chrono::milliseconds redis_backend::refresh_period() const {
    // In milliseconds: a 1 s or 2 s expire_key_time divided in whole seconds would be 0, and a
    // refresh would be due forever.
    return std::chrono::duration_cast<std::chrono::milliseconds>(options_.expire_key_time) / 3;
}

bool redis_backend::has_live_series() const {
    for (const auto& [name, fam] : store_.families())
        if (uses_live_key(fam->spec()) && !fam->all_series().empty())
            return true;
    return false;
}

std::chrono::milliseconds redis_backend::lease_period() const {
    return options_.live_lease / 3;
}

bool redis_backend::has_changes() const {
    return next_ || !store_.dirty_series().empty() ||
           meta_written_.size() < store_.families().size();
}

bool redis_backend::flush_due() const {
    const auto now = clock::now();
    // Key refreshes and lease renewals are due at their time, whatever the flush cadence.
    if (now >= due_.refresh || (now >= due_.lease && has_live_series()))
        return true;
    return has_changes() && (next_ || draining_ || due_.early || now >= due_.flush);
}

net::awaitable<bool> redis_backend::serve() {
    for (;;) {
        if (!waiters_.empty()) {
            // A snapshot holds every flush sent before it, and the changed series are what it
            // lacks: a flush planned already is neither, so it goes first.
            if (next_) {
                if (!co_await flush())
                    co_return false;
                continue;
            }
            if (!co_await read_snapshot())
                co_return false;
            continue;
        }
        if (!reads_ok_ && clock::now() >= reread_) {
            // Readiness must say what a scrape would: find out without waiting for one.
            reread_ = clock::now() + reread_period;
            if (!co_await read_snapshot())
                co_return false;
            continue;
        }
        if (flush_due()) {
            if (!co_await flush())
                co_return false;
            continue;
        }
        if (draining_ && live_written_) {
            // Last: our live* contributions leave with us (the workers are gone).
            if (!co_await flush(true))
                co_return false;
            continue;
        }
        if (draining_) {
            stopped_ = true;
            co_return true;
        }
        // Changes wait for the flush cadence; without any, look again one interval from now
        // (ops do not wake this loop: they only mark series).
        auto until = has_changes() ? due_.flush : clock::now() + options_.flush_interval;
        until = std::min(until, due_.refresh);
        if (has_live_series()) // else due_.lease stays in the past: not a reason to wake
            until = std::min(until, due_.lease);
        if (!reads_ok_)
            until = std::min(until, reread_);
        wake_.expires_at(until);
        boost::system::error_code ec;
        co_await wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
}

// One transaction in flight, not a pipeline of several, each of at most max_flush_series; the
// next one is planned while the current one runs. Measured with `redis_bench --scale` (100 k
// changed series: 60 k counters, 20 k livesum gauges, 10 k histograms, 10 k summaries, ~190 k
// commands), redis-server spends ~360 ms of CPU and the daemon ~270 ms (ingest included) per
// round, so planning (ours) and executing (Redis's) in turn adds them up; planning the next
// flush while Redis executes the current one overlaps them. Sending it too (two unconfirmed
// transactions) would gain little more and breaks exactly-once: the probe reads one sequence
// key, and a value equal to the second does not tell whether the first ran, since Redis answers
// an EXEC it rejects (OOM, ACL, READONLY) with EXECABORT and runs the next transaction all the
// same; settling it either way risks a double count or a loss. A larger transaction does not
// shrink Redis's work and blocks every other client for longer. The planned flush holds series
// none of the one in flight holds (flush_ledger::collect), so it stays valid whatever the
// outcome of that one: deltas against what Redis surely has.
redis_backend::outgoing redis_backend::prepare(bool retire_live) {
    const auto started = clock::now();
    due_.flush = started + options_.flush_interval;
    // Every lease / 3: renew the live key's lease and write all our live contributions again
    // (cheap, and it heals a key that expired or a Redis that lost it).
    outgoing out;
    out.retire_live = retire_live;
    out.keepalive = !retire_live && started >= due_.lease && has_live_series();
    if (started >= due_.lease)
        due_.lease = started + lease_period();
    if (out.keepalive)
        ledger_.mark_live_series();
    ledger_.collect(out.batch, unix_now_ms(), options_.max_flush_series);
    // What did not fit (the rest of a burst that filled this flush) or a burst that already
    // reached the threshold goes next, at once, rather than one flush interval later.
    const auto left = store_.dirty_series().size();
    due_.early = left >= options_.early_flush_series ||
                 (left != 0 && out.batch.taken.size() >= options_.max_flush_series);
    // Every expire_key_time / 3: keep our families' keys alive, and write every metadata record
    // again (HSETNX: a no-op unless someone deleted it, e.g. FLUSHDB while we stayed connected).
    const bool refreshing = started >= due_.refresh;
    if (refreshing)
        due_.refresh = started + refresh_period();
    std::vector<const family_spec*> refresh;
    for (const auto& [name, fam] : store_.families()) {
        if (refreshing || !meta_written_.contains(&fam->spec()))
            out.metadata.push_back(&fam->spec());
        if (refreshing && !fam->all_series().empty())
            refresh.push_back(&fam->spec());
    }
    out.seq = ++seq_;
    flush_request request;
    request.prefix = options_.key_prefix;
    request.daemon_id = options_.daemon_id;
    request.seq = out.seq;
    request.expire_seconds = options_.expire_key_time.count();
    request.deltas = out.batch.deltas;
    request.metadata = out.metadata;
    request.refresh = refresh;
    request.live_lease_ms = options_.live_lease.count();
    request.live_keepalive = out.keepalive;
    request.live_retire = retire_live;
    out.stale.assign(stale_daemons_.begin(), stale_daemons_.end());
    request.stale_daemons = out.stale;
    out.live_deltas = std::any_of(out.batch.deltas.begin(), out.batch.deltas.end(),
                                  [](const series_delta& d) { return d.live; });
    out.plan = plan_flush(request);
    if (out.plan.skipped != 0)
        spdlog::warn("redis: {} series deltas could not be written (non-finite values)",
                     out.plan.skipped);
    return out;
}

net::awaitable<bool> redis_backend::flush(bool retire_live) {
    const auto started = clock::now();
    // A planned flush goes first (a retiring one comes back: live_written_ still holds).
    outgoing out = next_ ? std::move(*next_) : prepare(retire_live);
    next_.reset();
    const bool retire = out.retire_live;
    inflight_ = std::move(out.batch);
    inflight_seq_ = out.seq;
    if (due_.early && !retire && waiters_.empty()) {
        // A burst: plan the next flush as soon as this one is written, while Redis runs it;
        // only then (a snapshot must not find series taken but not sent), and not while a
        // scrape waits: it comes after the planned flush, which must not be followed by yet
        // another one for as long as the burst lasts.
        net::post(ioc_, [this] {
            if (in_roundtrip_ && waiters_.empty() && !next_ && !stopped_ &&
                !store_.dirty_series().empty())
                next_ = prepare(false);
        });
    }
    in_roundtrip_ = true;
    const bool answered = co_await connection_.roundtrip(out.plan.bytes, out.plan.replies);
    in_roundtrip_ = false;
    if (!answered)
        co_return false; // inflight_ waits for the probe after the reconnect
    const auto outcome = check_transaction(connection_.replies(), out.plan.queued);
    switch (outcome.state) {
    case transaction_outcome::status::applied:
        if (outcome.error_elements != 0) {
            stats_.write_errors += outcome.error_elements;
            spdlog::warn("redis: {} command(s) of flush {} failed: {}", outcome.error_elements,
                         inflight_seq_, outcome.first_error);
        }
        ++stats_.flushes;
        stats_.commands += out.plan.queued;
        stats_.flushed_series += inflight_.taken.size();
        ledger_.settle_applied(inflight_);
        meta_written_.insert(out.metadata.begin(), out.metadata.end());
        for (const auto& id : out.stale)
            stale_daemons_.erase(id);
        live_written_ = !retire && (live_written_ || out.keepalive || out.live_deltas);
        stats_.flush_seconds_last = std::chrono::duration<double>(clock::now() - started).count();
        stats_.flush_seconds_total += stats_.flush_seconds_last;
        co_return true;
    case transaction_outcome::status::aborted:
        spdlog::warn("redis: flush {} aborted: {}; sending it again", inflight_seq_,
                     outcome.first_error);
        ++stats_.flush_failures;
        ledger_.settle_failed(inflight_);
        co_return true;
    case transaction_outcome::status::unexpected:
        break;
    }
    spdlog::error("redis: unexpected reply to flush {}; reconnecting", inflight_seq_);
    connection_.disconnect("unexpected reply");
    co_return false;
}

net::awaitable<redis_backend::drain_result> redis_backend::drain(clock::time_point deadline) {
    draining_ = true;
    wake();
    net::steady_timer poll(ioc_);
    bool nothing_to_write = false;
    while (!stopped_ && clock::now() < deadline) {
        if (!connection_.connected() && store_.dirty_series().empty() && inflight_.empty() &&
            !next_) {
            nothing_to_write = true; // no reason to wait for a Redis that is not there
            break;
        }
        poll.expires_after(std::chrono::milliseconds(5));
        co_await poll.async_wait(net::use_awaitable);
        if (!connection_.connected())
            wake(); // cut a reconnect backoff short
    }
    if (stopped_)
        co_return drain_result::written;
    const auto lost = store_.dirty_series().size() + inflight_.taken.size() +
                      (next_ ? next_->batch.taken.size() : 0);
    if (lost != 0)
        spdlog::error("redis: shutdown deadline passed before Redis took the last flush; the "
                      "changes of {} series are not in Redis",
                      lost);
    // Ends run(): its IO fails on the closed socket, its waits are woken, and it sees stopped_.
    stopped_ = true;
    connection_.abort();
    wake();
    co_return nothing_to_write && lost == 0 ? drain_result::not_needed
                                            : drain_result::incomplete;
}

} // namespace metricsd::daemon

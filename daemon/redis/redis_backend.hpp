// The Redis backend on the event loop: one coroutine that keeps a redis_connection up
// (reconnecting with backoff), flushes the store's changed series every interval as one
// MULTI/EXEC (settling an unconfirmed one by its sequence key after a reconnect), renews this
// daemon's live-key lease, refreshes key expiry, reads snapshots for scrapes and drains at
// shutdown. One request at a time, in order, so a scrape's snapshot holds every flush sent
// before it and the store's changed series are exactly what it lacks. io_context thread only.
#pragma once

#include "daemon/config/redis_url.hpp"
#include "daemon/net/net.hpp"
#include "daemon/redis/redis_connection.hpp"
#include "daemon/redis/redis_flush.hpp"
#include "daemon/redis/redis_flush_ledger.hpp"
#include "daemon/redis/redis_stats.hpp"
#include "daemon/redis/redis_view.hpp"
#include "daemon/store/store.hpp"

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

namespace metricsd::daemon {

struct redis_backend_options {
    redis_endpoint endpoint;
    std::string key_prefix;                     ///< keys are `[prefix-]name`
    std::chrono::seconds expire_key_time{3600}; ///< EXPIRE on every written key
    std::chrono::milliseconds flush_interval{100};
    std::chrono::milliseconds command_timeout{5000}; ///< a request slower than this drops the link
    /// This many changed series start a flush before the interval is up.
    std::size_t early_flush_series = 10'000;
    /// At most this many series per flush; more changed series take several flushes in a row.
    std::size_t max_flush_series = 20'000;
    std::string daemon_id; ///< unique per run; empty: host, pid and start time
    /// Lease of this daemon's live key (its live* gauge contributions): renewed every third of
    /// it; a daemon that dies without a final flush drops out of every scrape this much later.
    std::chrono::milliseconds live_lease{default_live_lease_ms};
};

/// What one scrape gets from the backend: a view of a fresh snapshot, or why there is none.
struct redis_snapshot {
    std::shared_ptr<const redis_view> view; ///< null when Redis cannot be read now
    std::string error;                      ///< why not (for the 503 and the log)
};

class redis_backend {
public:
    redis_backend(net::io_context& ioc, store& st, redis_backend_options options);
    ~redis_backend();
    redis_backend(const redis_backend&) = delete;
    redis_backend& operator=(const redis_backend&) = delete;

    void start();

    /// A view for one scrape: a fresh Redis snapshot plus the deltas not flushed yet, read
    /// between two flushes. Completes at once, without a view, when Redis is not connected.
    net::awaitable<redis_snapshot> snapshot();

    /// How a drain ended, for the shutdown log.
    enum class drain_result : std::uint8_t {
        written,     ///< the final flush reached Redis (every change, the live key removed)
        not_needed,  ///< Redis unreachable, but nothing was waiting to be written
        incomplete   ///< `deadline` passed first: what was not written is lost (logged here)
    };
    /// Flush everything the store holds, then stop.
    net::awaitable<drain_result> drain(std::chrono::steady_clock::time_point deadline);

    bool connected() const noexcept { return connection_.connected(); }
    /// For /readyz: true when a scrape would get a view now, i.e. Redis is connected and the
    /// last snapshot read worked. Write errors do not count: they do not stop reads. After a
    /// (re)connect, and every `reread_period` while reads fail, serve() reads a snapshot on
    /// its own, so readiness follows Redis without waiting for a scrape.
    bool readable() const noexcept { return connection_.connected() && reads_ok_; }
    static constexpr std::chrono::seconds reread_period{1};
    redis_stats stats() const;
    const redis_backend_options& options() const noexcept { return options_; }

private:
    struct waiter;
    /// One flush, planned: its series (held), its pipeline and what to note once applied.
    struct outgoing {
        flush_batch batch;
        flush_plan plan;
        std::uint64_t seq = 0;
        std::vector<const family_spec*> metadata;
        std::vector<std::string> stale;
        bool keepalive = false;
        bool retire_live = false;
        bool live_deltas = false;
    };

    /// When the next flush, key refresh and lease renewal are due.
    struct schedule {
        std::chrono::steady_clock::time_point flush;
        std::chrono::steady_clock::time_point refresh;
        std::chrono::steady_clock::time_point lease;
        bool early = false; ///< enough series changed: flush before `flush`
    };

    net::awaitable<void> run();
    net::awaitable<bool> serve();
    /// One flush; `retire_live` (the last one at shutdown) deletes our live key.
    net::awaitable<bool> flush(bool retire_live = false);
    /// Take the changed series and plan the flush that writes them.
    outgoing prepare(bool retire_live);
    net::awaitable<bool> read_snapshot();
    net::awaitable<bool> settle_after_reconnect();
    void settle_probed(flushseq_state state);
    void finish_waiters(std::shared_ptr<const redis_view> view, const std::string& error);
    void wake() noexcept;
    bool flush_due() const;
    bool has_changes() const;
    bool has_live_series() const;
    std::chrono::milliseconds lease_period() const;
    /// How often our keys' EXPIRE and our metadata records are written again.
    std::chrono::milliseconds refresh_period() const;
    static std::int64_t unix_now_ms();

    net::io_context& ioc_;
    store& store_;
    flush_ledger ledger_;
    redis_backend_options options_;
    redis_connection connection_;
    net::steady_timer wake_;
    schedule due_;

    flush_batch inflight_; ///< sent, outcome unknown until EXEC's reply (or the probe)
    std::uint64_t inflight_seq_ = 0;
    /// Planned while the one in flight ran, sent when its outcome is known (see flush()).
    std::optional<outgoing> next_;
    bool in_roundtrip_ = false; ///< a flush waits for Redis: the time to plan the next one
    std::uint64_t seq_ = 0;
    std::unordered_set<const family_spec*> meta_written_; ///< since the last (re)connect
    std::set<std::string> stale_daemons_; ///< to take out of the daemons set next flush
    bool live_written_ = false;           ///< our live key may exist: delete it at shutdown
    std::unordered_set<std::string> conflicts_logged_;
    std::list<waiter*> waiters_;
    /// The last snapshot's view, whose tables the next one reads into (see redis_view).
    std::shared_ptr<redis_view> last_view_;

    bool reads_ok_ = false;                   ///< the last snapshot read on this connection worked
    std::chrono::steady_clock::time_point reread_; ///< next read of its own while !reads_ok_
    bool meta_wrong_type_logged_ = false;
    bool draining_ = false;
    bool stopped_ = false;
    redis_stats stats_;
};

} // namespace metricsd::daemon

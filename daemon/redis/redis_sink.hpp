// The Redis backend's IO: one connection on the daemon's io_context (Asio owns the socket,
// hiredis formats and parses), one coroutine that connects, flushes the store's changed series
// every interval as one MULTI/EXEC, reads snapshots for scrapes, and reconnects with backoff.
// One request at a time, in order, so a scrape's snapshot holds every flush sent before it and
// the store's dirty series are exactly what it lacks. io_context thread only.
#pragma once

#include "daemon/net/net.hpp"
#include "daemon/redis/redis_flush_ledger.hpp"
#include "daemon/config/redis_url.hpp"
#include "daemon/redis/redis_view.hpp"
#include "daemon/redis/redis_stats.hpp"
#include "daemon/store/store.hpp"

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

namespace metricsd::daemon {

struct redis_sink_options {
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

class redis_sink {
public:
    redis_sink(net::io_context& ioc, store& st, redis_sink_options options);
    ~redis_sink();
    redis_sink(const redis_sink&) = delete;
    redis_sink& operator=(const redis_sink&) = delete;

    void start();

    /// A view for one scrape: a fresh Redis snapshot plus the deltas not flushed yet. Null when
    /// Redis cannot be read now; `error` says why.
    net::awaitable<std::shared_ptr<const redis_view>> snapshot(std::string& error);

    /// Flush everything the store holds, then stop. Returns false when `deadline` passed first
    /// (Redis unreachable): what was not written is lost, and the log says how much.
    net::awaitable<bool> drain(std::chrono::steady_clock::time_point deadline);

    bool connected() const noexcept { return connected_; }
    redis_stats stats() const;
    const redis_sink_options& options() const noexcept { return options_; }

private:
    struct waiter;
    using socket_type = net::generic::stream_protocol::socket;

    net::awaitable<void> run();
    net::awaitable<bool> connect();
    net::awaitable<bool> serve();
    /// One flush; `retire_live` (the last one at shutdown) deletes our live key.
    net::awaitable<bool> flush(bool retire_live = false);
    net::awaitable<bool> read_snapshot();
    net::awaitable<bool> settle_after_reconnect();
    void settle_probed(flushseq_state state);
    /// Write `bytes` and read `count` replies into replies_. False on IO error, timeout or a
    /// protocol error (the connection is closed then).
    net::awaitable<bool> roundtrip(const std::string& bytes, std::size_t count);
    /// Close the socket if the current request takes longer than command_timeout.
    void arm_deadline();
    void disarm_deadline();
    void disconnect(std::string_view why);
    void finish_waiters(std::shared_ptr<const redis_view> view, const std::string& error);
    void wake() noexcept;
    bool flush_due() const;
    bool has_changes() const;
    bool has_live_series() const;
    std::chrono::milliseconds lease_period() const;
    /// How often our keys' EXPIRE and our metadata records are written again.
    std::chrono::milliseconds refresh_period() const;

    net::io_context& ioc_;
    store& store_;
    flush_ledger ledger_;
    redis_sink_options options_;
    socket_type socket_;
    net::steady_timer wake_;
    net::steady_timer deadline_;
    std::uint64_t deadline_generation_ = 0;
    bool timed_out_ = false;
    reply_reader reader_;
    std::vector<reply_ptr> replies_;
    std::vector<char> read_buffer_;

    flush_batch inflight_; ///< sent, outcome unknown until EXEC's reply (or the probe)
    std::uint64_t inflight_seq_ = 0;
    std::uint64_t seq_ = 0;
    std::unordered_set<const family_spec*> meta_written_; ///< since the last (re)connect
    std::chrono::steady_clock::time_point next_flush_;
    std::chrono::steady_clock::time_point next_refresh_;
    std::chrono::steady_clock::time_point next_lease_;
    std::set<std::string> stale_daemons_; ///< to take out of the daemons set next flush
    bool live_written_ = false;           ///< our live key may exist: delete it at shutdown
    std::unordered_set<std::string> conflicts_logged_;
    std::list<waiter*> waiters_;

    bool running_ = false;
    bool connected_ = false;
    bool draining_ = false;
    bool stopped_ = false;
    bool early_ = false;
    bool logged_down_ = false;
    redis_stats stats_;
};

} // namespace metricsd::daemon

// The spool directory: files that clients which could not reach the daemon by their exit left
// for it (protocol/SPOOL.md). Read at start-up and every interval, each file applied exactly
// once (spool_file.hpp does the checking and applying). io_context thread only.
#pragma once

#include "daemon/ingest/ingest_handler.hpp"
#include "daemon/net/log_limiter.hpp"
#include "daemon/net/net.hpp"

#include <chrono>
#include <cstdint>
#include <set>
#include <string>

namespace metricsd::daemon {

class store;

struct spool_options {
    std::string dir;                        ///< created (0700, or 01770 with any_owner) if missing
    std::uint64_t max_file_bytes = 16u << 20; ///< bigger files are set aside unread
    std::chrono::seconds interval{2};       ///< between scans once running
    /// Read files of any owner (the directory's permissions decide who may write); otherwise
    /// only files owned by the daemon's own uid.
    bool any_owner = false;
    ingest_limits limits;                   ///< a file is replayed as a connection with these
};

/// What the spool reader did since start, for the self-metrics.
struct spool_stats {
    std::uint64_t files_applied = 0;
    std::uint64_t ops_applied = 0;
    std::uint64_t ops_refused = 0;           ///< by the store's rules, as on a connection
    std::uint64_t rejected_owner = 0;        ///< another uid's file (left in place, counted once)
    std::uint64_t rejected_size = 0;         ///< over max_file_bytes (renamed *.rejected)
    std::uint64_t rejected_format = 0;       ///< not a spool file or frames that do not decode
    std::uint64_t read_errors = 0;           ///< open/read/unlink failures (retried next scan)
};

class spool_reader {
public:
    spool_reader(net::io_context& ioc, store& s, spool_options options);

    /// Create the directory if it is missing. A failure is logged, not thrown: the daemon
    /// serves without a spool rather than not at all.
    void prepare();
    /// Apply every complete spool file now, oldest name first; returns how many were applied.
    std::size_t scan();
    /// Scan every interval until stop().
    void start();
    void stop();

    const spool_stats& stats() const noexcept { return stats_; }
    const std::string& dir() const noexcept { return options_.dir; }

private:
    void schedule();
    /// One file: checks, read, apply, unlink. False when it was left for a later scan.
    bool take(const std::string& name);
    void set_aside(const std::string& name, const std::string& why);
    void warn(const std::string& text);

    store& store_;
    spool_options options_;
    net::steady_timer timer_;
    bool stopped_ = false;
    spool_stats stats_;
    std::set<std::string> foreign_; ///< other owners' files already counted and logged
    log_limiter log_{std::chrono::seconds(60)};
};

} // namespace metricsd::daemon

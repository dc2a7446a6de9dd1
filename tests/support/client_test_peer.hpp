// A real in-process metricsd ingest peer for client tests: the daemon's own store and
// ingest_handler served over a real Unix socket by blocking threads.
#pragma once

#include "daemon/store/store.hpp"
#include "harness.hpp" // temp_dir

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace metricsd::test {

/// Accepts connections on `socket_path` and feeds each one to its own daemon::ingest_handler
/// on its own thread. The store outlives stop()/start() cycles, like the daemon's memory
/// backend outlives a client's reconnects. Thread-safe.
class test_peer {
public:
    /// Listens at once unless start_now is false.
    explicit test_peer(std::string socket_path, bool start_now = true);
    ~test_peer();
    test_peer(const test_peer&) = delete;
    test_peer& operator=(const test_peer&) = delete;

    /// Bind (replacing a stale socket file) and accept in the background.
    void start();
    /// Close the listener and every connection (workers retire as on a real disconnect).
    void stop();

    const std::string& socket_path() const noexcept { return path_; }
    /// Run f on the store under the peer's mutex.
    void with_store(const std::function<void(const daemon::store&)>& f) const;
    /// Counter value, or the combined value of a gauge, or nullopt if the series is missing.
    std::optional<double> value(const std::string& family,
                                const std::vector<std::string>& labels = {}) const;
    /// Pids of every connection accepted so far.
    std::set<std::int64_t> pids() const;
    std::size_t connections() const;

private:
    struct connection;
    void accept_loop(int listen_fd);
    void serve(std::shared_ptr<connection> c);

    std::string path_;
    mutable std::mutex mutex_; ///< guards store_ and the members below
    daemon::store store_;
    std::set<std::int64_t> pids_;
    std::size_t accepted_ = 0;
    std::vector<std::shared_ptr<connection>> open_;
    std::atomic<bool> running_{false};
    int listen_fd_ = -1;
    std::thread acceptor_;
    std::vector<std::thread> servers_;
};

} // namespace metricsd::test

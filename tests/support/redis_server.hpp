// A real redis-server for integration tests, and a blocking client to inspect what the daemon
// wrote. The client is hiredis's own synchronous API, independent of the daemon's RESP code,
// so a bug there cannot hide itself in the assertions.
#pragma once

#include "harness.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

struct redisContext;

namespace metricsd::test {

/// One Redis reply with owned data (copied out of hiredis's redisReply).
struct redis_reply {
    enum class kind { string, status, error, integer, nil, array };
    kind type = kind::nil;
    std::string text;                  ///< string, status, error
    long long integer = 0;             ///< integer
    std::vector<redis_reply> elements; ///< array
};

/// A blocking connection (TCP or Unix socket) with a 5 s timeout per command. Throws
/// std::runtime_error when it cannot connect or the connection breaks; error replies are
/// returned, not thrown. Not thread-safe.
class redis_client {
public:
    /// TCP to 127.0.0.1:port, then SELECT db when db != 0.
    explicit redis_client(int port, int db = 0);
    /// Unix socket at path.
    explicit redis_client(const std::string& unix_path, int db = 0);
    ~redis_client();
    redis_client(const redis_client&) = delete;
    redis_client& operator=(const redis_client&) = delete;

    redis_reply command(const std::vector<std::string>& argv);
    /// The reply's text (string, status or error); "" for nil. Throws for other types.
    std::string text(const std::vector<std::string>& argv);
    /// An integer reply (TTL, EXISTS, HLEN, ...); throws for other types.
    long long integer(const std::vector<std::string>& argv);
    /// HGETALL as field -> value.
    std::map<std::string, std::string> hash(const std::string& key);
    /// KEYS pattern, sorted.
    std::vector<std::string> keys(const std::string& pattern = "*");

private:
    void select(int db);

    redisContext* ctx_ = nullptr;
};

/// redis-server on a free loopback port (and a Unix socket) in its own temp dir, with RDB
/// snapshots off. Can be killed and restarted on the same port and dir, so with append_only
/// the AOF is replayed on restart. Stopped (SIGTERM, then SIGKILL) on destruction.
class redis_server {
public:
    struct options {
        /// --appendonly yes --appendfsync always: every write acknowledged is on disk.
        bool append_only = false;
        /// false: only reserve port and dir; call start() later ("Redis down at start-up").
        bool start = true;
    };

    redis_server() : redis_server(options{}) {}
    explicit redis_server(options opts);
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    int port() const noexcept { return port_; }
    /// The running redis-server's pid (for its CPU time); -1 when it is not running.
    pid_t pid() const noexcept { return proc_ ? proc_->pid() : -1; }
    /// Unix socket path (redis-server listens on it as well as on TCP).
    std::string unix_path() const { return dir_.file("redis.sock"); }
    /// "redis://127.0.0.1:PORT/DB", as the daemon's --redis-url takes it.
    std::string url(int db = 0) const;
    /// "unix://PATH".
    std::string unix_url() const { return "unix://" + unix_path(); }
    bool running() const { return proc_ && proc_->running(); }
    /// redis-server's own log (all of its runs).
    std::string log() const;

    /// Start on the reserved port and dir and wait (up to 10 s) until PING answers PONG (after
    /// the AOF is loaded). Throws if it does not come up.
    void start();
    /// Send `sig` and wait for the process to exit; SIGKILL simulates a crash.
    void kill(int sig);
    /// kill(SIGKILL) if running, then start() on the same port and dir.
    void restart();

    /// A new connection to db 0 (or `db`). Tests keep it as long as the server runs.
    std::unique_ptr<redis_client> connect(int db = 0) const;

private:
    options opts_;
    temp_dir dir_;
    int port_ = 0;
    int runs_ = 0;         ///< processes started, for the log file names
    bool ever_up_ = false; ///< a restart must keep the port; only the first start may move
    std::unique_ptr<child_process> proc_;
};

/// Poll `probe` every 10 ms until it returns true or `timeout` passes; returns the last result.
/// For waiting on asynchronous work (a flush, a reconnect), never as an assertion by itself.
template <class Probe>
bool eventually(Probe&& probe, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (probe())
            return true;
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

} // namespace metricsd::test

// One connection to Redis on the daemon's io_context: Asio owns the socket, hiredis formats and
// parses (STYLE.md section 3, design B). It connects (TCP or Unix socket), runs the AUTH/SELECT
// handshake, and makes one round trip at a time: write a pipeline, read its N replies, all
// under a deadline. It knows nothing about flushes or scrapes (redis_backend.hpp does).
// io_context thread only; not thread-safe.
#pragma once

#include "daemon/config/redis_url.hpp"
#include "daemon/net/net.hpp"
#include "daemon/net/retry_backoff.hpp"
#include "daemon/redis/redis_codec.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

class redis_connection {
public:
    /// `command_timeout`: a connect, handshake or round trip slower than this drops the link.
    redis_connection(net::io_context& ioc, redis_endpoint endpoint,
                     std::chrono::milliseconds command_timeout);
    redis_connection(const redis_connection&) = delete;
    redis_connection& operator=(const redis_connection&) = delete;

    /// (Re)connect and run the handshake (AUTH, SELECT, PING in one pipeline). False when the
    /// server cannot be reached or refuses; the first failure of an outage is logged.
    net::awaitable<bool> connect();

    /// Write `bytes` and read `count` replies (replies()). False on IO error, timeout or a
    /// protocol error: the connection is closed then, and its loss logged.
    net::awaitable<bool> roundtrip(const std::string& bytes, std::size_t count);

    /// The replies of the last successful round trip, in order.
    const std::vector<reply_ptr>& replies() const noexcept { return replies_; }

    /// Drop the connection, logging why when it was up (the backend then reconnects).
    void disconnect(std::string_view why);
    /// Close quietly (end of run).
    void close() noexcept;
    /// Close the socket under a pending connect or round trip, which then fails (and logs the
    /// loss) as any IO error would: how a shutdown deadline stops a stuck request.
    void abort();

    /// True from a successful handshake until the connection is dropped or closed.
    bool connected() const noexcept { return connected_; }
    const redis_endpoint& endpoint() const noexcept { return endpoint_; }

    /// How long to wait before the next connect attempt: doubles from 100 ms up to 5 s with
    /// each call, and starts over after a successful connect.
    std::chrono::milliseconds next_backoff() noexcept;

private:
    using socket_type = net::generic::stream_protocol::socket;

    net::awaitable<bool> open_socket();
    net::awaitable<bool> handshake();
    /// Close the socket if the current request takes longer than command_timeout.
    void arm_deadline();
    void disarm_deadline();

    net::io_context& ioc_;
    redis_endpoint endpoint_;
    std::chrono::milliseconds command_timeout_;
    socket_type socket_;
    net::steady_timer deadline_;
    std::uint64_t deadline_generation_ = 0;
    reply_reader reader_;
    std::vector<reply_ptr> replies_;
    std::vector<char> read_buffer_;
    retry_backoff backoff_;
    bool timed_out_ = false;
    bool connected_ = false;
    bool logged_down_ = false; ///< this outage was logged already
};

} // namespace metricsd::daemon

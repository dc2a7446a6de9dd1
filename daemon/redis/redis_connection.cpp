#include "daemon/redis/redis_connection.hpp"

#include <spdlog/spdlog.h>

#include <initializer_list>

namespace metricsd::daemon {
namespace {

constexpr std::chrono::milliseconds first_backoff{100};
constexpr std::chrono::milliseconds max_backoff{5000};

/// The first error reply among `replies`, or empty.
std::string first_error(std::span<const reply_ptr> replies) {
    for (const auto& r : replies)
        if (r && r->type == REDIS_REPLY_ERROR)
            return std::string(reply_text(*r));
    return {};
}

} // namespace

redis_connection::redis_connection(net::io_context& ioc, redis_endpoint endpoint,
                                   std::chrono::milliseconds command_timeout)
    : ioc_(ioc), endpoint_(std::move(endpoint)), command_timeout_(command_timeout), socket_(ioc),
      deadline_(ioc), read_buffer_(64 * 1024), backoff_(first_backoff, max_backoff) {}

std::chrono::milliseconds redis_connection::next_backoff() noexcept {
    return backoff_.next();
}

net::awaitable<bool> redis_connection::connect() {
    // One co_await per statement: g++ 12 miscompiles co_await inside `&&` (SIGILL).
    bool ok = co_await open_socket();
    if (ok)
        ok = co_await handshake();
    if (!ok)
        co_return false;
    backoff_.reset();
    connected_ = true;
    logged_down_ = false;
    co_return true;
}

net::awaitable<bool> redis_connection::open_socket() {
    boost::system::error_code ec;
    socket_.close(ec);
    reader_ = reply_reader{};
    const auto& e = endpoint_;
    arm_deadline(); // connect or handshake taking too long closes the socket
    if (e.kind == redis_endpoint::transport::unix_socket) {
        const net::generic::stream_protocol::endpoint ep{uds::endpoint(e.path)};
        socket_.open(ep.protocol(), ec);
        if (!ec)
            co_await socket_.async_connect(ep, net::redirect_error(net::use_awaitable, ec));
    } else {
        tcp::resolver resolver(ioc_);
        const std::string port = std::to_string(e.port);
        const auto results = co_await resolver.async_resolve(
            e.host, port, net::redirect_error(net::use_awaitable, ec));
        if (!ec) {
            ec = net::error::host_not_found;
            for (const auto& r : results) {
                const net::generic::stream_protocol::endpoint ep{r.endpoint()};
                socket_.close(ec);
                socket_.open(ep.protocol(), ec);
                if (ec)
                    continue;
                co_await socket_.async_connect(ep, net::redirect_error(net::use_awaitable, ec));
                if (!ec) {
                    // Flushes are one write each; waiting for more bytes only adds latency.
                    socket_.set_option(tcp::no_delay(true), ec);
                    ec = {};
                    break;
                }
            }
        }
    }
    disarm_deadline();
    if (ec) {
        if (!logged_down_)
            spdlog::warn("redis: cannot connect to {}: {}; retrying with backoff", describe(e),
                         ec.message());
        logged_down_ = true;
        socket_.close(ec);
        co_return false;
    }
    co_return true;
}

net::awaitable<bool> redis_connection::handshake() {
    // AUTH and SELECT in one pipeline, then PING so every handshake has a reply to wait for.
    const auto& e = endpoint_;
    std::string bytes;
    std::size_t count = 0;
    const auto add = [&](std::initializer_list<std::string_view> argv) {
        bytes += command_bytes(argv);
        ++count;
    };
    if (e.password) {
        if (e.username.empty())
            add({"AUTH", *e.password});
        else
            add({"AUTH", e.username, *e.password});
    }
    const auto db = std::to_string(e.db);
    if (e.db != 0)
        add({"SELECT", db});
    add({"PING"});
    if (!co_await roundtrip(bytes, count))
        co_return false;
    if (const auto why = first_error(replies_); !why.empty()) {
        spdlog::error("redis: {} refused the handshake: {}", describe(e), why);
        logged_down_ = true;
        disconnect("handshake refused");
        co_return false;
    }
    co_return true;
}

net::awaitable<bool> redis_connection::roundtrip(const std::string& bytes, std::size_t count) {
    replies_.clear();
    arm_deadline();
    boost::system::error_code ec;
    co_await net::async_write(socket_, net::buffer(bytes),
                              net::redirect_error(net::use_awaitable, ec));
    while (!ec && replies_.size() < count) {
        auto r = reader_.next();
        if (r.state == reply_reader::status::reply) {
            replies_.push_back(std::move(r.reply));
            continue;
        }
        if (r.state == reply_reader::status::protocol_error) {
            disarm_deadline();
            spdlog::error("redis: protocol error: {}", reader_.error());
            disconnect("protocol error");
            co_return false;
        }
        const std::size_t n = co_await socket_.async_read_some(
            net::buffer(read_buffer_), net::redirect_error(net::use_awaitable, ec));
        if (!ec)
            reader_.feed(std::string_view(read_buffer_.data(), n));
    }
    disarm_deadline();
    if (ec) {
        disconnect(timed_out_ ? std::string_view("request timed out") : ec.message());
        co_return false;
    }
    co_return true;
}

void redis_connection::arm_deadline() {
    const auto generation = ++deadline_generation_;
    timed_out_ = false;
    deadline_.expires_after(command_timeout_);
    deadline_.async_wait([this, generation](boost::system::error_code ec) {
        // A cancel() that comes after expiry cannot stop a queued handler: the generation can.
        if (ec || generation != deadline_generation_)
            return;
        timed_out_ = true;
        socket_.close(ec);
    });
}

void redis_connection::disarm_deadline() {
    ++deadline_generation_;
    deadline_.cancel();
}

void redis_connection::disconnect(std::string_view why) {
    if (connected_)
        spdlog::warn("redis: connection to {} lost: {}; reconnecting", describe(endpoint_), why);
    connected_ = false;
    boost::system::error_code ec;
    socket_.close(ec);
}

void redis_connection::close() noexcept {
    connected_ = false;
    boost::system::error_code ec;
    socket_.close(ec);
}

void redis_connection::abort() {
    boost::system::error_code ec;
    socket_.close(ec);
    disarm_deadline();
}

} // namespace metricsd::daemon

// One HTTP/1.1 connection: read a request, answer it through http_handler, repeat while the
// client keeps the connection alive. A template on the stream so tests can run it over
// beast::test::stream; the server instantiates it for beast::tcp_stream.
#pragma once

#include "daemon/http/http_handler.hpp"
#include "daemon/net/net.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <vector>

namespace metricsd::daemon {

/// Limits of the HTTP endpoint. Every one bounds what a client can make us hold or wait for.
struct http_limits {
    std::size_t header_limit = 8192; ///< request line + headers, bytes; more gets 431
    std::size_t body_limit = 1024;   ///< scrapes have no body; a larger one gets 413
    /// Deadline for reading one whole request (idle keep-alive time included) and, separately,
    /// for writing its response. Applies only to streams with expires_after (tcp_stream).
    std::chrono::seconds request_timeout{30};
    std::size_t max_connections = 128; ///< enforced by http_server; excess ones are closed
    unsigned max_requests_per_connection = 1000; ///< the last response says Connection: close
};

/// The open sessions of one owner (http_server), so it can close them all at shutdown.
/// Holds raw pointers registered by each session for its lifetime: safe only because
/// everything runs on the one io_context thread. Not thread-safe.
template <class Stream>
class session_registry {
public:
    /// Keeps one stream registered while alive. A null registry registers nothing.
    class guard {
    public:
        guard(session_registry* registry, Stream& stream) : registry_(registry), stream_(&stream) {
            if (registry_ != nullptr) {
                registry_->streams_.insert(stream_);
                if (registry_->closed_) {
                    close_stream(*stream_); // started after close_all(): end at once
                }
            }
        }
        ~guard() {
            if (registry_ != nullptr) {
                registry_->streams_.erase(stream_);
            }
        }
        guard(const guard&) = delete;
        guard& operator=(const guard&) = delete;

    private:
        session_registry* registry_;
        Stream* stream_;
    };

    /// Closes every registered stream, and any registered later: their pending reads and
    /// writes complete with an error and the sessions end on their own.
    void close_all() {
        closed_ = true;
        const std::vector<Stream*> open(streams_.begin(), streams_.end());
        for (Stream* s : open) {
            close_stream(*s);
        }
    }

    std::size_t size() const noexcept { return streams_.size(); }

private:
    static void close_stream(Stream& s) {
        if constexpr (requires { s.close(); }) {
            s.close(); // tcp_stream: also cancels its timers
        } else {
            beast::close_socket(beast::get_lowest_layer(s));
        }
    }

    std::unordered_set<Stream*> streams_;
    bool closed_ = false;
};

namespace detail {

/// Arms the stream's deadline when it has one (beast::basic_stream); a no-op otherwise.
template <class Stream>
void arm_timeout(Stream& stream, std::chrono::seconds timeout) {
    if constexpr (requires { stream.expires_after(timeout); }) {
        stream.expires_after(timeout);
    }
}

/// Ends our direction after the last response: the client still reads every byte we sent,
/// then sees EOF. Streams without a socket (test streams) are simply closed.
template <class Stream>
void shutdown_send(Stream& stream) {
    if constexpr (requires { stream.socket().shutdown(tcp::socket::shutdown_send); }) {
        beast::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec); // peer may be gone: fine
    } else {
        beast::close_socket(beast::get_lowest_layer(stream));
    }
}

/// The status to answer a failed read with, or http::status::unknown when the failure is a
/// network outcome (EOF, reset, timeout, shutdown) that ends the session without a reply.
inline http::status read_error_status(const beast::error_code& ec) noexcept {
    if (ec.category() != http::make_error_code(http::error::bad_method).category()) {
        return http::status::unknown; // asio/system/beast::error::timeout: the peer or we left
    }
    switch (static_cast<http::error>(ec.value())) {
    case http::error::end_of_stream:   // closed between requests
    case http::error::partial_message: // closed mid-request: nobody is left to read a reply
        return http::status::unknown;
    case http::error::header_limit:
    case http::error::buffer_overflow:
        return http::status::request_header_fields_too_large;
    case http::error::body_limit:
        return http::status::payload_too_large;
    default:
        return http::status::bad_request;
    }
}

/// Ends a session whose read failed: requests that did not parse get 400/413/431 and a
/// half-close; network outcomes (EOF, reset, timeout, shutdown) get nothing.
template <class Stream>
net::awaitable<void> end_after_read_error(Stream& stream, http_handler& handler,
                                          beast::error_code read_error, // by value: a coroutine
                                          std::chrono::seconds timeout) {
    const http::status status = read_error_status(read_error);
    spdlog::debug("http: connection ends: {}", read_error.message());
    if (status == http::status::unknown) {
        co_return;
    }
    const http_response res = handler.error_response(status);
    beast::error_code ec;
    arm_timeout(stream, timeout);
    co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
    if (!ec) {
        shutdown_send(stream);
    }
}

} // namespace detail

/// Serves one connection until the client closes it, asks to, misbehaves or times out, or
/// `max_requests_per_connection` is reached. Owns `stream`. Network errors end the session
/// quietly (debug log); a request that does not parse gets 400/413/431 and the connection is
/// closed. Does not throw for network or protocol errors; only std::bad_alloc escapes.
/// io_context thread only. `handler` (and `registry`, if not null) must outlive the session.
template <class Stream>
net::awaitable<void> http_session(Stream stream, http_handler& handler, http_limits limits,
                                  session_registry<Stream>* registry = nullptr) {
    const typename session_registry<Stream>::guard registered{registry, stream};
    beast::flat_buffer buffer; // outlives one request: it may hold the next pipelined one
    for (unsigned served = 0;;) {
        http::request_parser<http::empty_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
        parser.body_limit(limits.body_limit);
        beast::error_code ec;
        detail::arm_timeout(stream, limits.request_timeout);
        co_await http::async_read(stream, buffer, parser,
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec) {
            co_await detail::end_after_read_error(stream, handler, ec, limits.request_timeout);
            co_return;
        }
        // A named reference: no temporaries inside a co_await expression (STYLE.md pitfall 5).
        const http_request& request = parser.get();
        http_result result = co_await handler.handle(request);
        if (!result.error.empty()) {
            spdlog::warn("http: {} {}: {}", to_std_view(parser.get().method_string()),
                         to_std_view(parser.get().target()), result.error);
        }
        if (++served >= limits.max_requests_per_connection) {
            result.response.keep_alive(false);
        }
        detail::arm_timeout(stream, limits.request_timeout);
        co_await http::async_write(stream, result.response,
                                   net::redirect_error(net::use_awaitable, ec));
        if (ec) {
            spdlog::debug("http: connection ends: write failed: {}", ec.message());
            co_return;
        }
        if (!result.response.keep_alive()) {
            detail::shutdown_send(stream);
            co_return;
        }
    }
}

} // namespace metricsd::daemon

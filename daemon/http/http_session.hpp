// One HTTP/1.1 connection: read a request, answer it through http_handler, repeat while the
// client keeps the connection alive. A template on the stream so tests can run it over
// beast::test::stream; the server instantiates it for beast::tcp_stream.
#pragma once

#include "daemon/http/http_handler.hpp"
#include "daemon/net/net.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace metricsd::daemon {

/// Limits of the HTTP endpoint. Every one bounds what a client can make us hold or wait for.
struct http_limits {
    std::size_t header_limit = 8192; ///< request line + headers, bytes; more gets 431
    std::size_t body_limit = 1024;   ///< scrapes have no body; a larger one gets 413
    /// Deadline for reading a connection's first request and for writing a whole response
    /// (a streamed /metrics body: its header). Applies only to streams with expires_after
    /// (tcp_stream), as do the two below.
    std::chrono::seconds request_timeout{30};
    /// Deadline for the next request on a kept-alive connection, from the end of the previous
    /// response. Prometheus scrapes every 15-60 s and reconnects at no cost when we closed, so
    /// a short idle time costs it one TCP handshake per scrape at worst, while an idle
    /// connection kept for ever holds one of max_connections.
    std::chrono::seconds keep_alive_idle{15};
    /// A streamed /metrics body must make progress: each slice (~64 KiB) written within this,
    /// or the reader is dropped and the render it shares goes on without it.
    std::chrono::seconds scrape_progress_timeout{10};
    std::size_t max_connections = 128; ///< enforced by http_server; see http_server.hpp
    std::size_t max_connections_per_peer = 32; ///< per remote IP address; 0: no cap
    unsigned max_requests_per_connection = 1000; ///< the last response says Connection: close
};

/// The open sessions of one owner (http_server), so it can close them all at shutdown, or
/// the one idle the longest between two requests when it needs a slot. Holds raw pointers
/// registered by each session for its lifetime: safe only because everything runs on the one
/// io_context thread. Not thread-safe.
template <class Stream>
class session_registry {
public:
    using clock = std::chrono::steady_clock;

    /// Keeps one stream registered while alive. A null registry registers nothing.
    class guard {
    public:
        guard(session_registry* registry, Stream& stream) : registry_(registry), stream_(&stream) {
            if (registry_ != nullptr) {
                registry_->streams_.emplace(stream_, busy);
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

        /// The session waits for the next request on a kept-alive connection (`idle`), or
        /// works on one.
        void idle(bool idle) noexcept {
            if (registry_ != nullptr) {
                const auto it = registry_->streams_.find(stream_);
                if (it != registry_->streams_.end()) {
                    it->second = idle ? clock::now() : busy;
                }
            }
        }

    private:
        session_registry* registry_;
        Stream* stream_;
    };

    /// Closes every registered stream, and any registered later: their pending reads and
    /// writes complete with an error and the sessions end on their own.
    void close_all() {
        closed_ = true;
        std::vector<Stream*> open;
        for (const auto& [s, since] : streams_) {
            open.push_back(s);
        }
        for (Stream* s : open) {
            close_stream(*s);
        }
    }

    /// Closes the kept-alive connection idle the longest, if any: its session ends on its own.
    /// Returns whether there was one.
    bool close_idlest() {
        const auto it = std::min_element(streams_.begin(), streams_.end(),
                                         [](const auto& a, const auto& b) {
                                             return a.second < b.second;
                                         });
        if (it == streams_.end() || it->second == busy) {
            return false;
        }
        Stream* s = it->first;
        it->second = busy; // closing: not a candidate again
        close_stream(*s);
        return true;
    }

    std::size_t size() const noexcept { return streams_.size(); }

private:
    static constexpr clock::time_point busy = clock::time_point::max();

    static void close_stream(Stream& s) {
        if constexpr (requires { s.close(); }) {
            s.close(); // tcp_stream: also cancels its timers
        } else {
            beast::close_socket(beast::get_lowest_layer(s));
        }
    }

    /// Each stream, with the time it became idle between requests, or `busy`.
    std::unordered_map<Stream*, clock::time_point> streams_;
    bool closed_ = false;
};

namespace detail {

/// Arms the stream's deadline when it has one (beast::basic_stream); a no-op otherwise.
template <class Stream>
void arm_timeout(Stream& stream, std::chrono::seconds timeout) {
    // Through the lowest layer: a TLS stream's deadline is its TCP stream's.
    if constexpr (requires { beast::get_lowest_layer(stream).expires_after(timeout); }) {
        beast::get_lowest_layer(stream).expires_after(timeout);
    }
}

/// Ends our direction after the last response: the client still reads every byte we sent,
/// then sees EOF. Streams without a socket (test streams) are simply closed.
template <class Stream>
void shutdown_send(Stream& stream) {
    if constexpr (requires {
                      beast::get_lowest_layer(stream).socket().shutdown(
                          tcp::socket::shutdown_send);
                  }) {
        beast::error_code ec; // peer may be gone: fine
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
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
    http_response res = handler.error_response(status);
    handler.decorate(res);
    beast::error_code ec;
    arm_timeout(stream, timeout);
    co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
    if (!ec) {
        shutdown_send(stream);
    }
}

/// Writes a whole response; true when it went out.
template <class Stream>
net::awaitable<bool> write_whole(Stream& stream, http_handler& handler, http_response& res,
                                 std::chrono::seconds timeout) {
    handler.decorate(res);
    beast::error_code ec;
    arm_timeout(stream, timeout);
    co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
        spdlog::debug("http: connection ends: write failed: {}", ec.message());
    }
    co_return !ec;
}

/// Answers a /metrics GET or HEAD with a streamed body: the header once the render's first
/// slice is there, then each slice as a chunk (HTTP/1.0: raw, up to the close), each within
/// scrape_progress_timeout. HEAD renders nothing. Returns whether the connection can serve
/// another request.
template <class Stream>
net::awaitable<bool> stream_scrape(Stream& stream, http_handler& handler, const http_request& req,
                                   bool keep_alive, http_limits limits) {
    beast::error_code ec;
    if (req.method() == http::verb::head) {
        auto res = handler.scrape_header(req, handler.scrape_gzip(req));
        handler.decorate(res);
        res.keep_alive(keep_alive && res.keep_alive());
        http::response_serializer<http::empty_body> sr{res};
        arm_timeout(stream, limits.request_timeout);
        co_await http::async_write_header(stream, sr, net::redirect_error(net::use_awaitable, ec));
        handler.scrape_done(true, false, false);
        co_return !ec && res.keep_alive();
    }
    const auto executor = co_await net::this_coro::executor;
    const auto sub = handler.begin_scrape(executor, req);
    scrape_slice slice = co_await sub->next();
    if (slice.what != scrape_slice::kind::data) {
        http_result r = handler.scrape_refusal(req, slice);
        if (!r.error.empty()) {
            spdlog::warn("http: {} {}: {}", to_std_view(req.method_string()),
                         to_std_view(req.target()), r.error);
        }
        r.response.keep_alive(keep_alive && r.response.keep_alive());
        const bool written =
            co_await write_whole(stream, handler, r.response, limits.request_timeout);
        co_return written && r.response.keep_alive();
    }
    auto res = handler.scrape_header(req, slice.gzip);
    handler.decorate(res);
    res.keep_alive(keep_alive && res.keep_alive());
    const bool chunked = res.chunked();
    http::response_serializer<http::empty_body> sr{res};
    arm_timeout(stream, limits.request_timeout);
    co_await http::async_write_header(stream, sr, net::redirect_error(net::use_awaitable, ec));
    for (;;) {
        if (ec) {
            spdlog::debug("http: scrape cut: write failed: {}", ec.message());
            handler.scrape_done(false, slice.gzip, true);
            co_return false;
        }
        if (!slice.data.empty()) {
            const net::const_buffer data(slice.data.data(), slice.data.size());
            arm_timeout(stream, limits.scrape_progress_timeout);
            if (chunked) {
                const auto chunk = http::make_chunk(data);
                co_await net::async_write(stream, chunk,
                                          net::redirect_error(net::use_awaitable, ec));
            } else {
                co_await net::async_write(stream, data,
                                          net::redirect_error(net::use_awaitable, ec));
            }
            if (ec) {
                continue; // counted above
            }
        }
        if (slice.last) {
            break;
        }
        slice = co_await sub->next();
        if (slice.what != scrape_slice::kind::data) {
            // The render failed midway: cut the connection without the last chunk, so the
            // client sees an incomplete body rather than a short one.
            spdlog::warn("http: scrape cut: the render ended early");
            handler.scrape_done(false, res.count(http::field::content_encoding) != 0, true);
            co_return false;
        }
    }
    if (chunked) {
        const auto last = http::make_chunk_last();
        arm_timeout(stream, limits.scrape_progress_timeout);
        co_await net::async_write(stream, last, net::redirect_error(net::use_awaitable, ec));
    }
    handler.scrape_done(false, slice.gzip, bool(ec));
    co_return !ec && res.keep_alive();
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
    typename session_registry<Stream>::guard registered{registry, stream};
    beast::flat_buffer buffer; // outlives one request: it may hold the next pipelined one
    for (unsigned served = 0;;) {
        http::request_parser<http::empty_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
        parser.body_limit(limits.body_limit);
        beast::error_code ec;
        // Between requests the connection is idle: a shorter deadline, and the server may
        // close it first when it needs the slot.
        detail::arm_timeout(stream, served == 0 ? limits.request_timeout
                                                : std::min(limits.keep_alive_idle,
                                                           limits.request_timeout));
        registered.idle(served != 0 && buffer.size() == 0);
        co_await http::async_read(stream, buffer, parser,
                                  net::redirect_error(net::use_awaitable, ec));
        registered.idle(false);
        if (ec) {
            co_await detail::end_after_read_error(stream, handler, ec, limits.request_timeout);
            co_return;
        }
        // A named reference: no temporaries inside a co_await expression (STYLE.md pitfall 5).
        const http_request& request = parser.get();
        const bool keep_alive = ++served < limits.max_requests_per_connection;
        if (auto refused = handler.refuse_unauthorized(request)) {
            if (!keep_alive)
                refused->response.keep_alive(false);
            const bool written = co_await detail::write_whole(stream, handler, refused->response,
                                                              limits.request_timeout);
            if (!written)
                co_return;
            if (!refused->response.keep_alive()) {
                detail::shutdown_send(stream);
                co_return;
            }
            continue;
        }
        if (handler.streams(request)) {
            const bool more =
                co_await detail::stream_scrape(stream, handler, request, keep_alive, limits);
            if (!more) {
                detail::shutdown_send(stream);
                co_return;
            }
            continue;
        }
        http_result result = co_await handler.handle(request);
        if (!result.error.empty()) {
            spdlog::warn("http: {} {}: {}", to_std_view(parser.get().method_string()),
                         to_std_view(parser.get().target()), result.error);
        }
        if (!keep_alive) {
            result.response.keep_alive(false);
        }
        const bool written =
            co_await detail::write_whole(stream, handler, result.response, limits.request_timeout);
        if (!written) {
            co_return;
        }
        if (!result.response.keep_alive()) {
            detail::shutdown_send(stream);
            co_return;
        }
    }
}

} // namespace metricsd::daemon

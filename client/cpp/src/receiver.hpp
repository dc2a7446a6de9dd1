// The read side of one connection: reads what the daemon sent and decodes its WELCOME, ACK and
// ERROR frames, handing each to the sender as it is decoded.
#pragma once

#include <metricsd/protocol/decoder.hpp>

#include <string>

namespace metricsd::detail {

/// What the daemon can tell the sender. Called on the sender thread, inside receiver::read.
class daemon_events {
public:
    virtual void on_welcome(const protocol::welcome& w) = 0;
    virtual void on_ack(std::uint64_t token) = 0;
    virtual void on_error_frame(const protocol::error& e) = 0;
    /// Bytes that did not decode ("client: bad frame from daemon: ..."); not an ERROR frame.
    virtual void on_bad_frame(const std::string& text) = 0;

protected:
    daemon_events() = default;
    ~daemon_events() = default;
    daemon_events(const daemon_events&) = default;
    daemon_events& operator=(const daemon_events&) = default;
};

/// One per connection (the decoder's state belongs to one byte stream). Not thread-safe: the
/// sender thread only.
class receiver {
public:
    receiver() : decoder_(protocol::role::client) {}

    /// Read everything fd has without blocking and hand every decoded frame to events.
    /// Returns false when the connection is over: EOF, a socket error, or an undecodable frame
    /// the decoder cannot skip.
    bool read(int fd, daemon_events& events);

private:
    bool dispatch(daemon_events& events);

    protocol::decoder decoder_;
};

} // namespace metricsd::detail

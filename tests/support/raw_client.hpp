// A blocking protocol-level client for tests: writes encoded frames to the daemon's Unix socket
// and reads its replies with the real decoder. Lets tests send exactly the bytes they mean,
// including malformed ones.
#pragma once

#include <metricsd/protocol/decoder.hpp>
#include <metricsd/protocol/encoder.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace metricsd::test {

/// One decoded daemon reply with owned strings.
struct reply {
    protocol::frame_type type{};
    std::uint64_t token = 0;     ///< ACK
    protocol::error_code code{}; ///< ERROR
    std::uint32_t handle = 0;    ///< ERROR
    std::string message;         ///< ERROR
};

class raw_client {
public:
    explicit raw_client(const std::string& socket_path);
    ~raw_client();
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;

    void send(const std::string& bytes);
    /// Like send(), for bytes the daemon may refuse before it has read them all: stops without
    /// throwing when the daemon closes the connection meanwhile (EPIPE, ECONNRESET), since
    /// its ERROR frame is still there to read. Returns whether every byte went out.
    bool send_until_closed(const std::string& bytes);
    /// Read replies until one of type `until` arrives (included), EOF, or timeout.
    std::vector<reply> read_until(protocol::frame_type until,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// Send SYNC(token) and wait for its ACK; returns every reply up to it.
    std::vector<reply> sync(std::uint64_t token);
    /// True once the daemon closed the connection (read returned 0).
    bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(5));

private:
    int fd_ = -1;
    protocol::decoder decoder_{protocol::role::client};
};

/// Convenience encoders.
std::string hello();
std::string family(std::uint32_t handle, std::string_view name, protocol::metric_type type,
                   std::vector<std::string_view> labels = {},
                   protocol::gauge_mode mode = protocol::gauge_mode::livesum,
                   std::vector<std::string_view> buckets = {});
std::string series(std::uint32_t handle, std::uint32_t fam,
                   std::vector<std::string_view> values = {});
std::string ops(const std::vector<protocol::op_record>& records);

} // namespace metricsd::test

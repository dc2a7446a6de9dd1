#include "raw_client.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace metricsd::test {

raw_client::raw_client(const std::string& socket_path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, socket_path.c_str(), sizeof a.sun_path - 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd_);
        throw std::runtime_error("cannot connect to " + socket_path + ": " + std::strerror(errno));
    }
}

raw_client::~raw_client() {
    if (fd_ >= 0)
        ::close(fd_);
}

void raw_client::send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0)
            throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
        sent += static_cast<std::size_t>(n);
    }
}

bool raw_client::send_until_closed(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            if (errno == EPIPE || errno == ECONNRESET)
                return false;
            throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
        }
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

std::vector<reply> raw_client::read_until(protocol::frame_type until,
                                          std::chrono::milliseconds timeout) {
    std::vector<reply> out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        for (auto r = decoder_.next(); r.state == protocol::decode_result::status::message;
             r = decoder_.next()) {
            reply rep;
            if (auto* a = std::get_if<protocol::ack>(&r.msg)) {
                rep.type = protocol::frame_type::ack;
                rep.token = a->token;
            } else if (auto* e = std::get_if<protocol::error>(&r.msg)) {
                rep.type = protocol::frame_type::error;
                rep.code = e->code;
                rep.handle = e->handle;
                rep.message = std::string(e->message);
            } else {
                rep.type = protocol::frame_type::welcome;
            }
            out.push_back(rep);
            if (rep.type == until)
                return out;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd_, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            return out;
        auto buf = decoder_.prepare(65536);
        const auto n = ::recv(fd_, buf.data(), buf.size(), 0);
        if (n <= 0)
            return out;
        decoder_.commit(static_cast<std::size_t>(n));
    }
}

std::vector<reply> raw_client::sync(std::uint64_t token) {
    std::string b;
    protocol::encode(b, protocol::sync{token});
    send(b);
    return read_until(protocol::frame_type::ack);
}

bool raw_client::closed_by_peer(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd_, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            return false;
        const auto n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0)
            return true;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return errno == ECONNRESET;
    }
}

std::string hello() {
    std::string b;
    protocol::encode(b, protocol::handshake{});
    return b;
}

std::string family(std::uint32_t handle, std::string_view name, protocol::metric_type type,
                   std::vector<std::string_view> labels, protocol::gauge_mode mode,
                   std::vector<std::string_view> buckets) {
    std::string b;
    protocol::encode(
        b, protocol::family_decl{handle, type, mode, name, "Test metric.", labels, buckets});
    return b;
}

std::string series(std::uint32_t handle, std::uint32_t fam, std::vector<std::string_view> values) {
    std::string b;
    protocol::encode(b, protocol::series_decl{handle, fam, values});
    return b;
}

std::string ops(const std::vector<protocol::op_record>& records) {
    std::string b;
    protocol::encode_ops(b, records);
    return b;
}

} // namespace metricsd::test

#include "client_test_peer.hpp"

#include "daemon/store/gauge.hpp"
#include "daemon/ingest/ingest_handler.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>

namespace metricsd::test {

/// One accepted socket. fd is closed by its server thread under the peer's mutex, so stop()
/// never shuts down a descriptor number that was already reused.
struct test_peer::connection {
    int fd = -1;
    std::int64_t pid = 0;
};

namespace {

bool write_all(int fd, const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

} // namespace

test_peer::test_peer(std::string socket_path, bool start_now) : path_(std::move(socket_path)) {
    if (start_now)
        start();
}

test_peer::~test_peer() {
    stop();
}

void test_peer::start() {
    ::unlink(path_.c_str());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd, 64) != 0)
        throw std::system_error(errno, std::generic_category(), "test_peer: listen " + path_);
    std::lock_guard g(mutex_);
    listen_fd_ = fd;
    running_ = true;
    acceptor_ = std::thread([this, fd] { accept_loop(fd); });
}

void test_peer::accept_loop(int listen_fd) {
    while (running_) {
        pollfd p{listen_fd, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0)
            continue; // re-check running_ every 20 ms
        const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        ucred cred{};
        socklen_t len = sizeof cred;
        ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
        auto c = std::make_shared<connection>(connection{fd, cred.pid});
        std::lock_guard g(mutex_);
        if (!running_) {
            ::close(fd);
            return;
        }
        pids_.insert(cred.pid);
        ++accepted_;
        open_.push_back(c);
        servers_.emplace_back([this, c] { serve(c); });
    }
}

void test_peer::serve(std::shared_ptr<connection> c) {
    std::unique_ptr<daemon::ingest_handler> h;
    {
        std::lock_guard g(mutex_);
        h = std::make_unique<daemon::ingest_handler>(store_, c->pid);
    }
    for (;;) {
        auto space = h->prepare(64 * 1024);
        const ssize_t n = ::read(c->fd, space.data(), space.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        h->commit(static_cast<std::size_t>(n));
        std::string out;
        bool keep = true;
        {
            std::lock_guard g(mutex_);
            keep = h->process();
            out.swap(h->output());
        }
        if ((!out.empty() && !write_all(c->fd, out)) || !keep)
            break;
    }
    std::lock_guard g(mutex_);
    h.reset(); // retires the worker, as the daemon does on disconnect
    ::close(c->fd);
    c->fd = -1;
}

void test_peer::stop() {
    std::thread acceptor;
    std::vector<std::thread> servers;
    {
        std::lock_guard g(mutex_);
        running_ = false;
        for (const auto& c : open_)
            if (c->fd >= 0)
                ::shutdown(c->fd, SHUT_RDWR); // wakes the server thread's read()
        acceptor.swap(acceptor_);
        servers.swap(servers_);
    }
    if (acceptor.joinable())
        acceptor.join();
    for (auto& t : servers)
        t.join();
    std::lock_guard g(mutex_);
    open_.clear();
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
        listen_fd_ = -1;
        ::unlink(path_.c_str());
    }
}

void test_peer::with_store(const std::function<void(const daemon::store&)>& f) const {
    std::lock_guard g(mutex_);
    f(store_);
}

std::optional<double> test_peer::value(const std::string& family,
                                       const std::vector<std::string>& labels) const {
    std::lock_guard g(mutex_);
    const auto f = store_.families().find(family);
    if (f == store_.families().end())
        return std::nullopt;
    const auto s = f->second->all_series().find(labels);
    if (s == f->second->all_series().end())
        return std::nullopt;
    const auto& spec = f->second->spec();
    switch (spec.type) {
    case protocol::metric_type::counter:
        return s->second.value;
    case protocol::metric_type::gauge:
        return daemon::combined_value(s->second, spec.mode);
    case protocol::metric_type::histogram:
        return s->second.histogram().count;
    case protocol::metric_type::summary:
        return s->second.summary().count;
    }
    return std::nullopt;
}

std::set<std::int64_t> test_peer::pids() const {
    std::lock_guard g(mutex_);
    return pids_;
}

std::size_t test_peer::connections() const {
    std::lock_guard g(mutex_);
    return accepted_;
}

} // namespace metricsd::test

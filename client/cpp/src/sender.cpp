// The background sender: connects with backoff, writes the buffered frames every
// flush_interval (or when woken), and reads the daemon's WELCOME/ACK/ERROR frames.
#include "client_core.hpp"

#include <metricsd/protocol/encoder.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace metricsd::detail {

void client_core::run(sender_state& st) noexcept {
    while (!stop_.load(std::memory_order_acquire)) {
        try {
            step(st);
        } catch (const std::exception& e) {
            // Only allocation can fail here; keep the thread alive and try again later.
            note_error(std::string("client: ") + e.what(), false);
            std::this_thread::sleep_for(opts_.flush_interval);
        }
    }
}

void client_core::step(sender_state& st) {
    if (sock_ < 0)
        maybe_connect(st);
    else
        connect_now_.store(false, std::memory_order_relaxed);
    wait_for_work(st);
    if (sock_ < 0)
        return;
    if (!read_input(st)) {
        disconnect(st);
        return;
    }
    const auto now = clock::now();
    if (st.woken || now >= st.next_send) {
        st.woken = false;
        st.next_send = now + opts_.flush_interval;
        send_pending(st);
    }
}

void client_core::maybe_connect(sender_state& st) {
    const bool urgent = connect_now_.exchange(false, std::memory_order_acquire);
    if (!urgent && clock::now() < st.next_attempt)
        return;
    if (open_connection(st))
        return;
    schedule_reconnect(st);
    if (urgent) {
        // flush() asked for a connection and there is none: its SYNC stays buffered for later,
        // but its caller learns now that it cannot be acknowledged.
        std::uint64_t newest = 0;
        {
            std::lock_guard g(lock_);
            newest = last_token_;
        }
        fail_flushes_upto(newest);
    }
}

bool client_core::open_connection(sender_state& st) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, opts_.socket_path.data(), opts_.socket_path.size());
    {
        // socket() and connect() under fd_mutex_: a fork() in between would leave the child
        // holding a descriptor it does not know to close.
        std::lock_guard g(fd_mutex_);
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return false;
        // Non-blocking: a full listen backlog gives EAGAIN, which is a failed attempt.
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd);
            return false;
        }
        sock_ = fd;
    }
    st.decoder = std::make_unique<protocol::decoder>(protocol::role::client);
    st.preamble.clear();
    protocol::encode(st.preamble, protocol::handshake{});
    {
        std::lock_guard d(decl_mutex_);
        std::size_t end = registry_.frames().size();
        {
            // Declarations still in the front buffer go out with it; the rest are re-sent here.
            std::lock_guard g(lock_);
            if (front_has_decls_)
                end = front_decls_from_;
        }
        st.preamble.append(registry_.frames().substr(0, end));
    }
    st.resend_gauges = true;
    st.woken = true; // send the preamble and whatever is buffered right away
    connected_.store(true, std::memory_order_relaxed);
    return true;
}

void client_core::disconnect(sender_state& st) {
    {
        // No shutdown(): close() suffices here, and a forked child must never shut down a
        // socket it shares with its parent.
        std::lock_guard g(fd_mutex_);
        ::close(sock_);
        sock_ = -1;
    }
    connected_.store(false, std::memory_order_relaxed);
    st.decoder.reset();
    st.preamble.clear();
    // SYNCs already taken from the front buffer went out (or were lost) on this connection.
    fail_flushes_upto(st.taken_token);
    schedule_reconnect(st);
}

void client_core::schedule_reconnect(sender_state& st) {
    // Jitter in [backoff/2, backoff], so a restarted daemon is not hit by all workers at once.
    std::uniform_int_distribution<long long> jitter(st.backoff.count() / 2, st.backoff.count());
    st.next_attempt = clock::now() + std::chrono::milliseconds(jitter(st.rng));
    st.backoff = std::min(st.backoff * 2, opts_.reconnect_max);
}

void client_core::wait_for_work(sender_state& st) {
    const auto now = clock::now();
    const auto until = sock_ >= 0 ? st.next_send : st.next_attempt;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    // Already woken (e.g. a fresh connection with a preamble to send): only collect input.
    const int timeout = st.woken ? 0 : static_cast<int>(std::clamp<long long>(ms, 0, 1000));
    const int wake_fd = wake_fd_.load(std::memory_order_relaxed);
    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {sock_, POLLIN, 0}}; // negative fds are ignored
    if (::poll(fds, 2, timeout) <= 0)
        return;
    if (fds[0].revents & POLLIN) {
        std::uint64_t count = 0;
        if (::read(wake_fd, &count, sizeof count) > 0)
            st.woken = true;
    }
}

void client_core::send_pending(sender_state& st) {
    if (!st.preamble.empty()) {
        if (write_all(st, st.preamble) < st.preamble.size())
            return disconnect(st); // declarations are never lost: the registry keeps them
        st.preamble.clear();
    }
    take_front(st);
    if (st.back.empty())
        return;
    const std::size_t sent = write_all(st, st.back.bytes());
    if (sent < st.back.size()) {
        // What reached the kernel counts as sent; the daemon applies only complete frames.
        // The re-sent gauge values at the end are not the application's ops: not counted.
        dropped_.fetch_add(st.back.ops_lost(sent, st.resent_from), std::memory_order_relaxed);
        st.back.clear();
        return disconnect(st);
    }
    st.back.clear();
}

void client_core::take_front(sender_state& st) {
    {
        std::lock_guard g(lock_);
        front_.seal();
        front_.swap_contents(st.back);
        front_has_decls_ = false;
        st.taken_token = last_token_;
        st.gauge_snapshot.clear();
        if (st.resend_gauges)
            for (const auto& v : gauges_)
                if (v.written)
                    st.gauge_snapshot.push_back(v);
    }
    st.resent_from = st.back.size();
    if (!st.resend_gauges)
        return;
    // After (re)connecting, set every tracked gauge to the client's value. The values include
    // every op in this buffer and nothing after it, so placing the sets at its end is exact.
    st.resend_gauges = false;
    for (const auto& v : st.gauge_snapshot)
        st.back.append({protocol::op_code::set, v.series, v.value}, false);
    st.back.seal();
}

std::size_t client_core::write_all(sender_state& st, std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n =
            ::send(sock_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || stop_.load(std::memory_order_acquire))
            return done;
        // Socket full: keep reading while waiting, or a daemon blocked on writing ACKs/ERRORs
        // to us and us blocked on writing to it would deadlock.
        pollfd p{sock_, POLLOUT | POLLIN, 0};
        if (::poll(&p, 1, 100) > 0 && (p.revents & POLLIN) && !read_input(st))
            return done;
    }
    return done;
}

} // namespace metricsd::detail

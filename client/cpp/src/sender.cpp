// The background sender: connects with backoff, writes what it takes from the outbox every
// flush_interval (or when woken), and hands the daemon's frames to the delivery status.
#include "sender.hpp"

#include <metricsd/protocol/encoder.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>

namespace metricsd::detail {
namespace {

int make_wake_fd() noexcept {
    return ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

} // namespace

/// The daemon's frames, applied to one sender thread's state.
class sender::input_handler final : public daemon_events {
public:
    input_handler(sender& s, state& st) noexcept : s_(s), st_(st) {}

    void on_welcome(const protocol::welcome& w) override {
        // A connection that got this far is healthy: the next outage starts from the short
        // delay.
        st_.backoff = s_.reconnect_min_;
        st_.stats_accepted = w.version >= protocol::client_stats_revision;
        const std::size_t payload =
            std::min<std::size_t>(max_ops_frame_payload, w.max_frame_payload);
        st_.out.frames.set_max_ops_payload(payload);
        s_.source_.set_max_ops_payload(payload);
    }
    void on_ack(std::uint64_t token) override { s_.status_.acked(token); }
    void on_error_frame(const protocol::error& e) override {
        std::string text = std::string(protocol::to_string(e.code)) + ": " + std::string(e.message);
        if (e.handle != protocol::no_handle)
            text += " (handle " + std::to_string(e.handle) + ")";
        s_.status_.note_error(text, true);
    }
    void on_bad_frame(const std::string& text) override { s_.status_.note_error(text, false); }

private:
    sender& s_;
    state& st_;
};

// --- lifecycle (any thread) ----------------------------------------------------------------

sender::sender(const client_options& options, outbox& source, delivery_status& status)
    : socket_path_(options.socket_path), flush_interval_(options.flush_interval),
      reconnect_min_(options.reconnect_min), reconnect_max_(options.reconnect_max), source_(source),
      status_(status) {
    const int fd = make_wake_fd();
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "metricsd: eventfd");
    wake_fd_.store(fd);
}

sender::~sender() {
    stop();
    if (sock_ >= 0)
        ::close(sock_);
    if (const int fd = wake_fd_.load(); fd >= 0)
        ::close(fd);
}

bool sender::start() {
    std::lock_guard g(mutex_);
    if (stop_.load(std::memory_order_acquire))
        return false;
    if (thread_)
        return true;
    auto st = std::make_unique<state>();
    st->backoff = reconnect_min_;
    st->next_attempt = st->next_send = clock::now();
    st->rng.seed(static_cast<std::uint_fast32_t>(::getpid()) ^
                 static_cast<std::uint_fast32_t>(clock::now().time_since_epoch().count()));
    st->out.frames.set_limits(SIZE_MAX, SIZE_MAX, max_ops_frame_payload);
    thread_ = std::make_unique<std::thread>([this, p = st.get()] { run(*p); });
    state_ = std::move(st);
    return true;
}

void sender::stop() noexcept {
    stop_.store(true, std::memory_order_release);
    wake();
    std::unique_ptr<std::thread> thread;
    std::unique_ptr<state> st;
    {
        std::lock_guard g(mutex_);
        thread.swap(thread_);
        st.swap(state_);
    }
    // Joined outside mutex_: the thread may be waiting for it to open or close the socket.
    if (thread)
        thread->join();
}

void sender::wake() noexcept {
    const int fd = wake_fd_.load(std::memory_order_relaxed);
    const std::uint64_t one = 1;
    // A failed write (only possible if the counter saturated) loses nothing: the sender also
    // wakes every flush_interval.
    if (fd >= 0 && ::write(fd, &one, sizeof one) < 0) {
    }
}

void sender::connect_now() noexcept {
    connect_now_.store(true, std::memory_order_release);
    wake();
}

void sender::before_fork() noexcept {
    mutex_.lock();
}

void sender::after_fork_parent() noexcept {
    mutex_.unlock();
}

void sender::after_fork_child() noexcept {
    // Close, never shutdown(): the socket is shared with the parent, whose connection must
    // stay up. The daemon sees one connection per process via its own descriptor.
    if (sock_ >= 0)
        ::close(sock_);
    sock_ = -1;
    connect_now_.store(false, std::memory_order_relaxed);
    // The sender thread does not exist here, and it may have been halfway through changing its
    // state: abandon both (joining or destroying them would be undefined). The next op or
    // flush() starts a new thread with fresh state.
    (void)thread_.release();
    (void)state_.release();
    // A fresh eventfd: the inherited one would also wake the parent's sender.
    const int old = wake_fd_.load(std::memory_order_relaxed);
    wake_fd_.store(make_wake_fd(), std::memory_order_relaxed);
    if (old >= 0)
        ::close(old);
    mutex_.unlock();
}

// --- the thread ------------------------------------------------------------------------------

void sender::run(state& st) noexcept {
    while (!stop_.load(std::memory_order_acquire)) {
        try {
            step(st);
        } catch (const std::exception& e) {
            // Only allocation can fail here; keep the thread alive and try again later.
            status_.note_error(std::string("client: ") + e.what(), false);
            std::this_thread::sleep_for(flush_interval_);
        }
    }
}

void sender::step(state& st) {
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
        st.next_send = now + flush_interval_;
        send_pending(st);
    }
}

void sender::maybe_connect(state& st) {
    const bool urgent = connect_now_.exchange(false, std::memory_order_acquire);
    if (!urgent && clock::now() < st.next_attempt)
        return;
    if (open_connection(st))
        return;
    schedule_reconnect(st);
    if (urgent) {
        // flush() asked for a connection and there is none: its SYNC stays buffered for later,
        // but its caller learns now that it cannot be acknowledged.
        status_.fail_upto(source_.newest_token());
    }
}

bool sender::open_connection(state& st) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
    {
        // socket() and connect() under mutex_: a fork() in between would leave the child
        // holding a descriptor it does not know to close.
        std::lock_guard g(mutex_);
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
    st.input.emplace();
    st.preamble.clear();
    protocol::encode(st.preamble, protocol::handshake{});
    source_.append_declarations(st.preamble);
    st.resend_gauges = true;
    st.woken = true; // send the preamble and whatever is buffered right away
    status_.set_connected(true);
    return true;
}

void sender::disconnect(state& st) {
    {
        // No shutdown(): close() suffices here, and a forked child must never shut down a
        // socket it shares with its parent.
        std::lock_guard g(mutex_);
        ::close(sock_);
        sock_ = -1;
    }
    status_.set_connected(false);
    // What this connection was told counts as reported (a frame cut short was not applied and
    // was never counted as sent); the next connection reports only what came after it.
    st.stats_base += st.stats_sent;
    st.stats_sent = 0;
    st.stats_accepted = false;
    st.input.reset();
    st.preamble.clear();
    // SYNCs already taken from the outbox went out (or were lost) on this connection.
    status_.fail_upto(st.out.newest_token);
    schedule_reconnect(st);
}

void sender::schedule_reconnect(state& st) {
    // Jitter in [backoff/2, backoff], so a restarted daemon is not hit by all workers at once.
    std::uniform_int_distribution<long long> jitter(st.backoff.count() / 2, st.backoff.count());
    st.next_attempt = clock::now() + std::chrono::milliseconds(jitter(st.rng));
    st.backoff = std::min(st.backoff * 2, reconnect_max_);
}

void sender::wait_for_work(state& st) {
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

void sender::send_pending(state& st) {
    if (!st.preamble.empty()) {
        if (write_all(st, st.preamble) < st.preamble.size())
            return disconnect(st); // declarations are never lost: the registry keeps them
        st.preamble.clear();
    }
    // Before the batch, so a SYNC in it (a flush()) covers the report too.
    if (!send_client_stats(st))
        return disconnect(st);
    take_batch(st);
    op_buffer& frames = st.out.frames;
    if (frames.empty())
        return;
    const std::size_t sent = write_all(st, frames.bytes());
    if (sent < frames.size()) {
        // What reached the kernel counts as sent; the daemon applies only complete frames.
        // The re-sent gauge values at the end are not the application's ops: not counted.
        status_.count_dropped(frames.ops_lost(sent, st.resent_from));
        frames.clear();
        return disconnect(st);
    }
    frames.clear();
}

// Drops are rare (no memory for a series' accumulator, an op the daemon would refuse arriving
// while folding), so a report costs one relaxed load per send and nothing per op.
bool sender::send_client_stats(state& st) {
    if (!st.stats_accepted)
        return true; // an older daemon would answer unknown_frame_type
    const std::uint64_t value = status_.dropped() - st.stats_base;
    if (value == st.stats_sent)
        return true;
    st.stats_frame.clear();
    protocol::encode(st.stats_frame, protocol::client_stats{value});
    if (write_all(st, st.stats_frame) < st.stats_frame.size())
        return false;
    st.stats_sent = value;
    return true;
}

void sender::take_batch(state& st) {
    source_.take(st.out, st.resend_gauges);
    op_buffer& frames = st.out.frames;
    st.resent_from = frames.size();
    if (!st.resend_gauges)
        return;
    // After (re)connecting, set every tracked gauge to the client's value. The values include
    // every op in this batch and nothing after it, so placing the sets at its end is exact.
    st.resend_gauges = false;
    for (const auto& v : st.out.gauges)
        frames.append({protocol::op_code::set, v.series, v.value}, false);
    frames.seal();
}

std::size_t sender::write_all(state& st, std::string_view bytes) {
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

bool sender::read_input(state& st) {
    input_handler events(*this, st);
    return st.input->read(sock_, events);
}

} // namespace metricsd::detail

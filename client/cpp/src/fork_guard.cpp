#include "fork_guard.hpp"

#include "client_core.hpp"

#include <algorithm>
#include <mutex>
#include <pthread.h>
#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace metricsd::detail {
namespace fork_guard {
namespace {

struct live_clients {
    std::mutex mutex;
    std::vector<client_core*> clients;
};

/// Never destroyed: fork handlers can run after static destructors have started.
live_clients& live() {
    static auto* l = new live_clients;
    return *l;
}

void prepare() noexcept {
    live().mutex.lock();
    for (auto* c : live().clients)
        c->before_fork();
}

void parent() noexcept {
    for (auto it = live().clients.rbegin(); it != live().clients.rend(); ++it)
        (*it)->after_fork_parent();
    live().mutex.unlock();
}

void child() noexcept {
    for (auto* c : live().clients)
        c->after_fork_child();
    live().mutex.unlock();
}

} // namespace

void add(client_core* c) {
    static std::once_flag once;
    std::call_once(once, [] {
        if (const int rc = ::pthread_atfork(prepare, parent, child); rc != 0)
            throw std::system_error(rc, std::generic_category(), "metricsd: pthread_atfork");
    });
    std::lock_guard g(live().mutex);
    live().clients.push_back(c);
}

void remove(client_core* c) {
    std::lock_guard g(live().mutex);
    auto& v = live().clients;
    v.erase(std::remove(v.begin(), v.end(), c), v.end());
}

} // namespace fork_guard

void client_core::before_fork() noexcept {
    // Every lock, in the documented order, so the child never inherits a half-made change
    // (a half-written op record, a half-registered declaration) or a lock nobody will release.
    lifecycle_mutex_.lock();
    decl_mutex_.lock();
    fd_mutex_.lock();
    lock_.lock();
    mu_.lock();
}

void client_core::after_fork_parent() noexcept {
    mu_.unlock();
    lock_.unlock();
    fd_mutex_.unlock();
    decl_mutex_.unlock();
    lifecycle_mutex_.unlock();
}

void client_core::after_fork_child() noexcept {
    // The parent's ops belong to the parent: sending them again from here would count them
    // twice. Tracked gauge values too: the child is a new worker and starts from nothing.
    front_.clear();
    front_has_decls_ = false;
    for (auto& g : gauges_)
        g = {0, g.series, false};
    sender_missing_ = true;
    // Close, never shutdown(): the socket is shared with the parent, whose connection must
    // stay up. The daemon sees one connection per process via its own descriptor.
    if (sock_ >= 0)
        ::close(sock_);
    sock_ = -1;
    connected_.store(false, std::memory_order_relaxed);
    connect_now_.store(false, std::memory_order_relaxed);
    // The sender thread does not exist here, and it may have been halfway through changing its
    // state: abandon both (joining or destroying them would be undefined). The next op or
    // flush() starts a new sender with fresh state.
    (void)thread_.release();
    (void)state_.release();
    // A fresh eventfd: the inherited one would also wake the parent's sender.
    const int old = wake_fd_.load(std::memory_order_relaxed);
    wake_fd_.store(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), std::memory_order_relaxed);
    if (old >= 0)
        ::close(old);
    failed_upto_ = std::max(failed_upto_, last_token_);
    dropped_.store(0, std::memory_order_relaxed);
    rejected_.store(0, std::memory_order_relaxed);
    last_error_.clear();
    after_fork_parent(); // release the locks before_fork took, in the same order
}

} // namespace metricsd::detail

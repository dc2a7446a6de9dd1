#include "fork_guard.hpp"

#include "client_core.hpp"

#include <algorithm>
#include <mutex>
#include <pthread.h>
#include <system_error>
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
} // namespace metricsd::detail

// Helpers shared by the client tests.
#pragma once

#include "client_test_peer.hpp"

#include <metricsd/client.hpp>

#include <chrono>
#include <string>
#include <thread>

namespace metricsd::test {

/// Options for a client of a peer at `path`, with the defaults the tests rely on spelled out.
inline client_options options_for(const std::string& path) {
    client_options o;
    o.socket_path = path;
    o.flush_interval = std::chrono::milliseconds(2);
    o.reconnect_min = std::chrono::milliseconds(5);
    o.reconnect_max = std::chrono::milliseconds(50);
    return o;
}

/// Poll pred until it holds or 10 s pass (a hang guard, not a timing assertion).
template <class Pred>
bool eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

} // namespace metricsd::test

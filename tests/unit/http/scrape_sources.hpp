// Scrape sources shared by the HTTP unit tests.
#pragma once

#include "daemon/http/scrape_broadcast.hpp"

namespace metricsd::test {

/// A scrape whose backend cannot be read: no captures, so the coroutine outlives nothing.
inline daemon::net::awaitable<daemon::scrape_outcome> unreachable(daemon::exposition_format) {
    daemon::scrape_outcome out;
    out.unavailable = "Redis is unreachable";
    co_return out;
}

} // namespace metricsd::test

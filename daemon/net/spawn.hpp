// co_spawn with a completion handler that logs escaped exceptions instead of dropping them.
#pragma once

#include "daemon/net/net.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <string_view>

namespace metricsd::daemon {

/// Start a coroutine on the io_context. An exception that escapes it is logged with `what`
/// (never silently swallowed as net::detached would).
template <class Executor, class Awaitable>
void spawn_logged(Executor&& ex, Awaitable&& task, std::string_view what) {
    net::co_spawn(std::forward<Executor>(ex), std::forward<Awaitable>(task),
                  [what](std::exception_ptr e) {
                      if (!e)
                          return;
                      try {
                          std::rethrow_exception(e);
                      } catch (const std::exception& ex) {
                          spdlog::error("{} failed: {}", what, ex.what());
                      } catch (...) {
                          spdlog::error("{} failed with an unknown exception", what);
                      }
                  });
}

} // namespace metricsd::daemon

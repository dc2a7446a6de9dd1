// The only header that includes Asio or Beast. Include it from daemon .cpp files (and the few
// daemon headers that must name IO types), never from pure code.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>; libstdc++ 12 no
// longer pulls it in transitively (fixed upstream in 1.79).
// clang-format off: <utility> must come before every Asio header.
#include <utility>
// clang-format on

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace metricsd::daemon {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using uds = net::local::stream_protocol;
} // namespace metricsd::daemon

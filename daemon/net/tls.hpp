// Asio's SSL layer over OpenSSL and Beast's ssl_stream, for the HTTP endpoint's TLS. Kept out of
// net.hpp so only the files that run TLS pay for the OpenSSL headers; tls_impl.cpp compiles the
// SSL layer once (separate compilation, as asio_impl.cpp does for the rest).
#pragma once

#include "daemon/net/net.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

namespace metricsd::daemon {
namespace ssl = boost::asio::ssl;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;
} // namespace metricsd::daemon

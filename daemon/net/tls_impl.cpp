// Asio's SSL layer compiled once (BOOST_ASIO_SEPARATE_COMPILATION), see tls.hpp.
#include <utility>

#include <boost/asio/ssl/impl/src.hpp>

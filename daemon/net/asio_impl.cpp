// Compiles Asio's and Beast's non-template code once for the whole daemon
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION): faster builds on 2 cores.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>

#include <utility>

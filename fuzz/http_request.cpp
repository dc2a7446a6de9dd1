// Fuzzes the HTTP request path: bytes from a client go through the real session
// (daemon/http/http_session.hpp: Beast's request parser with our header and body limits,
// keep-alive, pipelining) and handler (routing, Accept / Accept-Encoding negotiation, gzip)
// over a beast::test::stream, and the negotiation functions get the bytes directly too.
//
// Input: one control byte (the stream hands the session at most control + 1 bytes per read,
// so requests arrive split everywhere), then what the client sends; the client then closes.
// Checked: the session ends by itself and unregisters, nothing throws, and what it wrote is
// HTTP responses.
#include "fuzz_check.hpp"

#include "daemon/http/http_negotiation.hpp"
#include "daemon/http/http_session.hpp"
#include "daemon/net/net.hpp"

#include <boost/beast/_experimental/test/stream.hpp>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

namespace {

using namespace metricsd::daemon;
namespace btest = boost::beast::test;

/// Over gzip_min_size, so Accept-Encoding: gzip really compresses.
const std::string& exposition() {
    static const std::string body = [] {
        std::string s = "# TYPE jobs_total counter\n";
        for (int i = 0; i < 100; ++i)
            s += "jobs_total{queue=\"q" + std::to_string(i) + "\"} " + std::to_string(i * 7) + "\n";
        return s;
    }();
    return body;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = [] {
        spdlog::set_level(spdlog::level::off); // the session logs at debug and warn
        return true;
    }();
    (void)quiet;
    if (size == 0)
        return 0;
    const std::size_t read_size = data[0] + 1u;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

    // The pure parts on their own, on any bytes.
    (void)negotiate_format(input);
    (void)accepts_gzip(input);

    net::io_context ioc;
    http_handler handler{immediate_scrape(
        [](exposition_format, std::string& out) { out += exposition(); })};
    http_limits limits;
    session_registry<btest::stream> registry;
    btest::stream client{ioc};
    btest::stream server{ioc};
    server.connect(client);
    server.read_size(read_size);
    server.append(beast::string_view(input.data(), input.size()));
    client.close(); // the client sends its bytes and leaves
    bool finished = false;
    std::exception_ptr failure;
    net::co_spawn(ioc, http_session(std::move(server), handler, limits, &registry),
                  [&](std::exception_ptr e) {
                      finished = true;
                      failure = e;
                  });
    ioc.run();
    FUZZ_CHECK(finished);
    FUZZ_CHECK(!failure);
    FUZZ_CHECK(registry.size() == 0);
    const std::string_view out = to_std_view(client.str());
    FUZZ_CHECK(out.empty() || out.starts_with("HTTP/1.1 ") || out.starts_with("HTTP/1.0 "));
    return 0;
}

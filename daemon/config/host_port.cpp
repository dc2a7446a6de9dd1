#include "daemon/config/host_port.hpp"

#include <charconv>

namespace metricsd::daemon {
namespace {

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

[[noreturn]] void fail(host_port_errc code, std::string_view part, const std::string& message) {
    throw host_port_error(code, std::string(part), message);
}

std::uint16_t parse_port(std::string_view text, const host_port_rules& rules) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc{} || end != text.data() + text.size() || port < rules.min_port ||
        port > 65535)
        fail(host_port_errc::bad_port, text,
             "port " + quoted(text) + " is not a number from " + std::to_string(rules.min_port) +
                 " to 65535");
    return static_cast<std::uint16_t>(port);
}

} // namespace

host_port parse_host_port(std::string_view text, const host_port_rules& rules) {
    host_port out;
    std::string_view host;
    std::optional<std::string_view> port_text; // absent: no ':' at all
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos)
            fail(host_port_errc::unclosed_bracket, text,
                 "IPv6 host " + quoted(text) + " lacks its closing ']'");
        host = text.substr(1, close - 1);
        const auto after = text.substr(close + 1);
        if (!after.empty() && after.front() != ':')
            fail(host_port_errc::after_bracket, after,
                 "unexpected " + quoted(after) + " after the IPv6 host");
        if (!after.empty())
            port_text = after.substr(1);
        out.bracketed = true;
    } else {
        const auto colon = text.rfind(':');
        host = text.substr(0, colon);
        if (colon != std::string_view::npos)
            port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            fail(host_port_errc::unbracketed_colon, host,
                 "host " + quoted(host) + " has a ':'; write an IPv6 address as [addr]");
    }
    // An empty port after ':' is a missing one, not the default: "host:" is a typo.
    if ((!port_text && !rules.default_port) || (port_text && port_text->empty()))
        fail(host_port_errc::missing_port, text, "the port is missing (want HOST:PORT)");
    if (rules.any_host && !out.bracketed && (host.empty() || host == "*"))
        host = {};
    else if (host.empty())
        fail(host_port_errc::missing_host, text, "the host is missing");
    out.host = std::string(host);
    out.port = port_text ? parse_port(*port_text, rules) : *rules.default_port;
    return out;
}

} // namespace metricsd::daemon

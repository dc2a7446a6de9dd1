#include "daemon/config/redis_url.hpp"

#include "daemon/config/host_port.hpp"

#include <charconv>
#include <stdexcept>

namespace metricsd::daemon {
namespace {

[[noreturn]] void fail(const std::string& what) {
    throw std::invalid_argument("--redis-url: " + what);
}

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Passwords often contain '@', ':' or '/', which a URL can only carry percent-encoded.
// `part` names the component in the error; `secret` keeps its text out of the message.
std::string percent_decode(std::string_view s, std::string_view part, bool secret = false) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        const int hi = i + 2 < s.size() ? hex_digit(s[i + 1]) : -1;
        const int lo = i + 2 < s.size() ? hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            fail("bad percent-escape in the " + std::string(part) +
                 (secret ? std::string() : " " + quoted(s)) + " (want %XX)");
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

int parse_db(std::string_view text) {
    int db = -1;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), db);
    if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || db < 0)
        fail("database " + quoted(text) + " is not a number 0, 1, 2, ...");
    return db;
}

// `user:password` or `:password`. A bare word is refused: redis-py reads it as a user name
// without password, older clients as a password, so either reading would surprise someone.
void parse_userinfo(std::string_view info, redis_endpoint& e) {
    const auto colon = info.find(':');
    if (colon == std::string_view::npos)
        fail("credentials before '@' need a ':' (write redis://:PASSWORD@host or "
             "redis://USER:PASSWORD@host)");
    e.username = percent_decode(info.substr(0, colon), "user name");
    e.password = percent_decode(info.substr(colon + 1), "password", true);
}

// The shared HOST:PORT rules (host_port.hpp), with Redis's default port; port 0 cannot be
// connected to.
void parse_address(std::string_view hp, redis_endpoint& e) {
    try {
        auto parsed = parse_host_port(hp, {.default_port = redis_endpoint{}.port, .min_port = 1});
        e.host = std::move(parsed.host);
        e.port = parsed.port;
    } catch (const host_port_error& error) {
        fail(error.what() + std::string(error.code == host_port_errc::missing_host
                                            ? " (want redis://HOST[:PORT][/DB])"
                                            : ""));
    }
}

// Query parameters: db and password; anything else is a typo we would otherwise ignore.
void parse_query(std::string_view query, redis_endpoint& e, bool db_in_path) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = item.find('=');
        const auto key = item.substr(0, eq);
        const auto value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        if (key == "db") {
            if (db_in_path)
                fail("the database is given twice (path and ?db=)");
            e.db = parse_db(percent_decode(value, "db parameter"));
        } else if (key == "password") {
            if (e.password)
                fail("the password is given twice (before '@' and ?password=)");
            e.password = percent_decode(value, "password parameter", true);
        } else {
            fail("unknown query parameter " + quoted(key) + " (known: db, password)");
        }
    }
}

void parse_tcp(std::string_view rest, redis_endpoint& e, bool& db_in_path) {
    const auto slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        parse_userinfo(authority.substr(0, at), e);
        authority.remove_prefix(at + 1);
    }
    parse_address(authority, e);
    if (slash == std::string_view::npos || slash + 1 == rest.size())
        return;
    e.db = parse_db(rest.substr(slash + 1));
    db_in_path = true;
}

void parse_unix(std::string_view rest, redis_endpoint& e) {
    e.kind = redis_endpoint::transport::unix_socket;
    if (!rest.empty() && rest.front() != '/') {
        const auto at = rest.find("@/");
        if (at == std::string_view::npos)
            fail("unix socket path must be absolute (want unix:///path/to/redis.sock)");
        parse_userinfo(rest.substr(0, at), e);
        rest.remove_prefix(at + 1);
    }
    e.path = percent_decode(rest, "socket path");
    if (e.path.size() < 2)
        fail("the unix socket path is missing (want unix:///path/to/redis.sock)");
}

} // namespace

redis_endpoint parse_redis_url(std::string_view url) {
    const auto sep = url.find("://");
    if (sep == std::string_view::npos)
        fail("missing scheme (want redis://HOST:PORT[/DB] or unix:///PATH)");
    const auto scheme = url.substr(0, sep);
    auto rest = url.substr(sep + 3);
    if (rest.find('#') != std::string_view::npos)
        fail("a '#' fragment has no meaning here (percent-encode '#' in a password as %23)");
    const auto q = rest.find('?');
    const auto query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
    rest = rest.substr(0, q);

    redis_endpoint e;
    bool db_in_path = false;
    if (scheme == "redis")
        parse_tcp(rest, e, db_in_path);
    else if (scheme == "unix" || scheme == "redis+unix")
        parse_unix(rest, e);
    else if (scheme == "rediss")
        fail("TLS (rediss://) is not supported; use a local stunnel or a unix socket");
    else
        fail("unknown scheme " + quoted(scheme) + " (known: redis, unix, redis+unix)");
    parse_query(query, e, db_in_path);
    return e;
}

std::string describe(const redis_endpoint& e) {
    std::string out = e.kind == redis_endpoint::transport::tcp ? "redis://" : "unix://";
    if (e.password)
        out += e.username + ":***@";
    if (e.kind == redis_endpoint::transport::unix_socket)
        return out + e.path + "?db=" + std::to_string(e.db);
    const bool v6 = e.host.find(':') != std::string::npos;
    out += v6 ? "[" + e.host + "]" : e.host;
    return out + ":" + std::to_string(e.port) + "/" + std::to_string(e.db);
}

} // namespace metricsd::daemon

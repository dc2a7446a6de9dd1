// HOST:PORT: the one set of rules for the listen address and redis:// hosts, and errors that
// name the part at fault.
#include "daemon/config/host_port.hpp"

#include <gtest/gtest.h>

namespace metricsd::daemon {
namespace {

const host_port_rules listen_rules{.default_port = std::nullopt, .min_port = 0};
const host_port_rules connect_rules{.default_port = 6379, .min_port = 1};

struct failure {
    host_port_errc code;
    std::string part;
    std::string message;
};

failure error_of(std::string_view text, const host_port_rules& rules) {
    try {
        const auto hp = parse_host_port(text, rules);
        ADD_FAILURE() << "accepted '" << text << "' as " << hp.host << " port " << hp.port;
    } catch (const host_port_error& e) {
        return {e.code, e.part, e.what()};
    }
    return {};
}

TEST(host_port, names_addresses_and_brackets) {
    auto hp = parse_host_port("127.0.0.1:9477", listen_rules);
    EXPECT_EQ(hp.host, "127.0.0.1");
    EXPECT_EQ(hp.port, 9477);
    EXPECT_FALSE(hp.bracketed);
    hp = parse_host_port("[::1]:0", listen_rules);
    EXPECT_EQ(hp.host, "::1");
    EXPECT_EQ(hp.port, 0);
    EXPECT_TRUE(hp.bracketed);
    hp = parse_host_port("redis.internal:65535", connect_rules);
    EXPECT_EQ(hp.host, "redis.internal");
    EXPECT_EQ(hp.port, 65535);
    hp = parse_host_port("[fe80::1%eth0]:1", connect_rules);
    EXPECT_EQ(hp.host, "fe80::1%eth0");
}

TEST(host_port, default_port_only_when_the_rules_give_one) {
    EXPECT_EQ(parse_host_port("cache", connect_rules).port, 6379);
    EXPECT_EQ(parse_host_port("[::1]", connect_rules).port, 6379);
    EXPECT_EQ(error_of("cache", listen_rules).code, host_port_errc::missing_port);
    EXPECT_EQ(error_of("[::1]", listen_rules).code, host_port_errc::missing_port);
    EXPECT_EQ(error_of("", listen_rules).code, host_port_errc::missing_port);
    // "host:" is a typo, not a request for the default.
    EXPECT_EQ(error_of("cache:", connect_rules).code, host_port_errc::missing_port);
    EXPECT_EQ(error_of("[::1]:", connect_rules).code, host_port_errc::missing_port);
}

TEST(host_port, port_range_follows_the_rules) {
    EXPECT_EQ(parse_host_port("h:0", listen_rules).port, 0);
    const auto zero = error_of("h:0", connect_rules);
    EXPECT_EQ(zero.code, host_port_errc::bad_port);
    EXPECT_EQ(zero.part, "0");
    EXPECT_EQ(zero.message, "port '0' is not a number from 1 to 65535");
    EXPECT_EQ(error_of("h:65536", listen_rules).message,
              "port '65536' is not a number from 0 to 65535");
    for (auto bad : {"h:abc", "h:+80", "h:-1", "h: 80", "h:80 ", "h:0x50", "h:99999999999"})
        EXPECT_EQ(error_of(bad, listen_rules).code, host_port_errc::bad_port) << bad;
}

TEST(host_port, errors_name_the_part_at_fault) {
    auto e = error_of("::1:9477", listen_rules);
    EXPECT_EQ(e.code, host_port_errc::unbracketed_colon);
    EXPECT_EQ(e.part, "::1");
    EXPECT_EQ(e.message, "host '::1' has a ':'; write an IPv6 address as [addr]");
    e = error_of("[::1:9477", listen_rules);
    EXPECT_EQ(e.code, host_port_errc::unclosed_bracket);
    EXPECT_EQ(e.message, "IPv6 host '[::1:9477' lacks its closing ']'");
    e = error_of("[::1]x:9477", listen_rules);
    EXPECT_EQ(e.code, host_port_errc::after_bracket);
    EXPECT_EQ(e.part, "x:9477");
    EXPECT_EQ(error_of("[a]b]:80", listen_rules).code, host_port_errc::after_bracket);
    e = error_of(":9477", listen_rules);
    EXPECT_EQ(e.code, host_port_errc::missing_host);
    EXPECT_EQ(e.message, "the host is missing");
    EXPECT_EQ(error_of("[]:9477", listen_rules).code, host_port_errc::missing_host);
    EXPECT_EQ(error_of("[]", connect_rules).code, host_port_errc::missing_host);
}

TEST(host_port, any_host_is_empty_or_a_star_for_listen_addresses) {
    for (const char* any : {":9477", "*:9477"}) {
        const auto hp = parse_host_port(any, listen_address_rules);
        EXPECT_EQ(hp.host, "") << any;
        EXPECT_EQ(hp.port, 9477) << any;
    }
    EXPECT_EQ(error_of("[]:9477", listen_address_rules).code, host_port_errc::missing_host);
}

} // namespace
} // namespace metricsd::daemon

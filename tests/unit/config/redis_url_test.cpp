// --redis-url parsing: every accepted form, defaults, and errors that name the bad part.
#include "daemon/config/redis_url.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace metricsd::daemon {
namespace {

using transport = redis_endpoint::transport;

TEST(redis_url, tcp_forms_and_defaults) {
    auto e = parse_redis_url("redis://localhost");
    EXPECT_EQ(e.kind, transport::tcp);
    EXPECT_EQ(e.host, "localhost");
    EXPECT_EQ(e.port, 6379);
    EXPECT_EQ(e.db, 0);
    EXPECT_FALSE(e.password);
    e = parse_redis_url("redis://10.0.0.5:6380/3");
    EXPECT_EQ(e.host, "10.0.0.5");
    EXPECT_EQ(e.port, 6380);
    EXPECT_EQ(e.db, 3);
    e = parse_redis_url("redis://:s3cret@host:1/");
    EXPECT_EQ(e.username, "");
    EXPECT_EQ(e.password, "s3cret");
    EXPECT_EQ(e.db, 0);
    e = parse_redis_url("redis://app:p%40ss%3Aw%2Fd@host:6379/2");
    EXPECT_EQ(e.username, "app");
    EXPECT_EQ(e.password, "p@ss:w/d");
    EXPECT_EQ(e.db, 2);
    e = parse_redis_url("redis://[::1]:7000?db=5");
    EXPECT_EQ(e.host, "::1");
    EXPECT_EQ(e.port, 7000);
    EXPECT_EQ(e.db, 5);
    e = parse_redis_url("redis://[::1]");
    EXPECT_EQ(e.port, 6379);
}

TEST(redis_url, unix_forms) {
    auto e = parse_redis_url("unix:///run/redis/redis.sock");
    EXPECT_EQ(e.kind, transport::unix_socket);
    EXPECT_EQ(e.path, "/run/redis/redis.sock");
    EXPECT_EQ(e.db, 0);
    e = parse_redis_url("unix:///tmp/r.sock?db=4&password=a%26b");
    EXPECT_EQ(e.path, "/tmp/r.sock");
    EXPECT_EQ(e.db, 4);
    EXPECT_EQ(e.password, "a&b");
    e = parse_redis_url("redis+unix://user:pw@/tmp/r.sock");
    EXPECT_EQ(e.kind, transport::unix_socket);
    EXPECT_EQ(e.username, "user");
    EXPECT_EQ(e.password, "pw");
    EXPECT_EQ(e.path, "/tmp/r.sock");
}

std::string error_of(std::string_view url) {
    try {
        parse_redis_url(url);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no error";
}

TEST(redis_url, errors_name_the_offending_part) {
    EXPECT_NE(error_of("localhost:6379").find("missing scheme"), std::string::npos);
    EXPECT_NE(error_of("http://x").find("'http'"), std::string::npos);
    EXPECT_NE(error_of("rediss://x").find("TLS"), std::string::npos);
    EXPECT_NE(error_of("redis://x:0").find("port '0'"), std::string::npos);
    EXPECT_NE(error_of("redis://x:65536").find("port '65536'"), std::string::npos);
    EXPECT_NE(error_of("redis://x:abc").find("port 'abc'"), std::string::npos);
    EXPECT_NE(error_of("redis://x/-1").find("database '-1'"), std::string::npos);
    EXPECT_NE(error_of("redis://x/db0").find("database 'db0'"), std::string::npos);
    EXPECT_NE(error_of("redis://x/1?db=2").find("twice"), std::string::npos);
    EXPECT_NE(error_of("redis://:6379").find("host is missing"), std::string::npos);
    EXPECT_NE(error_of("redis://::1:6379").find("[addr]"), std::string::npos);
    EXPECT_NE(error_of("redis://[::1").find("']'"), std::string::npos);
    EXPECT_NE(error_of("redis://x?timeout=3").find("'timeout'"), std::string::npos);
    EXPECT_NE(error_of("redis://user@x").find("':'"), std::string::npos);
    EXPECT_NE(error_of("unix://relative.sock").find("absolute"), std::string::npos);
    EXPECT_NE(error_of("unix://").find("path is missing"), std::string::npos);
    EXPECT_NE(error_of("redis://x#frag").find("fragment"), std::string::npos);
    // HOST:PORT follows the shared rules (host_port.hpp): "host:" is a typo, not the default.
    EXPECT_EQ(error_of("redis://x:"), "--redis-url: the port is missing (want HOST:PORT)");
    EXPECT_EQ(error_of("redis://x:0"), "--redis-url: port '0' is not a number from 1 to 65535");
    EXPECT_NE(error_of("redis://[::1]x").find("after the IPv6 host"), std::string::npos);
    EXPECT_NE(error_of("redis://[]:1").find("host is missing"), std::string::npos);
    // The password never shows up in a message.
    const auto msg = error_of("redis://:hunter2%zz@x");
    EXPECT_NE(msg.find("password"), std::string::npos);
    EXPECT_EQ(msg.find("hunter2"), std::string::npos);
}

TEST(redis_url, describe_hides_the_password) {
    EXPECT_EQ(describe(parse_redis_url("redis://u:pw@h:1/2")), "redis://u:***@h:1/2");
    EXPECT_EQ(describe(parse_redis_url("redis://[::1]")), "redis://[::1]:6379/0");
    EXPECT_EQ(describe(parse_redis_url("unix:///s?password=x")), "unix://:***@/s?db=0");
}

} // namespace
} // namespace metricsd::daemon

#include "daemon/web/basic_auth.hpp"

#include <gtest/gtest.h>

#include <crypt.h>

namespace metricsd::daemon {
namespace {

std::string bcrypt(const std::string& password) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof salt);
    crypt_data data{};
    return crypt_rn(password.c_str(), salt, &data, sizeof data);
}

std::string header(const std::string& base64) {
    return "Basic " + base64;
}

TEST(base64, decodes_padding_and_refuses_garbage) {
    std::string out;
    ASSERT_TRUE(decode_base64("cHJvbTpzM2NyZXQ=", out));
    EXPECT_EQ(out, "prom:s3cret");
    ASSERT_TRUE(decode_base64("YQ==", out));
    EXPECT_EQ(out, "a");
    EXPECT_FALSE(decode_base64("YQ=", out));
    EXPECT_FALSE(decode_base64("Y=Q=", out));
    EXPECT_FALSE(decode_base64("****", out));
}

TEST(basic_auth, right_password_wrong_password_unknown_user_missing_header) {
    basic_auth auth({{"prom", bcrypt("s3cret")}});
    using v = basic_auth::verdict;
    EXPECT_EQ(auth.check(header("cHJvbTpzM2NyZXQ=")), v::allowed);    // prom:s3cret
    EXPECT_EQ(auth.check(header("cHJvbTp3cm9uZw==")), v::denied);     // prom:wrong
    EXPECT_EQ(auth.check(header("bm9ib2R5OnMzY3JldA==")), v::denied); // nobody:s3cret
    EXPECT_EQ(auth.check(""), v::missing);
    EXPECT_EQ(auth.check("Bearer abc"), v::missing);
    EXPECT_EQ(auth.check(header("cHJvbQ==")), v::missing);       // no colon
    EXPECT_EQ(auth.check("basic cHJvbTpzM2NyZXQ="), v::allowed); // scheme is case-insensitive
}

TEST(basic_auth, bcrypt_runs_a_bounded_number_of_times_per_second_but_good_credentials_pass) {
    basic_auth auth({{"prom", bcrypt("s3cret")}}, 3);
    using v = basic_auth::verdict;
    const auto t0 = basic_auth::clock::time_point{} + std::chrono::hours(1);
    EXPECT_EQ(auth.check(header("cHJvbTpzM2NyZXQ="), t0), v::allowed); // 1 check, remembered
    EXPECT_EQ(auth.check(header("cHJvbTp3cm9uZw=="), t0), v::denied);  // 2
    EXPECT_EQ(auth.check(header("cHJvbTp3cm9uZw=="), t0), v::denied);  // 3
    EXPECT_EQ(auth.check(header("cHJvbTp3cm9uZw=="), t0), v::throttled);
    EXPECT_EQ(auth.check(header("cHJvbTpzM2NyZXQ="), t0), v::allowed); // no check needed
    EXPECT_EQ(auth.check(header("cHJvbTp3cm9uZw=="), t0 + std::chrono::seconds(1)), v::denied);
}

TEST(basic_auth, no_users_means_no_authentication) {
    basic_auth auth;
    EXPECT_FALSE(auth.enabled());
    EXPECT_EQ(auth.check(""), basic_auth::verdict::allowed);
}

TEST(constant_time, equal_only_for_equal_bytes) {
    EXPECT_TRUE(equal_constant_time("abc", "abc"));
    EXPECT_FALSE(equal_constant_time("abc", "abd"));
    EXPECT_FALSE(equal_constant_time("abc", "abcd"));
}

} // namespace
} // namespace metricsd::daemon

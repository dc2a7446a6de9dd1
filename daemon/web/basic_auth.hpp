// HTTP basic auth against the web config's bcrypt hashes (libcrypt's crypt_rn: $2a$, $2b$,
// $2y$). bcrypt is slow on purpose (tens of ms at cost 10) and the daemon has one thread, so
// credentials that passed are remembered (until the users change) and compared in constant
// time, and bcrypt runs for unseen credentials at most `checks_per_second` times a second: a
// flood of wrong passwords costs the loop a bounded share, and gets 401 without a check beyond
// it. Pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace metricsd::daemon {

class basic_auth {
public:
    using clock = std::chrono::steady_clock;
    enum class verdict : std::uint8_t {
        allowed,
        missing,   ///< no or malformed Authorization header
        denied,    ///< unknown user or wrong password (checked with bcrypt)
        throttled, ///< not checked: the bcrypt budget of this second is spent
    };

    /// `users`: name -> bcrypt hash (web_settings::users). Empty: everyone is allowed.
    explicit basic_auth(std::map<std::string, std::string, std::less<>> users = {},
                        unsigned checks_per_second = 8);

    bool enabled() const noexcept { return !users_.empty(); }
    /// Judge the value of an Authorization header ("" when absent).
    verdict check(std::string_view authorization, clock::time_point now = clock::now());

private:
    bool bcrypt_matches(std::string_view password, const std::string& hash) const;

    std::map<std::string, std::string, std::less<>> users_;
    std::map<std::string, std::string, std::less<>> verified_; ///< user -> password that passed
    unsigned checks_per_second_;
    unsigned checks_this_second_ = 0;
    clock::time_point second_start_{};
};

/// Bytes of `a` and `b` compared in time that depends on their lengths only.
bool equal_constant_time(std::string_view a, std::string_view b) noexcept;

/// RFC 4648 base64 (with padding) to bytes; false when `in` is not valid base64.
bool decode_base64(std::string_view in, std::string& out);

} // namespace metricsd::daemon

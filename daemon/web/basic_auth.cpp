#include "daemon/web/basic_auth.hpp"

#include <crypt.h>
#include <cstring>
#include <memory>
#include <strings.h>

namespace metricsd::daemon {

namespace {

/// A valid bcrypt hash of a password nobody sends: an unknown user costs the same bcrypt run as
/// a known one, so timing does not tell which user names exist.
constexpr std::string_view dummy_hash =
    "$2b$10$psLHrcoHb1zfp.41FsnukOLAz6D310tH7LbPblEIyvgd3uz.JRBCC";

int base64_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

} // namespace

bool equal_constant_time(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

bool decode_base64(std::string_view in, std::string& out) {
    out.clear();
    if (in.size() % 4 != 0)
        return false;
    for (std::size_t i = 0; i < in.size(); i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = in[i + k];
            if (c == '=' && i + 4 == in.size() && k >= 2) {
                v[k] = 0;
                ++pad;
                continue;
            }
            if (pad != 0 || (v[k] = base64_value(c)) < 0)
                return false;
        }
        const unsigned n = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) |
                           unsigned(v[3]);
        out.push_back(static_cast<char>(n >> 16));
        if (pad < 2)
            out.push_back(static_cast<char>((n >> 8) & 0xff));
        if (pad < 1)
            out.push_back(static_cast<char>(n & 0xff));
    }
    return true;
}

basic_auth::basic_auth(std::map<std::string, std::string, std::less<>> users,
                       unsigned checks_per_second)
    : users_(std::move(users)), checks_per_second_(checks_per_second) {}

bool basic_auth::bcrypt_matches(std::string_view password, const std::string& hash) const {
    // crypt_data is ~32 KiB: on the heap, not the coroutine's stack.
    auto data = std::make_unique<crypt_data>();
    const std::string pw(password); // crypt wants a NUL-terminated key
    const char* out = ::crypt_rn(pw.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
    return out != nullptr && equal_constant_time(out, hash);
}

basic_auth::verdict basic_auth::check(std::string_view authorization, clock::time_point now) {
    if (users_.empty())
        return verdict::allowed;
    constexpr std::string_view scheme = "Basic ";
    if (authorization.size() <= scheme.size() ||
        strncasecmp(authorization.data(), scheme.data(), scheme.size()) != 0)
        return verdict::missing;
    std::string decoded;
    if (!decode_base64(authorization.substr(scheme.size()), decoded))
        return verdict::missing;
    const auto colon = decoded.find(':');
    if (colon == std::string::npos)
        return verdict::missing;
    const std::string_view user(decoded.data(), colon);
    const std::string_view password = std::string_view(decoded).substr(colon + 1);
    if (const auto seen = verified_.find(user); seen != verified_.end())
        if (equal_constant_time(seen->second, password))
            return verdict::allowed;
    if (now - second_start_ >= std::chrono::seconds(1)) {
        second_start_ = now;
        checks_this_second_ = 0;
    }
    if (checks_this_second_ >= checks_per_second_)
        return verdict::throttled;
    ++checks_this_second_;
    const auto known = users_.find(user);
    const bool ok =
        bcrypt_matches(password, known != users_.end() ? known->second : std::string(dummy_hash));
    if (!ok || known == users_.end())
        return verdict::denied;
    verified_.insert_or_assign(std::string(user), std::string(password));
    return verdict::allowed;
}

} // namespace metricsd::daemon

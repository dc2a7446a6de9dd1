#include "daemon/store/number_format.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

namespace metricsd::daemon {
namespace {

bool append_special(std::string& out, double v) {
    if (std::isnan(v))
        out += "NaN";
    else if (std::isinf(v))
        out += v > 0 ? "+Inf" : "-Inf";
    else
        return false;
    return true;
}

} // namespace

void append_value(std::string& out, double v) {
    if (append_special(out, v))
        return;
    char buf[32];
    // 2^53: every integer below it is exact, so printing it as an integer loses nothing and
    // avoids "1e+06"-style output for ordinary counts.
    if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
        const auto i = static_cast<long long>(v);
        // -0.0 reads back as 0 here; Prometheus treats both the same.
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, i);
        out.append(buf, end);
        return;
    }
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

namespace {

// Shortest round-trip digits, positional (with ".0" when whole) while the decimal exponent is
// in [-4, positional_below), scientific with a two-digit exponent ("1e-05") otherwise.
void append_float_text(std::string& out, double v, int positional_below) {
    char buf[40];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    const std::string_view sci(buf, static_cast<std::size_t>(end - buf));
    const auto e_pos = sci.find('e');
    int exp = 0;
    const char* exp_text = sci.data() + e_pos + 1;
    if (*exp_text == '+')
        ++exp_text; // from_chars takes no '+'
    std::from_chars(exp_text, sci.data() + sci.size(), exp);
    std::string_view mantissa = sci.substr(0, e_pos);
    const bool negative = mantissa.front() == '-';
    if (negative) {
        out += '-';
        mantissa.remove_prefix(1);
    }
    std::string digits;
    digits += mantissa.front();
    if (mantissa.size() > 2)
        digits.append(mantissa.substr(2)); // skip "d."
    if (exp < -4 || exp >= positional_below) {
        out += digits.front();
        if (digits.size() > 1) {
            out += '.';
            out.append(digits, 1);
        }
        out += exp < 0 ? "e-" : "e+";
        const int a = exp < 0 ? -exp : exp;
        if (a < 10)
            out += '0';
        out += std::to_string(a);
        return;
    }
    if (exp < 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-exp - 1), '0');
        out += digits;
        return;
    }
    const auto int_len = static_cast<std::size_t>(exp) + 1;
    if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
        out += ".0";
    } else {
        out.append(digits, 0, int_len);
        out += '.';
        out.append(digits, int_len);
    }
}

} // namespace

void append_bound(std::string& out, double v) {
    if (append_special(out, v))
        return;
    // prometheus_client's floatToGoString(): scientific from 1e+06 on, where Go's client
    // switches too.
    append_float_text(out, v, 6);
}

bool append_python_nonfinite(std::string& out, double v) {
    if (std::isnan(v))
        out += "nan";
    else if (std::isinf(v))
        out += v > 0 ? "inf" : "-inf";
    else
        return false;
    return true;
}

void append_python_float(std::string& out, double v) {
    if (!append_python_nonfinite(out, v))
        append_float_text(out, v, 16); // repr() switches to an exponent from 1e+16 on
}

} // namespace metricsd::daemon

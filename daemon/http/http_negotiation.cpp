#include "daemon/http/http_negotiation.hpp"

#include <algorithm>
#include <cstddef>

namespace metricsd::daemon {
namespace {

/// q-values in thousandths, so comparisons are exact (RFC 9110 allows three decimals).
constexpr int q_max = 1000;

/// One list element: the token or media range, its q and the one parameter we care about.
struct element {
    std::string_view value;
    std::string_view version;
    int q = q_max;
    bool valid = true;
};

bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ows(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

/// Cuts `s` at the first `sep` outside a quoted string: a quoted parameter value may contain
/// ',' or ';' and must not split the list there.
std::string_view next_part(std::string_view& s, char sep) noexcept {
    bool quoted = false;
    std::size_t i = 0;
    for (; i < s.size(); ++i) {
        const char c = s[i];
        if (quoted && c == '\\') {
            ++i; // the escaped character cannot end the quote
        } else if (c == '"') {
            quoted = !quoted;
        } else if (c == sep && !quoted) {
            break;
        }
    }
    const std::string_view part = s.substr(0, std::min(i, s.size()));
    s.remove_prefix(std::min(i + 1, s.size()));
    return part;
}

/// RFC 9110 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]. Returns -1 when malformed.
int parse_q(std::string_view s) noexcept {
    if (s.empty() || (s[0] != '0' && s[0] != '1') || s.size() > 5) {
        return -1;
    }
    int q = (s[0] - '0') * q_max;
    if (s.size() == 1) {
        return q;
    }
    if (s[1] != '.') {
        return -1;
    }
    int scale = 100;
    for (const char c : s.substr(2)) {
        if (c < '0' || c > '9') {
            return -1;
        }
        q += (c - '0') * scale;
        scale /= 10;
    }
    return q <= q_max ? q : -1;
}

std::string_view unquote(std::string_view v) noexcept {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        return v.substr(1, v.size() - 2);
    }
    return v;
}

element parse_element(std::string_view raw) noexcept {
    element e;
    e.value = trim(next_part(raw, ';'));
    while (!raw.empty()) {
        const std::string_view param = trim(next_part(raw, ';'));
        const std::size_t eq = param.find('=');
        if (eq == std::string_view::npos) {
            continue; // a bare token parameter: not ours, harmless
        }
        const std::string_view name = trim(param.substr(0, eq));
        const std::string_view value = unquote(trim(param.substr(eq + 1)));
        if (iequals(name, "q")) {
            e.q = parse_q(value);
            e.valid = e.q >= 0;
        } else if (iequals(name, "version")) {
            e.version = value;
        }
    }
    e.valid = e.valid && !e.value.empty();
    return e;
}

enum class servable { none, text, openmetrics };

servable classify(const element& e) noexcept {
    if (iequals(e.value, "application/openmetrics-text")) {
        // We render 1.0.0; Prometheus parses 0.0.1 and 1.0.0 alike and always offers both.
        const bool ok = e.version.empty() || e.version == "1.0.0" || e.version == "0.0.1";
        return ok ? servable::openmetrics : servable::none;
    }
    if (iequals(e.value, "text/plain")) {
        return e.version.empty() || e.version == "0.0.4" ? servable::text : servable::none;
    }
    if (iequals(e.value, "text/*") || iequals(e.value, "*/*")) {
        return servable::text;
    }
    return servable::none;
}

} // namespace

exposition_format negotiate_format(std::string_view accept) noexcept {
    int best_q = 0; // a range must beat q=0 to count: q=0 means "not acceptable"
    servable best = servable::text;
    while (!accept.empty()) {
        const element e = parse_element(next_part(accept, ','));
        const servable kind = e.valid ? classify(e) : servable::none;
        if (kind != servable::none && e.q > best_q) { // strict: ties keep the earlier range
            best_q = e.q;
            best = kind;
        }
    }
    return best == servable::openmetrics ? exposition_format::openmetrics : exposition_format::text;
}

bool accepts_gzip(std::string_view accept_encoding) noexcept {
    int gzip_q = -1; // -1: not listed
    int star_q = -1;
    while (!accept_encoding.empty()) {
        const element e = parse_element(next_part(accept_encoding, ','));
        if (!e.valid) {
            continue;
        }
        if (iequals(e.value, "gzip") || iequals(e.value, "x-gzip")) {
            gzip_q = std::max(gzip_q, e.q);
        } else if (e.value == "*") {
            star_q = std::max(star_q, e.q);
        }
    }
    return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

} // namespace metricsd::daemon

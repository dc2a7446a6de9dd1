#include "exposition_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace metricsd::fuzz {
namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

bool valid_metric_name(std::string_view n) {
    if (n.empty() || !name_start(n[0]))
        return false;
    for (char c : n)
        if (!name_char(c))
            return false;
    return true;
}

bool valid_label_name(std::string_view n) {
    return valid_metric_name(n) && n.find(':') == std::string_view::npos;
}

/// A value token: a float as strtod reads it whole, or +Inf, -Inf, NaN.
bool parse_value(std::string_view s, double& v) {
    if (s == "+Inf") { v = INFINITY; return true; }
    if (s == "-Inf") { v = -INFINITY; return true; }
    if (s == "NaN") { v = NAN; return true; }
    if (s.empty() || s.size() > 64)
        return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
            return false;
    const std::string copy(s);
    char* end = nullptr;
    v = std::strtod(copy.c_str(), &end);
    return end == copy.c_str() + copy.size();
}

struct sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels; ///< unescaped values
    double value = 0;
};

/// Parse a sample line; empty string on success, else why not.
std::string parse_sample(std::string_view line, sample& s) {
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
        ++i;
    s.name = std::string(line.substr(0, i));
    if (!valid_metric_name(s.name))
        return "bad metric name";
    if (i < line.size() && line[i] == '{') {
        ++i;
        while (i < line.size() && line[i] != '}') {
            std::size_t j = i;
            while (j < line.size() && line[j] != '=')
                ++j;
            const std::string label(line.substr(i, j - i));
            if (!valid_label_name(label))
                return "bad label name";
            if (j + 1 >= line.size() || line[j + 1] != '"')
                return "label value not quoted";
            i = j + 2;
            std::string value;
            for (;;) {
                if (i >= line.size())
                    return "unterminated label value";
                const char c = line[i++];
                if (c == '"')
                    break;
                if (c == '\\') {
                    if (i >= line.size())
                        return "dangling backslash";
                    const char e = line[i++];
                    if (e == 'n') value += '\n';
                    else if (e == '\\' || e == '"') value += e;
                    else return "bad escape in label value";
                } else {
                    value += c;
                }
            }
            for (const auto& [n, v] : s.labels)
                if (n == label)
                    return "duplicate label";
            s.labels.emplace_back(label, std::move(value));
            if (i < line.size() && line[i] == ',')
                ++i;
            else if (i >= line.size() || line[i] != '}')
                return "expected , or }";
        }
        if (i >= line.size())
            return "unterminated label set";
        ++i;
    }
    if (i >= line.size() || line[i] != ' ')
        return "no value";
    ++i;
    const std::size_t sp = line.find(' ', i);
    const std::string_view value = line.substr(i, sp == std::string_view::npos ? sp : sp - i);
    if (!parse_value(value, s.value))
        return "bad value";
    if (sp != std::string_view::npos) {
        double ts = 0;
        if (!parse_value(line.substr(sp + 1), ts) || !std::isfinite(ts))
            return "bad timestamp";
    }
    return {};
}

/// HELP text: only the format's escapes.
bool valid_help(std::string_view h, bool openmetrics) {
    for (std::size_t i = 0; i < h.size(); ++i) {
        if (h[i] != '\\')
            continue;
        if (++i >= h.size())
            return false;
        if (h[i] != '\\' && h[i] != 'n' && !(openmetrics && h[i] == '"'))
            return false;
    }
    return true;
}

/// The sample suffixes a family of `type` may use in this format.
std::vector<std::string_view> suffixes(std::string_view type, bool openmetrics) {
    if (type == "counter")
        return openmetrics ? std::vector<std::string_view>{"_total", "_created"}
                           : std::vector<std::string_view>{""};
    if (type == "histogram")
        return {"_bucket", "_sum", "_count", "_created"};
    if (type == "summary")
        return {"", "_sum", "_count", "_created"};
    return {""}; // gauge, untyped, unknown
}

std::string labels_key(const sample& s, std::string_view skip = {}) {
    std::vector<std::pair<std::string, std::string>> l = s.labels;
    std::erase_if(l, [&](const auto& p) { return p.first == skip; });
    std::sort(l.begin(), l.end());
    std::string key;
    for (const auto& [n, v] : l)
        key += n + '\0' + v + '\0';
    return key;
}

} // namespace

std::string check_exposition(std::string_view text, const exposition_rules& rules) {
    if (!text.empty() && text.back() != '\n')
        return "does not end with a newline";
    std::set<std::string> families; // TYPE'd names
    std::set<std::string> series;    // name + labels
    std::string family, type;
    bool eof = false;
    // Histogram bookkeeping per label set (le removed): last bucket count, +Inf count.
    std::map<std::string, std::pair<double, double>> buckets;
    std::map<std::string, double> counts;
    std::size_t line_no = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t nl = text.find('\n', pos);
        const std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        const std::string where = " (line " + std::to_string(line_no) + ": " + std::string(line.substr(0, 200)) + ")";
        if (eof)
            return "content after # EOF" + where;
        if (line.empty())
            return rules.openmetrics ? "empty line" + where : std::string{};
        if (line == "# EOF") {
            if (!rules.openmetrics)
                return "# EOF in text format" + where;
            eof = true;
            continue;
        }
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
            const std::string_view rest = line.substr(7);
            const std::size_t sp = rest.find(' ');
            if (sp == std::string_view::npos)
                return "HELP/TYPE without text" + where;
            const std::string name(rest.substr(0, sp));
            if (!valid_metric_name(name))
                return "bad family name" + where;
            if (line[2] == 'H') {
                if (!valid_help(rest.substr(sp + 1), rules.openmetrics))
                    return "bad HELP escape" + where;
                if (name != family) {
                    if (families.count(name) != 0)
                        return "HELP for a family seen before" + where;
                    family = name;
                    type.clear();
                }
                continue;
            }
            const std::string_view t = rest.substr(sp + 1);
            static const std::set<std::string_view> types{"counter", "gauge", "histogram",
                                                          "summary", "untyped", "unknown"};
            if (types.count(t) == 0)
                return "bad TYPE" + where;
            if (!families.insert(name).second)
                return "family TYPE'd twice" + where;
            if (!family.empty() && name != family && type.empty())
                return "HELP and TYPE name different families" + where;
            family = name;
            type = std::string(t);
            continue;
        }
        if (line[0] == '#')
            return rules.openmetrics ? "unknown comment" + where : std::string{};
        sample s;
        if (const std::string why = parse_sample(line, s); !why.empty())
            return why + where;
        if (type.empty())
            return "sample before any TYPE" + where;
        std::string_view suffix;
        bool ours = false;
        for (const std::string_view sfx : suffixes(type, rules.openmetrics)) {
            if (s.name == family + std::string(sfx)) {
                ours = true;
                suffix = sfx;
            }
        }
        if (!ours)
            return "sample of another family" + where;
        if (!series.insert(s.name + '\0' + labels_key(s)).second)
            return "series twice" + where;
        const bool has_le = std::any_of(s.labels.begin(), s.labels.end(),
                                        [](const auto& p) { return p.first == "le"; });
        if (type == "histogram" && (suffix == "_bucket") != has_le)
            return "le label wrong" + where;
        if (!rules.semantic)
            continue;
        const bool is_count = (type == "counter") || suffix == "_count" || suffix == "_bucket";
        if (is_count && !(s.value >= 0))
            return "negative or NaN count" + where;
        if (type == "histogram" && suffix == "_bucket") {
            auto& [last, inf] = buckets[family + '\0' + labels_key(s, "le")];
            if (s.value < last)
                return "buckets not cumulative" + where;
            last = s.value;
            for (const auto& [n, v] : s.labels)
                if (n == "le" && v == "+Inf")
                    inf = s.value;
        }
        if (type == "histogram" && suffix == "_count")
            counts[family + '\0' + labels_key(s)] = s.value;
    }
    if (rules.openmetrics && !eof)
        return "no # EOF";
    if (rules.semantic) {
        for (const auto& [key, b] : buckets) {
            const auto it = counts.find(key);
            if (it == counts.end() || it->second != b.second)
                return "+Inf bucket differs from _count";
        }
    }
    return {};
}

} // namespace metricsd::fuzz

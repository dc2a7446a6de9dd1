#include "daemon/access/access_policy.hpp"

namespace metricsd::daemon {

bool glob_match(std::string_view pattern, std::string_view name) noexcept {
    // Iterative with one backtrack point (the last '*'): linear in practice, no recursion, so
    // an operator's pattern cannot blow the stack or go exponential.
    std::size_t p = 0, n = 0;
    std::size_t star = std::string_view::npos, resume = 0;
    while (n < name.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
            ++p;
            ++n;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = n;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            n = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

std::vector<family_owner_rule> parse_family_owners(std::string_view text,
                                                   const principal_resolver& resolve) {
    std::vector<family_owner_rule> rules;
    for (const auto item : split_list(text, ',')) {
        const auto eq = item.find('=');
        if (eq == std::string_view::npos)
            throw access_error("\"" + std::string(item) + "\" is not GLOB=OWNERS");
        family_owner_rule rule;
        rule.pattern = std::string(item.substr(0, eq));
        while (!rule.pattern.empty() && rule.pattern.back() == ' ')
            rule.pattern.pop_back();
        if (rule.pattern.empty())
            throw access_error("an ownership rule without a family glob");
        for (const char c : rule.pattern) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '_' || c == ':' || c == '*' || c == '?';
            if (!ok)
                throw access_error("family glob \"" + rule.pattern +
                                   "\" has a character that is neither in metric names nor * ?");
        }
        rule.owners = parse_principals(item.substr(eq + 1), resolve);
        if (rule.owners.empty())
            throw access_error("family glob \"" + rule.pattern + "\" has no owners");
        rules.push_back(std::move(rule));
    }
    return rules;
}

const family_owner_rule* access_policy::refusing_rule(std::string_view family,
                                                      const peer_identity& peer) const noexcept {
    for (const auto& rule : family_owners)
        if (glob_match(rule.pattern, family))
            return rule.owners.contains(peer) ? nullptr : &rule;
    return nullptr;
}

} // namespace metricsd::daemon

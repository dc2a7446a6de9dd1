#include "daemon/config/json_locator.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace metricsd::daemon {

text_position position_of_offset(std::string_view text, std::size_t offset) {
    text_position p;
    const std::size_t end = std::min(offset, text.size());
    for (std::size_t i = 0; i < end; ++i) {
        if (text[i] == '\n') {
            ++p.line;
            p.column = 1;
        } else {
            ++p.column;
        }
    }
    return p;
}

std::string to_string(text_position p) {
    return std::to_string(p.line) + ":" + std::to_string(p.column);
}

json_key_index::json_key_index(std::string_view text) : text_(text) {
    skip_whitespace();
    walk_value("");
}

text_position json_key_index::key(std::string_view path) const {
    const auto it = entries_.find(path);
    return it == entries_.end() ? text_position{} : it->second.key;
}

text_position json_key_index::value(std::string_view path) const {
    const auto it = entries_.find(path);
    return it == entries_.end() ? text_position{} : it->second.value;
}

void json_key_index::skip_whitespace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
        ++pos_;
}

// Returns the decoded key. The raw token (quotes included) is handed to nlohmann_json so that
// escapes (\u0061, \") decode exactly as the real parser decoded them.
std::string json_key_index::read_string() {
    const std::size_t start = pos_;
    ++pos_; // opening quote
    while (pos_ < text_.size() && text_[pos_] != '"')
        pos_ += text_[pos_] == '\\' ? 2 : 1;
    pos_ = std::min(pos_ + 1, text_.size()); // closing quote
    const auto raw = text_.substr(start, pos_ - start);
    const auto decoded = nlohmann::json::parse(raw, nullptr, false);
    return decoded.is_string() ? decoded.get<std::string>() : std::string(raw);
}

void json_key_index::walk_value(const std::string& path) {
    if (pos_ >= text_.size())
        return;
    switch (text_[pos_]) {
    case '{':
        walk_object(path);
        return;
    case '[':
        walk_array(path);
        return;
    case '"':
        read_string();
        return;
    default:
        // Numbers, true, false, null: they end at a delimiter.
        while (pos_ < text_.size() &&
               std::string_view(",]} \t\r\n").find(text_[pos_]) == std::string_view::npos)
            ++pos_;
    }
}

void json_key_index::walk_object(const std::string& path) {
    ++pos_; // {
    std::map<std::string, bool, std::less<>> seen;
    for (;;) {
        skip_whitespace();
        if (pos_ >= text_.size() || text_[pos_] != '"')
            break; // '}' (or invalid input)
        const std::size_t key_at = pos_;
        const std::string name = read_string();
        const std::string child = path.empty() ? name : path + "." + name;
        skip_whitespace();
        if (pos_ < text_.size() && text_[pos_] == ':')
            ++pos_;
        skip_whitespace();
        const entry e{position_of_offset(text_, key_at), position_of_offset(text_, pos_)};
        if (!seen.emplace(name, true).second)
            duplicates_.push_back({child, e.key});
        else
            entries_[child] = e;
        walk_value(child);
        skip_whitespace();
        if (pos_ < text_.size() && text_[pos_] == ',')
            ++pos_;
    }
    if (pos_ < text_.size())
        ++pos_; // }
}

void json_key_index::walk_array(const std::string& path) {
    ++pos_; // [
    for (std::size_t i = 0;; ++i) {
        skip_whitespace();
        if (pos_ >= text_.size() || text_[pos_] == ']')
            break;
        const std::size_t before = pos_;
        walk_value(path.empty() ? std::to_string(i) : path + "." + std::to_string(i));
        skip_whitespace();
        if (pos_ < text_.size() && text_[pos_] == ',')
            ++pos_;
        if (pos_ == before)
            break; // invalid input: no progress
    }
    if (pos_ < text_.size())
        ++pos_; // ]
}

} // namespace metricsd::daemon

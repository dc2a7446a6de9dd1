// Where things are in a JSON text: byte offsets -> line:column, and dotted key paths -> the
// position of the key. nlohmann_json 3.11 keeps no positions in the values it builds, so error
// messages about a key ("limits.max_series at 7:5") come from this index instead. Pure.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::daemon {

/// 1-based line and column; the column counts bytes, as nlohmann_json and most editors' "byte
/// column" do.
struct text_position {
    std::size_t line = 1;
    std::size_t column = 1;
};

/// The line and column of byte `offset` (0-based) in `text`. Offsets past the end give the
/// position just after the last byte.
text_position position_of_offset(std::string_view text, std::size_t offset);

/// "7:5"
std::string to_string(text_position p);

/// The position of every object key of a JSON text, by dotted path ("limits.max_series");
/// array elements are indexed by number ("a.0.b"). Keys that appear twice in one object are
/// listed in duplicates() (nlohmann_json silently keeps the last one).
class json_key_index {
public:
    /// `text` must be valid JSON (parse it with nlohmann_json first); on invalid input the
    /// index is incomplete but building it never reads out of bounds.
    explicit json_key_index(std::string_view text);

    /// Position of the key `path`, or of the document start when it is not known (e.g. "").
    text_position key(std::string_view path) const;
    /// Position of the value of `path` (the first byte after the colon and whitespace).
    text_position value(std::string_view path) const;

    struct duplicate {
        std::string path;
        text_position where; ///< the second occurrence
    };
    const std::vector<duplicate>& duplicates() const noexcept { return duplicates_; }

private:
    struct entry {
        text_position key;
        text_position value;
    };
    void walk_value(const std::string& path);
    void walk_object(const std::string& path);
    void walk_array(const std::string& path);
    std::string read_string();
    void skip_whitespace();

    std::string_view text_;
    std::size_t pos_ = 0;
    std::map<std::string, entry, std::less<>> entries_;
    std::vector<duplicate> duplicates_;
};

} // namespace metricsd::daemon

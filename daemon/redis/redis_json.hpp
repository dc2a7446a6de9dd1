// The JSON text pytheus puts in Redis hash fields, written byte-for-byte as Python's
// `json.dumps` does, and read back leniently (any key order, any valid escapes). Pure.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsd::daemon {

/// Append `s` (UTF-8) as a JSON string exactly as Python's `json.dumps(s)` writes it with its
/// defaults (ensure_ascii=True): `"` and `\` escaped, \n \r \t \b \f short, every other byte
/// below 0x20 and every code point from 0x7f up as `\uXXXX` (lower-case hex), code points
/// above U+FFFF as a surrogate pair. Invalid UTF-8 becomes U+FFFD (`\ufffd`), as Python's
/// `bytes.decode(errors="replace")` would, so the output is always valid JSON.
void append_python_json_string(std::string& out, std::string_view s);

/// Append `json.dumps(dict(zip(names, values)))`: `{"k": "v", "k2": "v2"}` with `", "` and
/// `": "` separators, keys in the given order; `{}` when empty. Precondition: equal sizes.
void append_python_json_labels(std::string& out, std::span<const std::string> names,
                               std::span<const std::string> values);

/// `json.dumps(list_of_strings)`: `["a", "b"]`, `[]` when empty.
void append_python_json_array(std::string& out, std::span<const std::string> items);

/// A value in a flat JSON object: a string, or an array of strings.
struct json_flat_value {
    bool is_array = false;
    std::string text;               ///< when !is_array
    std::vector<std::string> items; ///< when is_array
};
using json_flat_object = std::vector<std::pair<std::string, json_flat_value>>;

/// Parse a JSON object whose values are strings or arrays of strings, keeping member order.
/// Accepts any JSON whitespace, `\uXXXX` in either case, surrogate pairs, `\/`, and raw UTF-8
/// (writers with ensure_ascii=False). Returns nullopt on anything else: other value types,
/// lone surrogates, raw control characters, raw bytes that are not UTF-8 (Python's json.loads
/// refuses them too), duplicate keys, trailing bytes.
std::optional<json_flat_object> parse_json_flat_object(std::string_view text);

/// The label values of a hash field, in the order of `names`, whatever the field's key order.
/// nullopt when the field is not a JSON object of strings with exactly the keys `names`.
std::optional<std::vector<std::string>> parse_label_json(std::string_view field,
                                                         std::span<const std::string> names);

} // namespace metricsd::daemon

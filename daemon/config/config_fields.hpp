// Internal to the config library: the table of settings. Each field knows its key, environment
// variable, flag, range or values and help text (config_key), how to read it from a config and
// how to validate and store a new value, and what the schema and the README say beyond that; so
// the file, the environment, the command line, the schema and the README share one source.
#pragma once

#include "daemon/config/config.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace metricsd::daemon::detail {

/// A setting's value before validation: JSON numbers and strings, environment text.
using setting_value = std::variant<std::uint64_t, std::string>;

/// Thrown by a field's setter; what() says what is expected ("an integer from 1 to 4096").
/// The caller adds where the value came from.
class bad_value : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Thrown by an object field's from_json: what is wrong at `path` inside the file (a dotted
/// key path below the field's key, e.g. "series_ttl.families.x"), at that key or at its value.
/// what() is the whole message; the caller prefixes the file position.
class bad_member : public bad_value {
public:
    bad_member(std::string path, bool at_key, const std::string& message)
        : bad_value(message), path(std::move(path)), at_key(at_key) {}
    std::string path;
    bool at_key;
};

/// What only the documentation needs: the README's columns and the schema's shape of a text.
struct field_doc {
    std::string_view values{};  ///< README "values" of a text or object setting (Markdown)
    std::string_view notes{};   ///< README: said after the help text (Markdown)
    std::size_t min_length = 0; ///< schema minLength of a text; 0: none
    std::size_t max_length = 0; ///< schema maxLength of a text; 0: none
    std::string_view pattern{}; ///< schema pattern: the check's shape, for editors
};

struct config_field {
    config_key name;
    field_doc doc;
    std::function<setting_value(const config&)> get;
    /// Validates and stores; throws bad_value. Integer fields get a uint64, text fields a string,
    /// object fields their text form (as the environment and flags give it).
    std::function<void(config&, const setting_value&)> set;
    /// Never echo the value in messages (a Redis URL may carry a password).
    bool secret = false;
    /// Object fields only: the file's JSON object to the text form `set` takes; throws
    /// bad_member for what is wrong inside it.
    std::function<setting_value(const nlohmann::json&)> from_json{};
    /// Object fields only: the value as the config file writes it (to_json).
    std::function<nlohmann::ordered_json(const config&)> to_json{};
    /// Object fields only: the JSON schema of the object (its members and their ranges).
    std::function<nlohmann::ordered_json()> schema{};
};

/// A section of the file ("redis", "limits", "state") and what the schema says of it.
struct config_section {
    std::string_view name;
    std::string_view description;
};

/// Every section, in documentation order.
const std::vector<config_section>& config_sections();

/// Every field, in documentation order.
const std::vector<config_field>& config_fields();

/// The field for a key path, or nullptr.
const config_field* find_field(std::string_view key);

} // namespace metricsd::daemon::detail

#include "daemon/redis/redis_layout.hpp"

#include "daemon/redis/redis_json.hpp"
#include "daemon/store/number_format.hpp"

#include <metricsd/protocol/messages.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace metricsd::daemon {
namespace {

// The types and modes spelled as protocol::to_string spells them; the record stores names,
// not enum numbers, so it stays readable and survives enum renumbering.
template <class Enum>
std::optional<Enum> enum_from_name(std::string_view text, unsigned first, unsigned last) {
    for (unsigned v = first; v <= last; ++v)
        if (protocol::to_string(static_cast<Enum>(v)) == text)
            return static_cast<Enum>(v);
    return std::nullopt;
}

struct meta_fields {
    const json_flat_value* type = nullptr;
    const json_flat_value* mode = nullptr;
    const json_flat_value* help = nullptr;
    const json_flat_value* labels = nullptr;
    const json_flat_value* buckets = nullptr;
};

meta_fields find_meta_fields(const json_flat_object& members) {
    meta_fields f;
    for (const auto& [key, value] : members) {
        if (key == "type")
            f.type = &value;
        else if (key == "mode")
            f.mode = &value;
        else if (key == "help")
            f.help = &value;
        else if (key == "labels")
            f.labels = &value;
        else if (key == "buckets")
            f.buckets = &value;
    }
    return f;
}

} // namespace

std::string data_key(std::string_view prefix, std::string_view name) {
    std::string key;
    key.reserve(prefix.size() + 1 + name.size());
    if (!prefix.empty()) {
        key += prefix;
        key += '-';
    }
    key += name;
    return key;
}

std::string cell_key(std::string_view prefix, std::string_view name, std::string_view cell) {
    std::string key = data_key(prefix, name);
    key += ':';
    key += cell;
    return key;
}

std::string meta_key(std::string_view prefix) {
    return data_key(prefix, "metricsd:meta");
}

std::string flushseq_key(std::string_view prefix, std::string_view daemon_id) {
    return data_key(prefix, "metricsd:flushseq:") + std::string(daemon_id);
}

std::string live_key(std::string_view prefix, std::string_view daemon_id) {
    return data_key(prefix, "metricsd:live:") + std::string(daemon_id);
}

std::string daemons_key(std::string_view prefix) {
    return data_key(prefix, "metricsd:daemons");
}

bool uses_live_key(const family_spec& spec) noexcept {
    return spec.type == protocol::metric_type::gauge && is_live(spec.mode);
}

std::string live_field(const family_spec& spec, std::span<const std::string> label_values) {
    std::string field = spec.name;
    field += ' ';
    append_python_json_labels(field, redis_label_names(spec), label_values);
    return field;
}

std::string live_value(double v, std::int64_t stamp_ms) {
    std::string out;
    append_redis_number(out, v);
    out += ' ';
    out += std::to_string(stamp_ms);
    return out;
}

std::optional<std::pair<double, std::int64_t>> parse_live_value(std::string_view text) {
    const auto space = text.find(' ');
    const auto v = parse_redis_number(text.substr(0, space));
    if (!v)
        return std::nullopt;
    std::int64_t stamp = 0;
    if (space != std::string_view::npos) {
        const auto rest = text.substr(space + 1);
        const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), stamp);
        if (ec != std::errc{} || ptr != rest.data() + rest.size())
            return std::nullopt;
    }
    return std::pair{*v, stamp};
}

std::vector<std::string_view> cell_names(const family_spec& spec) {
    std::vector<std::string_view> cells;
    if (spec.type == protocol::metric_type::histogram) {
        for (const auto& text : spec.bucket_texts)
            cells.emplace_back(text);
        cells.push_back(inf_cell);
    }
    if (spec.type == protocol::metric_type::histogram ||
        spec.type == protocol::metric_type::summary) {
        cells.push_back(sum_cell);
        cells.push_back(count_cell);
    }
    return cells;
}

std::vector<std::string> bound_spellings(std::string_view declared, double bound) {
    std::vector<std::string> texts{std::string(declared)};
    const auto add = [&texts](std::string t) {
        if (std::find(texts.begin(), texts.end(), t) == texts.end())
            texts.push_back(std::move(t));
    };
    if (!std::isfinite(bound))
        return texts;
    std::string float_text;
    append_python_float(float_text, bound);
    add(std::move(float_text));
    // str(int): exact digits of an integral double; past 2^63 nobody writes buckets.
    if (bound == std::trunc(bound) && std::fabs(bound) < 9.2e18)
        add(std::to_string(static_cast<std::int64_t>(bound)));
    return texts;
}

std::vector<std::string> redis_label_names(const family_spec& spec) {
    auto names = spec.label_names;
    if (spec.type == protocol::metric_type::gauge && is_per_pid(spec.mode))
        names.emplace_back("pid");
    return names;
}

void append_redis_number(std::string& out, double v) {
    if (append_python_nonfinite(out, v))
        return;
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, ec == std::errc{} ? end : buf);
}

std::optional<double> parse_redis_number(std::string_view text) {
    if (!text.empty() && text.front() == '+')
        text.remove_prefix(1);
    if (text.empty() || text.front() == '+')
        return std::nullopt;
    double v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size())
        return std::nullopt;
    return v;
}

std::string encode_family_meta(const family_spec& spec) {
    std::string out = "{\"type\": ";
    append_python_json_string(out, protocol::to_string(spec.type));
    out += ", \"mode\": ";
    append_python_json_string(out, protocol::to_string(spec.mode));
    out += ", \"help\": ";
    append_python_json_string(out, spec.help);
    out += ", \"labels\": ";
    append_python_json_array(out, spec.label_names);
    out += ", \"buckets\": ";
    append_python_json_array(out, spec.bucket_texts);
    out += '}';
    return out;
}

std::optional<family_spec> decode_family_meta(std::string_view name, std::string_view record) {
    const auto members = parse_json_flat_object(record);
    if (!members)
        return std::nullopt;
    const auto f = find_meta_fields(*members);
    if (!f.type || f.type->is_array || (f.mode && f.mode->is_array) ||
        (f.help && f.help->is_array) || (f.labels && !f.labels->is_array) ||
        (f.buckets && !f.buckets->is_array))
        return std::nullopt;
    const auto type = enum_from_name<protocol::metric_type>(f.type->text, 1, 4);
    const auto mode =
        f.mode ? protocol::parse_gauge_mode(f.mode->text) : protocol::gauge_mode::livesum;
    if (!type || !mode)
        return std::nullopt;
    // Validate through the same path as a client declaration: a record some other writer
    // corrupted must not yield a family the exposition cannot render.
    std::vector<std::string_view> labels, buckets;
    if (f.labels)
        labels.assign(f.labels->items.begin(), f.labels->items.end());
    if (f.buckets)
        buckets.assign(f.buckets->items.begin(), f.buckets->items.end());
    protocol::family_decl decl;
    decl.type = *type;
    decl.mode = *mode;
    decl.name = name;
    decl.help = f.help ? std::string_view(f.help->text) : std::string_view{};
    decl.label_names = labels;
    decl.buckets = buckets;
    auto spec = make_family_spec(decl);
    if (!spec)
        return std::nullopt;
    return std::move(spec.value());
}

} // namespace metricsd::daemon

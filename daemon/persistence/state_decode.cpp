#include "daemon/persistence/state_codec.hpp"

#include "daemon/persistence/state_format.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/protocol/family_definition.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <functional>

namespace metricsd::daemon {
namespace {

using json = nlohmann::json;
using protocol::metric_type;

/// One series as saved: label values and the cells its family's type uses.
struct saved_series {
    std::vector<std::string> values;
    double value = 0;           ///< counter
    std::vector<double> counts; ///< histogram, per bucket (not cumulative), +Inf last
    double sum = 0;             ///< histogram, summary
    double count = 0;           ///< histogram, summary
    bool has_value = false, has_buckets = false, has_sum = false, has_count = false;
};

struct saved_family : protocol::family_definition {
    std::vector<saved_series> series;
};

/// Thrown inside decoding only; restore_state turns it into a result.
struct bad_state {
    std::string message;
};

double read_number(const json& j, const std::string& what) {
    if (j.is_number())
        return j.get<double>();
    if (j == "NaN")
        return std::nan("");
    if (j == "+Inf" || j == "-Inf")
        return j == "+Inf" ? INFINITY : -INFINITY;
    throw bad_state{what + " is not a number"};
}

/// Counts and counter totals: never negative, never NaN.
double read_count(const json& j, const std::string& what) {
    const double v = read_number(j, what);
    if (!(v >= 0))
        throw bad_state{what + " is negative or NaN"};
    return v;
}

std::vector<std::string> strings(const json& j, const std::string& what) {
    if (!j.is_array())
        throw bad_state{what + " is not a list"};
    std::vector<std::string> out;
    for (const auto& e : j) {
        if (!e.is_string())
            throw bad_state{what + " holds a non-string"};
        out.push_back(e.get<std::string>());
    }
    return out;
}

const json& member(const json& j, const char* key, const std::string& what) {
    if (!j.is_object() || !j.contains(key))
        throw bad_state{what + " has no \"" + key + "\""};
    return j[key];
}

/// A series object, read before its family is complete: what it holds, checked later.
saved_series read_series(const json& j, const std::string& what) {
    saved_series s;
    s.values = strings(member(j, "labels", what), what + " labels");
    if ((s.has_value = j.contains("value")))
        s.value = read_count(j["value"], what + " value");
    if ((s.has_buckets = j.contains("buckets") && j["buckets"].is_array()))
        for (const auto& c : j["buckets"])
            s.counts.push_back(read_count(c, what + " bucket count"));
    if ((s.has_sum = j.contains("sum")))
        s.sum = read_number(j["sum"], what + " sum");
    if ((s.has_count = j.contains("count")))
        s.count = read_count(j["count"], what + " count");
    return s;
}

/// The cells the family's type needs are there, and as many bucket counts as buckets + 1.
void check_series(const saved_series& s, const saved_family& f, const std::string& what) {
    const bool counter = f.type == metric_type::counter;
    if (counter ? !s.has_value : !s.has_sum || !s.has_count)
        throw bad_state{what + (counter ? " has no value" : " has no sum or count")};
    if (f.type == metric_type::histogram &&
        (!s.has_buckets || s.counts.size() != f.bucket_texts.size() + 1))
        throw bad_state{what + " has the wrong number of bucket counts"};
}

/// Parser callback: turns each series object into a saved_series as soon as it is complete and
/// drops it from the document, so a state of a million series never exists as a JSON tree.
/// Depths (nlohmann): root keys 1, family objects 2, family keys 3, series objects 4.
struct series_collector {
    std::vector<std::vector<saved_series>> per_family; ///< in file order
    std::array<std::string, 4> key_at;                 ///< the last key seen at each depth

    bool operator()(int depth, json::parse_event_t event, json& parsed) {
        using ev = json::parse_event_t;
        if (event == ev::key && depth < 4)
            key_at[static_cast<std::size_t>(depth)] = parsed.get<std::string>();
        if (event == ev::object_start && depth == 2 && key_at[1] == "families")
            per_family.emplace_back();
        if (event != ev::object_end || depth != 4 || key_at[3] != "series" || per_family.empty())
            return true;
        auto& list = per_family.back();
        list.push_back(read_series(parsed, "family " + std::to_string(per_family.size() - 1) +
                                               " series " + std::to_string(list.size())));
        return false;
    }
};

saved_family decode_family(const json& j, std::vector<saved_series> series,
                           const std::string& what) {
    saved_family f;
    const auto& name = member(j, "name", what);
    const auto& type = member(j, "type", what);
    const auto& help = member(j, "help", what);
    if (!name.is_string() || !type.is_string() || !help.is_string())
        throw bad_state{what + " has a non-string name, type or help"};
    f.name = name.get<std::string>();
    f.help = help.get<std::string>();
    const std::string t = type.get<std::string>();
    if (t != "counter" && t != "histogram" && t != "summary")
        throw bad_state{what + " (\"" + f.name + "\") has type \"" + t + "\""};
    f.type = t == "counter"     ? metric_type::counter
             : t == "histogram" ? metric_type::histogram
                                : metric_type::summary;
    f.label_names = strings(member(j, "labels", what), what + " labels");
    if (f.type == metric_type::histogram)
        f.bucket_texts = strings(member(j, "buckets", what), what + " buckets");
    if (!member(j, "series", what).is_array())
        throw bad_state{what + " series is not a list"};
    f.series = std::move(series);
    for (std::size_t i = 0; i < f.series.size(); ++i)
        check_series(f.series[i], f, what + " (\"" + f.name + "\") series " + std::to_string(i));
    return f;
}

/// Header line -> body; checks magic, version, length and checksum.
std::string_view checked_body(std::string_view bytes) {
    const auto newline = bytes.find('\n');
    if (!bytes.starts_with(std::string(state_magic) + " ") || newline == std::string_view::npos)
        throw bad_state{"not a metricsd state file (no \"metricsd-state\" header)"};
    const std::string header(bytes.substr(0, newline));
    int version = 0;
    unsigned long crc = 0;
    unsigned long long length = 0;
    int used = 0;
    if (std::sscanf(header.c_str(), "metricsd-state %d crc32=%8lx bytes=%llu%n", &version, &crc,
                    &length, &used) < 1)
        throw bad_state{"unreadable state file header \"" + header.substr(0, 60) + "\""};
    if (version != state_format_version)
        throw bad_state{"unsupported state format version " + std::to_string(version) +
                        " (this metricsd reads version " + std::to_string(state_format_version) +
                        ")"};
    // Only the canonical spelling is accepted ("crc32=1A2B..." or "bytes=007" are damage too).
    if (static_cast<std::size_t>(used) != header.size() ||
        detail::state_header(static_cast<std::uint32_t>(crc), length) != header + "\n")
        throw bad_state{"unreadable state file header \"" + header.substr(0, 60) + "\""};
    const auto body = bytes.substr(newline + 1);
    if (body.size() != length)
        throw bad_state{"truncated or padded: the header announces " + std::to_string(length) +
                        " body bytes, the file has " + std::to_string(body.size())};
    if (detail::state_crc32(body) != crc)
        throw bad_state{"checksum mismatch: the state file is corrupt"};
    return body;
}

/// A refusal that only says the store's limits are lower than when the file was written (the
/// file's CRC already vouches for the bytes): skip what does not fit and restore the rest.
bool over_a_limit(protocol::error_code code) {
    using protocol::error_code;
    return code == error_code::family_series_limit || code == error_code::total_series_limit ||
           code == error_code::invalid_label_value; // a value over max_label_value_length
}

/// What did not fit the limits, over one restore.
struct skipped {
    std::size_t families = 0; ///< skipped whole, with their series
    std::size_t series = 0;   ///< all skipped series, those of skipped families included
    std::string first;        ///< the first refusal, for the log
    void add(std::size_t n_families, std::size_t n_series, const std::string& why) {
        if (first.empty())
            first = why;
        families += n_families;
        series += n_series;
    }
};

/// Declare one family in `s` and set its series' cells, in file order, skipping what does not
/// fit the limits; returns any other failure.
std::string restore_family(store& s, const saved_family& f, worker_id restorer, skipped& skip) {
    // With the total series limit reached, declare no family that would stay empty.
    if (!f.series.empty() && s.series_count() >= s.limits().max_series_total) {
        skip.add(1, f.series.size(),
                 "family \"" + f.name + "\": series limit reached (" +
                     std::to_string(s.limits().max_series_total) + ")");
        return "";
    }
    auto declared = s.declare_family(protocol::family_decl_view(f).decl());
    if (!declared && over_a_limit(declared.error().code)) {
        skip.add(1, f.series.size(), "family \"" + f.name + "\": " + declared.error().message);
        return "";
    }
    if (!declared)
        return "family \"" + f.name + "\": " + declared.error().message;
    for (const auto& saved : f.series) {
        const std::vector<std::string_view> values(saved.values.begin(), saved.values.end());
        auto b = s.declare_series(declared.value(), values, restorer);
        if (!b && over_a_limit(b.error().code)) {
            skip.add(0, 1, "family \"" + f.name + "\": " + b.error().message);
            continue;
        }
        if (!b)
            return "family \"" + f.name + "\": " + b.error().message;
        // The binding's target is the series itself: exact values, no replayed ops.
        series& cell = *b.value().target;
        cell.value = saved.value;
        if (f.type == metric_type::histogram)
            cell.histogram() = histogram_cell{saved.counts, saved.sum, saved.count};
        if (f.type == metric_type::summary)
            cell.summary() = summary_cell{saved.sum, saved.count};
    }
    return "";
}

/// What restoring `families` could fail on other than a limit, without creating a series: each
/// family declared in a scratch store without limits, each series' value count checked as
/// store::declare_series would. Returns the first failure, as restore_family words it.
std::string check_families(const std::vector<saved_family>& families) {
    store_limits unlimited;
    unlimited.max_families = SIZE_MAX;
    unlimited.max_store_bytes = SIZE_MAX;
    store scratch(unlimited);
    for (const auto& f : families) {
        auto declared = scratch.declare_family(protocol::family_decl_view(f).decl());
        if (!declared && !over_a_limit(declared.error().code))
            return "family \"" + f.name + "\": " + declared.error().message;
        for (const auto& saved : f.series)
            if (saved.values.size() != f.label_names.size())
                return "family \"" + f.name + "\": '" + f.name + "' has " +
                       std::to_string(f.label_names.size()) + " label(s); got " +
                       std::to_string(saved.values.size()) + " value(s)";
    }
    return "";
}

/// Restore every family into `s` (skipping what does not fit); returns the first other failure.
std::string apply_to(store& s, const std::vector<saved_family>& families, skipped& skip) {
    const worker_id restorer = s.add_worker(0);
    std::string error;
    for (const auto& f : families)
        if (error = restore_family(s, f, restorer, skip); !error.empty())
            break;
    // Counters, histograms and summaries keep their cells when a worker retires.
    s.retire_worker(restorer);
    return error;
}

} // namespace

restore_result restore_state(std::string_view bytes, store& s) {
    restore_result r;
    try {
        series_collector collector;
        const auto doc = json::parse(checked_body(bytes), std::ref(collector), false);
        if (doc.is_discarded() || !doc.is_object())
            throw bad_state{"the state body is not a JSON object"};
        const auto& written = member(doc, "written_at", "the state");
        const auto& host = member(doc, "hostname", "the state");
        const auto& instance = member(doc, "instance", "the state");
        if (!written.is_number_integer() || !host.is_string() || !instance.is_string())
            throw bad_state{"the state has a malformed written_at, hostname or instance"};
        r.meta = {written.get<std::int64_t>(), host.get<std::string>(),
                  instance.get<std::string>()};
        const auto& list = member(doc, "families", "the state");
        if (!list.is_array() || list.size() != collector.per_family.size())
            throw bad_state{"the state's families is not a list of objects"};
        std::vector<saved_family> families;
        for (std::size_t i = 0; i < list.size(); ++i) {
            families.push_back(decode_family(list[i], std::move(collector.per_family[i]),
                                             "family " + std::to_string(i)));
            r.series += families.back().series.size();
        }
        if (!s.families().empty())
            throw bad_state{"the store already holds families; restore needs an empty store"};
        // A dry run catches what is not a limit (names, conflicts, value counts) before the
        // real store is touched; it declares the families only, so it costs no second copy of
        // the series.
        if (auto error = check_families(families); !error.empty())
            throw bad_state{error};
        skipped skip;
        if (auto error = apply_to(s, families, skip); !error.empty())
            throw bad_state{error}; // unreachable: same ops on an empty store with same limits
        r.families = families.size() - skip.families;
        r.series -= skip.series;
        r.skipped_families = skip.families;
        r.skipped_series = skip.series;
        r.first_skipped = std::move(skip.first);
        r.ok = true;
    } catch (const bad_state& e) {
        r.error = e.message;
        r.series = 0;
    }
    return r;
}

} // namespace metricsd::daemon

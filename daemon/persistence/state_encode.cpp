// encode_state: written straight into one string. Snapshots run on the io_context thread every
// snapshot_interval_s, so building a JSON DOM first (about 2 KB of allocations per series) would
// stall ingest far longer than appending text does.
#include "daemon/persistence/state_codec.hpp"
#include "daemon/persistence/state_format.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/protocol/names.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <random>
#include <unistd.h>
#include <zlib.h>

namespace metricsd::daemon {

namespace detail {

std::uint32_t state_crc32(std::string_view body) {
    return static_cast<std::uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
}

std::string state_header(std::uint32_t crc, std::size_t body_bytes) {
    char header[96];
    std::snprintf(header, sizeof header, "%s %d crc32=%08x bytes=%zu\n", state_magic.data(),
                  state_format_version, static_cast<unsigned>(crc), body_bytes);
    return header;
}

} // namespace detail

namespace {

using protocol::metric_type;

// Hand-written for valid UTF-8, because nlohmann's dump would change the format: version 1
// spells every byte below 0x20 as `\u00xx`, and nlohmann writes \b \f \n \r \t in their short
// form (everything else it writes the same: raw UTF-8, `\"`, `\\`, `/` and DEL as they are).
// A dump also costs a json value and a result string per string, on a path that writes every
// series. Invalid UTF-8 (only the hostname or instance can hold it: help and label values are
// checked on declare) has always gone through nlohmann's replace handler; never throw.
void put_string(std::string& out, std::string_view s) {
    if (!protocol::is_valid_utf8(s)) {
        out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return;
    }
    out += '"';
    for (const char ch : s) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (static_cast<unsigned char>(ch) < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(ch));
            out += esc;
        } else {
            out += ch;
        }
    }
    out += '"';
}

// Shortest text that reads back to the same double; non-finite values as strings (JSON has no
// NaN or Inf); -0 keeps its sign as "-0.0" (a bare "-0" parses as the integer 0).
void put_number(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "\"NaN\"";
    } else if (std::isinf(v)) {
        out += v > 0 ? "\"+Inf\"" : "\"-Inf\"";
    } else if (v == 0 && std::signbit(v)) {
        out += "-0.0";
    } else {
        char buf[32];
        out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    }
}

/// A JSON list of strings: a family's names, or a series' label values.
template <class List>
void put_strings(std::string& out, const List& list) {
    out += '[';
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (i)
            out += ',';
        put_string(out, list[i]);
    }
    out += ']';
}

void put_series(std::string& out, metric_type type, std::span<const std::string_view> values,
                const series& s) {
    out += "{\"labels\":";
    put_strings(out, values);
    if (type == metric_type::counter) {
        out += ",\"value\":";
        put_number(out, s.value);
        out += '}';
        return;
    }
    if (type == metric_type::histogram) {
        out += ",\"buckets\":[";
        for (std::size_t i = 0; i < s.histogram().counts.size(); ++i) {
            if (i)
                out += ',';
            put_number(out, s.histogram().counts[i]);
        }
        out += ']';
    }
    const bool h = type == metric_type::histogram;
    out += ",\"sum\":";
    put_number(out, h ? s.histogram().sum : s.summary().sum);
    out += ",\"count\":";
    put_number(out, h ? s.histogram().count : s.summary().count);
    out += '}';
}

void put_family(std::string& out, const family& f) {
    const auto& spec = f.spec();
    out += "{\"name\":";
    put_string(out, spec.name);
    out += spec.type == metric_type::counter     ? ",\"type\":\"counter\",\"help\":"
           : spec.type == metric_type::histogram ? ",\"type\":\"histogram\",\"help\":"
                                                 : ",\"type\":\"summary\",\"help\":";
    put_string(out, spec.help);
    out += ",\"labels\":";
    put_strings(out, spec.label_names);
    if (spec.type == metric_type::histogram) {
        out += ",\"buckets\":";
        put_strings(out, spec.bucket_texts);
    }
    out += ",\"series\":[";
    bool first = true;
    for (const auto& [values, cell] : f.all_series()) {
        if (!is_visible(cell))
            continue; // expired while a worker held it: gone for Prometheus, gone here too
        if (spec.type == metric_type::counter && !std::isfinite(cell.value)) [[unlikely]]
            continue; // store::apply refuses overflow; never persist a counter that can't move
        out += first ? "\n" : ",\n"; // one series per line: readable with head/grep
        first = false;
        put_series(out, spec.type, values, cell);
    }
    out += "]}";
}

} // namespace

state_metadata current_state_metadata() {
    static const std::string instance = [] {
        std::random_device rd;
        char hex[17];
        std::snprintf(hex, sizeof hex, "%08x%08x", rd(), rd());
        return std::string(hex);
    }();
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return {std::chrono::duration_cast<std::chrono::seconds>(now).count(), host, instance};
}

std::string encode_state(const store& s, const state_metadata& meta) {
    std::string body = "{\"written_at\":" + std::to_string(meta.written_at) + ",\"hostname\":";
    put_string(body, meta.hostname);
    body += ",\"instance\":";
    put_string(body, meta.instance);
    body += ",\"families\":[";
    bool first = true;
    for (const auto& [name, f] : s.families()) {
        if (f->spec().type == metric_type::gauge)
            continue; // live process state; see state_file.hpp
        body += first ? "\n" : ",\n";
        first = false;
        put_family(body, *f);
    }
    body += "]}\n";
    return detail::state_header(detail::state_crc32(body), body.size()) + body;
}

} // namespace metricsd::daemon

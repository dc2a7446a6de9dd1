// state_encoder: the body written straight as text, piece by piece. Snapshots run on the
// io_context thread every snapshot_interval_s, so building a JSON DOM first (about 2 KB of
// allocations per series) would stall ingest far longer than appending text does, and one string
// of the whole store would double its memory for the snapshot's duration.
#include "daemon/persistence/state_codec.hpp"
#include "daemon/persistence/state_format.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/protocol/names.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <random>
#include <unistd.h>
#include <zlib.h>

namespace metricsd::daemon {

namespace detail {

std::uint32_t state_crc32(std::string_view body, std::uint32_t crc) {
    // zlib takes lengths as uInt: feed a large body in pieces.
    while (!body.empty()) {
        const auto n = std::min<std::size_t>(body.size(), std::size_t{1} << 30);
        crc = static_cast<std::uint32_t>(
            crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(n)));
        body.remove_prefix(n);
    }
    return crc;
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

void put_family_header(std::string& out, const family_spec& spec) {
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

state_encoder::state_encoder(const store& s, state_metadata meta)
    : store_(s), meta_(std::move(meta)) {}

void state_encoder::next_family(std::string& out) {
    const auto& families = store_.families();
    auto it = started_ ? families.upper_bound(family_name_) : families.begin();
    started_ = true;
    while (it != families.end() && it->second->spec().type == metric_type::gauge)
        ++it; // live process state; see state_codec.hpp
    if (it == families.end()) {
        out += "]}\n";
        done_ = true;
        return;
    }
    family_ = it->second.get();
    family_name_ = it->first;
    out += first_family_ ? "\n" : ",\n";
    first_family_ = false;
    put_family_header(out, family_->spec());
    first_series_ = true;
    after_.clear();
}

bool state_encoder::next_series(std::string& out, std::size_t budget) {
    const auto& spec = family_->spec();
    const auto range = family_->all_series();
    // Resume after the last series written: a series erased since is simply not found, one
    // created since is written if it sorts after the cursor (as the scrape's cursor does).
    auto it = first_series_ ? range.begin() : range.upper_bound(after_);
    for (; it != range.end(); ++it) {
        const auto& [values, cell] = *it;
        if (!is_visible(cell))
            continue; // expired while a worker held it: gone for Prometheus, gone here too
        if (spec.type == metric_type::counter && !std::isfinite(cell.value)) [[unlikely]]
            continue; // store::apply refuses overflow; never persist a counter that can't move
        out += first_series_ ? "\n" : ",\n"; // one series per line: readable with head/grep
        first_series_ = false;
        put_series(out, spec.type, values, cell);
        if (out.size() >= budget) {
            after_.assign(values.begin(), values.end());
            return false;
        }
    }
    out += "]}";
    family_ = nullptr;
    return true;
}

bool state_encoder::next(std::string& out, std::size_t budget) {
    if (!preamble_written_) {
        out += "{\"written_at\":" + std::to_string(meta_.written_at) + ",\"hostname\":";
        put_string(out, meta_.hostname);
        out += ",\"instance\":";
        put_string(out, meta_.instance);
        out += ",\"families\":[";
        preamble_written_ = true;
    }
    while (!done_ && out.size() < budget) {
        if (!family_)
            next_family(out);
        else if (!next_series(out, budget))
            return true;
    }
    return !done_;
}

std::string encode_state(const store& s, const state_metadata& meta) {
    state_encoder encoder(s, meta);
    std::string body;
    while (encoder.next(body, SIZE_MAX)) {
    }
    return detail::state_header(detail::state_crc32(body), body.size()) + body;
}

} // namespace metricsd::daemon

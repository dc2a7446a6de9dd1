#include "daemon/redis/redis_flush.hpp"

#include "daemon/redis/redis_json.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;

// Accumulates commands and the keys they touch, so each key gets exactly one EXPIRE.
class pipeline {
public:
    template <class... Args>
    void command(const Args&... args) {
        const std::array<std::string_view, sizeof...(Args)> argv{std::string_view(args)...};
        append_command(bytes_, argv);
        ++count_;
    }
    void touch(const std::string& key) {
        if (seen_.insert(key).second)
            touched_.push_back(key);
    }
    std::string_view number(double v) {
        number_.clear();
        append_redis_number(number_, v);
        return number_;
    }
    std::string bytes_;
    std::size_t count_ = 0;
    std::vector<std::string> touched_;

private:
    std::unordered_set<std::string> seen_;
    std::string number_;
};

// What plan_flush needs of a family for each of its deltas, computed once per family and
// flush rather than once per delta (a flush of 100 k series writes some 300 k cells).
struct family_keys {
    std::vector<std::string> names; ///< redis_label_names
    std::vector<std::string> cells; ///< cell keys (histograms, summaries) in cell_names order
    std::string data;               ///< the data key (counters, gauges)
    bool touched = false;           ///< its keys are in the pipeline's EXPIRE list

    family_keys(std::string_view prefix, const family_spec& spec)
        : names(redis_label_names(spec)), data(data_key(prefix, spec.name)) {
        for (const auto cell : cell_names(spec))
            cells.push_back(cell_key(prefix, spec.name, cell));
    }
};

// INCRBYFLOAT key v, or HINCRBYFLOAT key field v. `field` is null for unlabelled families:
// pytheus keeps those in a STRING, and a HASH there would be a WRONGTYPE for it.
void write_cell(pipeline& p, const std::string& key, const std::string* field,
                series_delta::kind op, double v, bool touch = true) {
    if (op == series_delta::kind::remove) {
        // Nothing left to show: the field (or key) goes, and needs no EXPIRE.
        if (field)
            p.command("HDEL", key, *field);
        else
            p.command("DEL", key);
        return;
    }
    const auto num = p.number(v);
    const bool set = op == series_delta::kind::set;
    if (field)
        p.command(set ? "HSET" : "HINCRBYFLOAT", key, *field, num);
    else
        p.command(set ? "SET" : "INCRBYFLOAT", key, num);
    if (touch)
        p.touch(key);
}

bool acceptable(const series_delta& d, std::size_t label_count) {
    if (!d.family || d.label_values.size() != label_count)
        return false;
    const auto type = d.family->type;
    if (d.op != series_delta::kind::add)
        return type == metric_type::gauge;
    if (type == metric_type::histogram) {
        if (d.bucket_deltas.size() != d.family->bucket_texts.size() + 1)
            return false;
        for (double b : d.bucket_deltas)
            if (!std::isfinite(b))
                return false;
    }
    // INCRBYFLOAT refuses non-finite increments (and would poison the cell if it did not).
    return std::isfinite(d.value) && std::isfinite(d.sum) && std::isfinite(d.count);
}

void write_cells(pipeline& p, family_keys& keys, const series_delta& d,
                 const std::string* field) {
    const auto& spec = *d.family;
    constexpr auto add = series_delta::kind::add;
    // Each key of the family is touched once per flush, here, in cell order, rather than
    // looked up in the touched set for every cell written.
    if (!keys.touched) {
        keys.touched = true;
        if (keys.cells.empty())
            p.touch(keys.data);
        for (const auto& key : keys.cells)
            p.touch(key);
    }
    if (spec.type == metric_type::histogram) {
        // Redis holds cumulative buckets (pytheus's layout), the delta per-bucket counts.
        // Buckets below the smallest observation do not change: like pytheus's observe(),
        // leave them out, once the series' first write (every_bucket) or a flush without any
        // observation has created each cell (HINCRBYFLOAT by 0: idempotent, so a flush sent
        // again after a lost reply creates nothing twice).
        const bool every = d.count == 0 || d.every_bucket;
        double running = 0;
        for (std::size_t i = 0; i < spec.bucket_texts.size(); ++i) {
            running += d.bucket_deltas[i];
            if (running != 0 || every)
                write_cell(p, keys.cells[i], field, add, running, false);
        }
        running += d.bucket_deltas.back();
        write_cell(p, keys.cells[spec.bucket_texts.size()], field, add, running, false);
    }
    if (spec.type == metric_type::histogram || spec.type == metric_type::summary) {
        write_cell(p, keys.cells[keys.cells.size() - 2], field, add, d.sum, false);
        write_cell(p, keys.cells[keys.cells.size() - 1], field, add, d.count, false);
        return;
    }
    // A removed field needs no EXPIRE; the key was touched above all the same (harmless: the
    // EXPIRE of a missing key is a no-op).
    write_cell(p, keys.data, field, d.op, d.value, false);
}

// Writes of the daemon's own live key: the contributions, then its lease and membership.
void write_live(pipeline& p, const flush_request& r, std::span<const series_delta* const> live) {
    const auto key = live_key(r.prefix, r.daemon_id);
    const auto daemons = daemons_key(r.prefix);
    if (r.live_retire) {
        p.command("DEL", key);
        p.command("SREM", daemons, r.daemon_id);
        return;
    }
    for (const auto* d : live) {
        const auto field = live_field(*d->family, d->label_values);
        if (d->op == series_delta::kind::remove)
            p.command("HDEL", key, field);
        else
            p.command("HSET", key, field, live_value(d->value, d->stamp_ms));
    }
    if (live.empty() && !r.live_keepalive)
        return;
    // Not touched: the live key has its own short lease, not expire_key_time.
    p.command("PEXPIRE", key, std::to_string(r.live_lease_ms));
    p.command("SADD", daemons, r.daemon_id);
    p.touch(daemons);
}

} // namespace

flush_plan plan_flush(const flush_request& r) {
    pipeline p;
    flush_plan plan;
    p.command("MULTI");
    std::string field;
    std::vector<const series_delta*> live;
    std::unordered_map<const family_spec*, family_keys> keys_of;
    const family_spec* last_family = nullptr;
    family_keys* keys = nullptr;
    const std::vector<std::string> no_names;
    for (const auto& d : r.deltas) {
        if (d.family != last_family && d.family) {
            // Deltas come grouped by family (the store's order): one lookup per run.
            last_family = d.family;
            keys = &keys_of.try_emplace(d.family, r.prefix, *d.family).first->second;
        }
        const auto& names = d.family ? keys->names : no_names;
        if (!acceptable(d, names.size())) {
            ++plan.skipped;
            continue;
        }
        if (d.live) {
            live.push_back(&d);
            continue;
        }
        field.clear();
        if (!names.empty())
            append_python_json_labels(field, names, d.label_values);
        write_cells(p, *keys, d, names.empty() ? nullptr : &field);
    }
    if (!r.metadata.empty()) {
        const auto key = meta_key(r.prefix);
        for (const auto* spec : r.metadata)
            p.command("HSETNX", key, spec->name, encode_family_meta(*spec));
        p.touch(key);
    }
    for (const auto* spec : r.refresh) {
        const auto cells = cell_names(*spec);
        if (cells.empty())
            p.touch(data_key(r.prefix, spec->name));
        for (const auto cell : cells)
            p.touch(cell_key(r.prefix, spec->name, cell));
    }
    if (!r.refresh.empty())
        p.touch(meta_key(r.prefix));
    write_live(p, r, live);
    if (!r.stale_daemons.empty()) {
        std::vector<std::string_view> argv{"SREM"};
        const auto daemons = daemons_key(r.prefix);
        argv.push_back(daemons);
        argv.insert(argv.end(), r.stale_daemons.begin(), r.stale_daemons.end());
        append_command(p.bytes_, argv);
        ++p.count_;
    }
    const auto ttl = std::to_string(r.expire_seconds);
    for (const auto& key : p.touched_)
        p.command("EXPIRE", key, ttl);
    p.command("SET", flushseq_key(r.prefix, r.daemon_id), std::to_string(r.seq), "EX",
              std::to_string(r.seq_expire_seconds));
    p.command("EXEC");
    plan.replies = p.count_;
    plan.queued = p.count_ - 2;
    plan.bytes = std::move(p.bytes_);
    return plan;
}

transaction_outcome check_transaction(std::span<const reply_ptr> replies, std::size_t queued) {
    using status = transaction_outcome::status;
    transaction_outcome out;
    const auto is_status = [](const reply_ptr& r, std::string_view text) {
        return r && r->type == REDIS_REPLY_STATUS && reply_text(*r) == text;
    };
    if (replies.size() != queued + 2 || !is_status(replies.front(), "OK"))
        return out;
    bool queue_error = false;
    for (std::size_t i = 1; i <= queued; ++i) {
        if (replies[i] && replies[i]->type == REDIS_REPLY_ERROR) {
            queue_error = true;
            if (out.first_error.empty())
                out.first_error = reply_text(*replies[i]);
        } else if (!is_status(replies[i], "QUEUED")) {
            return out;
        }
    }
    const auto& exec = replies.back();
    if (exec && (exec->type == REDIS_REPLY_NIL || exec->type == REDIS_REPLY_ERROR)) {
        if (out.first_error.empty())
            out.first_error = reply_text(*exec);
        out.state = status::aborted;
        return out;
    }
    if (queue_error || !exec || exec->type != REDIS_REPLY_ARRAY || exec->elements != queued)
        return out;
    for (const redisReply* element : reply_elements(*exec)) {
        if (element && element->type == REDIS_REPLY_ERROR) {
            ++out.error_elements;
            if (out.first_error.empty())
                out.first_error = reply_text(*element);
        }
    }
    out.state = status::applied;
    out.exec = exec.get();
    return out;
}

std::string plan_flushseq_probe(std::string_view prefix, std::string_view daemon_id) {
    return command_bytes({"GET", flushseq_key(prefix, daemon_id)});
}

flushseq_state check_flushseq_probe(const redisReply& reply, std::uint64_t seq) {
    if (reply.type == REDIS_REPLY_NIL)
        return flushseq_state::not_applied;
    if (reply.type != REDIS_REPLY_STRING)
        return flushseq_state::unknown;
    const auto text = reply_text(reply);
    std::uint64_t stored = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), stored);
    if (ec != std::errc{} || ptr != text.data() + text.size())
        return flushseq_state::unknown;
    if (stored == seq)
        return flushseq_state::applied;
    return stored < seq ? flushseq_state::not_applied : flushseq_state::unknown;
}

} // namespace metricsd::daemon

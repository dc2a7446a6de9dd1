#include "daemon/redis/redis_scrape.hpp"

#include "daemon/redis/redis_flush.hpp"
#include "daemon/redis/redis_json.hpp"
#include "daemon/redis/redis_layout.hpp"

#include <algorithm>
#include <array>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;

// GET on an unlabelled family's key: a number, or nil when nobody wrote it yet.
void read_string(scrape_result& r, series_table& t, std::size_t cell, const redisReply& e) {
    if (e.type == REDIS_REPLY_NIL)
        return;
    if (e.type != REDIS_REPLY_STRING) {
        ++r.wrong_type_keys;
        return;
    }
    if (const auto v = parse_redis_number(reply_text(e)))
        t.add(t.row_of_labels({}), cell, *v);
    else
        ++r.bad_values;
}

// HGETALL on a labelled family's key: field/value pairs, empty when the key is absent. Fields
// that differ only in spelling land on one row, their values added.
void read_hash(scrape_result& r, series_table& t, std::size_t cell, std::size_t hint,
               const redisReply& e) {
    const auto items = reply_elements(e);
    if (e.type != REDIS_REPLY_ARRAY || items.size() % 2 != 0) {
        ++r.wrong_type_keys;
        return;
    }
    for (std::size_t i = 0; i < items.size(); i += 2) {
        if (!items[i] || !items[i + 1] || items[i]->type != REDIS_REPLY_STRING) {
            ++r.malformed_fields;
            continue;
        }
        const auto row = t.row_of_field(reply_text(*items[i]), hint, i / 2);
        if (row == series_table::no_row) {
            ++r.malformed_fields;
            continue;
        }
        const auto v = items[i + 1]->type == REDIS_REPLY_STRING
                           ? parse_redis_number(reply_text(*items[i + 1]))
                           : std::nullopt;
        if (!v) {
            ++r.bad_values;
            continue;
        }
        t.add(row, cell, *v);
    }
}

// HGETALL on a daemon's live key: `<family> <label JSON>` -> `<number> <stamp>`. Fields of
// families this scrape does not read (their metadata is gone) or that are not live* gauges
// are passed over.
void read_live(scrape_result& r, const std::map<std::string_view, std::size_t>& by_name,
               daemon_live& out, const redisReply& e) {
    const auto items = reply_elements(e);
    if (e.type != REDIS_REPLY_ARRAY || items.size() % 2 != 0) {
        ++r.wrong_type_keys;
        return;
    }
    out.present = !items.empty();
    for (std::size_t i = 0; i < items.size(); i += 2) {
        if (!items[i] || !items[i + 1] || items[i]->type != REDIS_REPLY_STRING ||
            items[i + 1]->type != REDIS_REPLY_STRING) {
            ++r.malformed_fields;
            continue;
        }
        const auto field = reply_text(*items[i]);
        const auto space = field.find(' ');
        const auto f = by_name.find(field.substr(0, space));
        if (space == std::string_view::npos || f == by_name.end())
            continue;
        auto& t = out.families[f->second];
        const auto row = t.row_of_field(field.substr(space + 1), 0, i / 2);
        if (row == series_table::no_row) {
            ++r.malformed_fields;
            continue;
        }
        const auto v = parse_live_value(reply_text(*items[i + 1]));
        if (!v) {
            ++r.bad_values;
            continue;
        }
        t.set(row, 0, v->first);
        t.stamp(row) = v->second;
    }
}

series_table::layout layout_of(const family_spec& spec, bool live) {
    if (live)
        return series_table::layout::live;
    switch (spec.type) {
    case metric_type::histogram:
        return series_table::layout::histogram;
    case metric_type::summary:
        return series_table::layout::summary;
    default:
        return series_table::layout::value;
    }
}

/// The table `key` from `reuse`, emptied, if it still fits the family and is not mostly
/// series gone from Redis (those rows would stay forever); else a new one.
series_table take_table(table_pool* reuse, std::string_view key, const family_spec& spec,
                        bool live) {
    if (reuse) {
        if (const auto it = reuse->find(key); it != reuse->end()) {
            series_table t = std::move(it->second);
            reuse->erase(it);
            if (t.fits(redis_label_names(spec), layout_of(spec, live), spec.bucket_texts.size()) &&
                t.absent_rows() <= t.size() + 1024) {
                t.reset();
                return t;
            }
        }
    }
    return table_for(spec, live);
}

} // namespace

series_table table_for(const family_spec& spec, bool live) {
    return series_table(redis_label_names(spec), layout_of(spec, live), spec.bucket_texts.size());
}

std::string plan_daemons_read(std::string_view prefix) {
    return command_bytes({"SMEMBERS", daemons_key(prefix)});
}

std::vector<std::string> parse_daemons_reply(const redisReply& reply) {
    std::vector<std::string> ids;
    for (const redisReply* e : reply_elements(reply))
        if (e && e->type == REDIS_REPLY_STRING)
            ids.emplace_back(reply_text(*e));
    std::sort(ids.begin(), ids.end());
    return ids;
}

std::string plan_meta_read(std::string_view prefix) {
    return command_bytes({"HGETALL", meta_key(prefix)});
}

meta_read parse_meta_reply(const redisReply& reply) {
    meta_read out;
    const auto items = reply_elements(reply);
    if (reply.type != REDIS_REPLY_ARRAY || items.size() % 2 != 0)
        return out;
    out.ok = true;
    for (std::size_t i = 0; i < items.size(); i += 2) {
        const bool strings = items[i] && items[i + 1] && items[i]->type == REDIS_REPLY_STRING &&
                             items[i + 1]->type == REDIS_REPLY_STRING;
        auto spec = strings ? decode_family_meta(reply_text(*items[i]), reply_text(*items[i + 1]))
                            : std::nullopt;
        if (spec)
            out.families.push_back(std::move(*spec));
        else
            ++out.malformed;
    }
    std::sort(out.families.begin(), out.families.end(),
              [](const family_spec& a, const family_spec& b) { return a.name < b.name; });
    return out;
}

scrape_plan plan_scrape(std::string_view prefix, std::span<const family_spec* const> families,
                        std::span<const std::string> daemons) {
    scrape_plan plan;
    const auto add = [&plan](std::string_view cmd, const std::string& key, std::size_t f,
                             std::size_t cell, std::size_t hint) {
        const std::array<std::string_view, 2> argv{cmd, key};
        append_command(plan.bytes, argv);
        plan.slots.push_back({f, cell, scrape_plan::no_daemon, hint});
    };
    const std::array<std::string_view, 1> multi{"MULTI"}, exec{"EXEC"};
    append_command(plan.bytes, multi);
    for (std::size_t f = 0; f < families.size(); ++f) {
        const auto& spec = *families[f];
        const std::string_view cmd = redis_label_names(spec).empty() ? "GET" : "HGETALL";
        const auto cells = cell_names(spec);
        if (cells.empty())
            add(cmd, data_key(prefix, spec.name), f, 0, 0);
        for (std::size_t c = 0; c < cells.size(); ++c)
            add(cmd, cell_key(prefix, spec.name, cells[c]), f, c, c);
        std::size_t hint = cells.size();
        for (std::size_t b = 0; b < spec.bucket_texts.size() && b < spec.bounds.size(); ++b) {
            const auto texts = bound_spellings(spec.bucket_texts[b], spec.bounds[b]);
            for (std::size_t t = 1; t < texts.size(); ++t)
                add(cmd, cell_key(prefix, spec.name, texts[t]), f, b, hint++);
        }
    }
    for (std::size_t d = 0; d < daemons.size(); ++d) {
        add("HGETALL", live_key(prefix, daemons[d]), 0, 0, 0);
        plan.slots.back().daemon = d;
    }
    append_command(plan.bytes, exec);
    plan.queued = plan.slots.size();
    plan.replies = plan.queued + 2;
    return plan;
}

scrape_result parse_scrape(const scrape_plan& plan, std::span<const family_spec* const> families,
                           std::span<const reply_ptr> replies,
                           std::span<const std::string> daemons, table_pool* reuse) {
    scrape_result r;
    const bool mismatch = std::any_of(plan.slots.begin(), plan.slots.end(), [&](const auto& s) {
        return s.daemon == scrape_plan::no_daemon ? s.family >= families.size()
                                                  : s.daemon >= daemons.size();
    });
    if (mismatch) {
        r.error = "families do not match the read plan";
        return r;
    }
    const auto tx = check_transaction(replies, plan.queued);
    if (tx.state != transaction_outcome::status::applied) {
        r.error =
            tx.first_error.empty() ? "replies do not match the read pipeline" : tx.first_error;
        return r;
    }
    r.ok = true;
    r.families.reserve(families.size());
    for (const auto* spec : families)
        r.families.push_back(take_table(reuse, spec->name, *spec, false));
    r.live.resize(daemons.size());
    std::map<std::string_view, std::size_t> by_name;
    for (std::size_t f = 0; f < families.size(); ++f)
        if (uses_live_key(*families[f]))
            by_name.emplace(families[f]->name, f);
    for (std::size_t d = 0; d < daemons.size(); ++d) {
        r.live[d].id = daemons[d];
        r.live[d].families.resize(families.size());
        for (const auto& [name, f] : by_name)
            r.live[d].families[f] =
                take_table(reuse, daemons[d] + ' ' + std::string(name), *families[f], true);
    }
    const auto elements = reply_elements(*tx.exec);
    for (std::size_t i = 0; i < plan.slots.size(); ++i) {
        const auto [family, cell, daemon, hint] = plan.slots[i];
        const redisReply* e = elements[i];
        if (!e || e->type == REDIS_REPLY_ERROR) {
            ++r.wrong_type_keys;
            continue;
        }
        if (daemon != scrape_plan::no_daemon) {
            read_live(r, by_name, r.live[daemon], *e);
            continue;
        }
        if (r.families[family].label_count() == 0)
            read_string(r, r.families[family], cell, *e);
        else
            read_hash(r, r.families[family], cell, hint, *e);
    }
    return r;
}

} // namespace metricsd::daemon

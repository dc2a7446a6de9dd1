#include "daemon/redis/redis_view.hpp"

#include "daemon/redis/redis_layout.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;

void overlay(const family_spec& spec, scraped_series_map& values, const series_delta& d) {
    if (d.op == series_delta::kind::remove) {
        values.erase(d.label_values);
        return;
    }
    auto& s = values[d.label_values];
    if (spec.type == metric_type::histogram) {
        s.cumulative.resize(spec.bounds.size() + 1, 0.0);
        double running = 0;
        for (std::size_t i = 0; i < s.cumulative.size() && i < d.bucket_deltas.size(); ++i) {
            running += d.bucket_deltas[i];
            s.cumulative[i] += running;
        }
    }
    s.sum += d.sum;
    s.count += d.count;
    if (d.op == series_delta::kind::set)
        s.value = d.value;
    else
        s.value += d.value;
}

/// Combine the contributions to one live* gauge series the way the mode combines workers.
void combine(protocol::gauge_mode mode, live_contribution& acc, bool& has,
             const live_contribution& c) {
    using enum protocol::gauge_mode;
    if (!has) {
        acc = c;
        has = true;
        return;
    }
    switch (mode) {
    case livesum:
        acc.value += c.value;
        break;
    case livemax:
        acc.value = std::max(acc.value, c.value);
        break;
    case livemin:
        acc.value = std::min(acc.value, c.value);
        break;
    default: // livemostrecent (and liveall, one writer per pid): the newest write wins
        if (c.stamp_ms >= acc.stamp_ms)
            acc = c;
        break;
    }
}

/// A live* family's values: the data key's (shared writers such as pytheus, stamp 0) combined
/// with every daemon's live key, ours updated by the pending deltas first.
scraped_series_map combine_live(const family_spec& spec, std::size_t index,
                                const scraped_series_map& data, std::vector<daemon_live>& live,
                                std::span<const series_delta* const> pending,
                                std::string_view own_daemon) {
    auto own = std::find_if(live.begin(), live.end(),
                            [&](const daemon_live& d) { return d.id == own_daemon; });
    if (own == live.end()) { // not flushed yet, or its key expired: only the pending deltas
        live.push_back({std::string(own_daemon), true, {}});
        own = live.end() - 1;
    }
    own->families.resize(std::max(own->families.size(), index + 1));
    for (const series_delta* d : pending) {
        if (d->op == series_delta::kind::remove)
            own->families[index].erase(d->label_values);
        else
            own->families[index][d->label_values] = {d->value, d->stamp_ms};
    }
    std::map<std::vector<std::string>, std::pair<live_contribution, bool>, label_values_less> acc;
    for (const auto& [labels, s] : data)
        combine(spec.mode, acc[labels].first, acc[labels].second, {s.value, 0});
    for (const auto& d : live)
        if (index < d.families.size())
            for (const auto& [labels, c] : d.families[index])
                combine(spec.mode, acc[labels].first, acc[labels].second, c);
    scraped_series_map out;
    for (const auto& [labels, c] : acc)
        out[labels].value = c.first.value;
    return out;
}

/// Redis keeps one plain value per gauge field, whatever the mode: every gauge shows the value
/// read, with the per-pid modes' `pid` as the last label value (where the store writes it).
void render_scraped(const family_spec& spec, const scraped_series_map& all, exposition_format f,
                    std::string& out) {
    family_writer w(family_desc(spec), f, out);
    const bool per_pid = spec.type == metric_type::gauge && is_per_pid(spec.mode);
    for (const auto& [labels, s] : all) {
        switch (spec.type) {
        case metric_type::counter:
            w.value(labels, s.value);
            break;
        case metric_type::gauge:
            if (per_pid)
                w.per_pid_value(std::span(labels).first(labels.size() - 1), labels.back(), s.value);
            else
                w.value(labels, s.value);
            break;
        case metric_type::histogram:
            w.cumulative_histogram(labels, s.cumulative, s.sum, s.count);
            break;
        case metric_type::summary:
            w.summary(labels, s.sum, s.count);
            break;
        }
    }
}

} // namespace

scrape_selection select_families(const store& st, const meta_read& meta) {
    scrape_selection out;
    std::unordered_set<std::string> claimed;
    for (const auto& [name, fam] : st.families()) {
        out.families.push_back(&fam->spec());
        for (auto& n : claimed_names(fam->spec()))
            claimed.insert(std::move(n));
    }
    for (const auto& spec : meta.families) {
        if (auto it = st.families().find(spec.name); it != st.families().end()) {
            if (auto why = conflict_between(it->second->spec(), spec); !why.empty())
                out.conflicts.push_back(spec.name + ": " + why);
            continue;
        }
        const auto names = claimed_names(spec);
        if (std::any_of(names.begin(), names.end(),
                        [&](const std::string& n) { return claimed.contains(n); })) {
            out.conflicts.push_back(spec.name + ": exposes a sample name another family exposes");
            continue;
        }
        claimed.insert(names.begin(), names.end());
        out.remote.push_back(std::make_unique<family_spec>(spec));
        out.families.push_back(out.remote.back().get());
    }
    std::sort(out.families.begin(), out.families.end(),
              [](const family_spec* a, const family_spec* b) { return a->name < b->name; });
    return out;
}

redis_view::redis_view(const scrape_selection& selected, scrape_result snapshot,
                       std::span<const series_delta> pending, std::string_view own_daemon) {
    const auto& specs = selected.families;
    snapshot.families.resize(specs.size());
    std::unordered_map<const family_spec*, std::size_t> index;
    for (std::size_t i = 0; i < specs.size(); ++i)
        index.emplace(specs[i], i);
    std::vector<std::vector<const series_delta*>> live_pending(specs.size());
    for (const auto& d : pending) {
        const auto it = index.find(d.family);
        if (it == index.end())
            continue;
        if (d.live)
            live_pending[it->second].push_back(&d);
        else
            overlay(*d.family, snapshot.families[it->second], d);
    }
    for (std::size_t i = 0; i < specs.size(); ++i)
        if (uses_live_key(*specs[i]))
            snapshot.families[i] = combine_live(*specs[i], i, snapshot.families[i], snapshot.live,
                                                live_pending[i], own_daemon);
    specs_.reserve(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
        specs_.push_back(*specs[i]);
        if (specs[i]->type != metric_type::histogram)
            continue;
        // One cumulative count per `le`: parse_scrape and overlay size them so; were a cell
        // short, its bucket would repeat the count below it.
        const std::size_t buckets = specs[i]->bounds.size() + 1;
        for (auto& [labels, s] : snapshot.families[i])
            s.cumulative.resize(buckets, s.cumulative.empty() ? 0.0 : s.cumulative.back());
    }
    families_ = std::move(snapshot.families);
}

void redis_view::render(exposition_format f, std::string& out) const {
    for (std::size_t i = 0; i < specs_.size(); ++i)
        render_scraped(specs_[i], families_[i], f, out);
}

} // namespace metricsd::daemon

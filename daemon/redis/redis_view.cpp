#include "daemon/redis/redis_view.hpp"

#include "daemon/redis/redis_layout.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;

/// Gauges come out of Redis as plain values, one per field: render them as `shared` ones, with
/// the per-pid modes' `pid` label as a declared label (last, where the store renders it).
family_spec view_spec(const family_spec& spec) {
    family_spec v = spec;
    if (v.type == metric_type::gauge) {
        if (is_per_pid(v.mode))
            v.label_names.emplace_back("pid");
        v.mode = protocol::gauge_mode::shared;
    }
    return v;
}

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

series to_series(const family& owner, const scraped_series& in) {
    series s;
    s.owner = &owner;
    s.value = in.value;
    const auto& spec = owner.spec();
    if (spec.type == metric_type::histogram) {
        // Redis keeps cumulative buckets; the store (and so the exposition) per-bucket counts.
        s.histogram.counts.assign(spec.bounds.size() + 1, 0.0);
        double below = 0;
        for (std::size_t i = 0; i < s.histogram.counts.size() && i < in.cumulative.size(); ++i) {
            s.histogram.counts[i] = in.cumulative[i] - below;
            below = in.cumulative[i];
        }
        s.histogram.sum = in.sum;
        s.histogram.count = in.count;
    } else {
        s.summary.sum = in.sum;
        s.summary.count = in.count;
    }
    return s;
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
    families_.reserve(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
        // Series point at their family, so the family takes its final place (reserved above)
        // first and gets its series once they are built.
        family& f = families_.emplace_back(view_spec(*specs[i]));
        series_map all;
        for (const auto& [labels, values] : snapshot.families[i]) {
            auto [pos, inserted] = all.emplace(labels, to_series(f, values));
            pos->second.label_values = &pos->first;
        }
        f = family(f.spec(), std::move(all));
    }
}

void redis_view::render(exposition_format f, std::string& out) const {
    for (const auto& fam : families_)
        render_family(fam, f, out);
}

std::size_t redis_view::series_count() const noexcept {
    std::size_t n = 0;
    for (const auto& f : families_)
        n += f.all_series().size();
    return n;
}

} // namespace metricsd::daemon

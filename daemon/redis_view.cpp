#include "daemon/redis_view.hpp"

#include "daemon/redis_layout.hpp"

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
                       std::span<const series_delta> pending) {
    const auto& specs = selected.families;
    snapshot.families.resize(specs.size());
    std::unordered_map<const family_spec*, std::size_t> index;
    for (std::size_t i = 0; i < specs.size(); ++i)
        index.emplace(specs[i], i);
    for (const auto& d : pending)
        if (auto it = index.find(d.family); it != index.end())
            overlay(*d.family, snapshot.families[it->second], d);
    families_.reserve(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
        family& f = families_.emplace_back(view_spec(*specs[i]));
        series_map all;
        for (const auto& [labels, values] : snapshot.families[i]) {
            auto [pos, inserted] = all.emplace(labels, to_series(f, values));
            pos->second.label_values = &pos->first;
        }
        families_.back() = family(f.spec(), std::move(all));
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

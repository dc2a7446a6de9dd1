#include "daemon/redis/redis_view.hpp"

#include "daemon/redis/redis_layout.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace metricsd::daemon {
namespace {

using protocol::metric_type;

void overlay(const family_spec& spec, series_table& t, const series_delta& d) {
    const auto row = t.row_of_labels(d.label_values);
    if (d.op == series_delta::kind::remove) {
        t.remove(row);
        return;
    }
    switch (spec.type) {
    case metric_type::histogram: {
        // Redis holds cumulative buckets, the delta per-bucket counts.
        double running = 0;
        for (std::size_t i = 0; i + 2 < t.width() && i < d.bucket_deltas.size(); ++i) {
            running += d.bucket_deltas[i];
            t.add(row, i, running);
        }
        t.add(row, t.width() - 2, d.sum);
        t.add(row, t.width() - 1, d.count);
        return;
    }
    case metric_type::summary:
        t.add(row, 0, d.sum);
        t.add(row, 1, d.count);
        return;
    default:
        if (d.op == series_delta::kind::set)
            t.set(row, 0, d.value);
        else
            t.add(row, 0, d.value);
        return;
    }
}

/// One series' combined live value while the contributions are folded in.
struct live_acc {
    double value = 0;
    std::int64_t stamp_ms = 0;
    bool has = false;
};

/// Combine the contributions to one live* gauge series the way the mode combines workers.
void combine(protocol::gauge_mode mode, live_acc& acc, double value, std::int64_t stamp_ms) {
    using enum protocol::gauge_mode;
    if (!acc.has) {
        acc = {value, stamp_ms, true};
        return;
    }
    switch (mode) {
    case livesum:
        acc.value += value;
        break;
    case livemax:
        acc.value = std::max(acc.value, value);
        break;
    case livemin:
        acc.value = std::min(acc.value, value);
        break;
    default: // livemostrecent (and liveall, one writer per pid): the newest write wins
        if (stamp_ms >= acc.stamp_ms)
            acc = {value, stamp_ms, true};
        break;
    }
}

/// A live* family's values, combined into its data table `t`: the data key's (shared writers
/// such as pytheus, stamp 0) with every daemon's live key, ours updated by the pending deltas
/// first.
void combine_live(const family_spec& spec, std::size_t index, series_table& t,
                  std::vector<daemon_live>& live, std::span<const series_delta* const> pending,
                  std::string_view own_daemon) {
    auto own = std::find_if(live.begin(), live.end(),
                            [&](const daemon_live& d) { return d.id == own_daemon; });
    if (own == live.end()) { // not flushed yet, or its key expired: only the pending deltas
        live.push_back({std::string(own_daemon), true, {}});
        own = live.end() - 1;
    }
    own->families.resize(std::max(own->families.size(), index + 1));
    auto& mine = own->families[index];
    if (mine.width() != 1 || mine.kind() != series_table::layout::live)
        mine = table_for(spec, true);
    for (const series_delta* d : pending) {
        const auto row = mine.row_of_labels(d->label_values);
        if (d->op == series_delta::kind::remove) {
            mine.remove(row);
            continue;
        }
        mine.set(row, 0, d->value);
        mine.stamp(row) = d->stamp_ms;
    }
    std::vector<live_acc> acc(t.rows());
    for (std::uint32_t row = 0; row < t.rows(); ++row)
        if (t.present(row))
            combine(spec.mode, acc[row], t.cells(row)[0], 0);
    for (auto& d : live) {
        if (index >= d.families.size() || d.families[index].kind() != series_table::layout::live)
            continue;
        auto& lt = d.families[index];
        for (std::uint32_t lr = 0; lr < lt.rows(); ++lr) {
            if (!lt.present(lr))
                continue;
            const auto row = t.row_of_labels(lt.labels(lr));
            if (acc.size() <= row)
                acc.resize(row + 1);
            combine(spec.mode, acc[row], lt.cells(lr)[0], lt.stamp(lr));
        }
    }
    for (std::uint32_t row = 0; row < t.rows(); ++row) {
        if (acc[row].has)
            t.set(row, 0, acc[row].value);
        else
            t.remove(row);
    }
}

/// Redis keeps one plain value per gauge field, whatever the mode: every gauge shows the value
/// read, with the per-pid modes' `pid` as the last label value (where the store writes it).
void render_scraped(const family_spec& spec, const series_table& t, exposition_format f,
                    std::string& out) {
    family_writer w(family_desc(spec), f, out);
    const bool per_pid = spec.type == metric_type::gauge && is_per_pid(spec.mode);
    for (const std::uint32_t row : t.in_order()) {
        if (!t.present(row))
            continue;
        const auto labels = t.labels(row);
        const auto c = t.cells(row);
        switch (spec.type) {
        case metric_type::counter:
            w.value(labels, c[0]);
            break;
        case metric_type::gauge:
            if (per_pid)
                w.per_pid_value(labels.first(labels.size() - 1), labels.back(), c[0]);
            else
                w.value(labels, c[0]);
            break;
        case metric_type::histogram:
            w.cumulative_histogram(labels, c.first(c.size() - 2), c[c.size() - 2],
                                   c[c.size() - 1]);
            break;
        case metric_type::summary:
            w.summary(labels, c[0], c[1]);
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
    // parse_scrape gives one table per family read; build the missing ones (a caller that
    // had no snapshot) so every family renders.
    for (std::size_t i = snapshot.families.size(); i < specs.size(); ++i)
        snapshot.families.push_back(table_for(*specs[i]));
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
            combine_live(*specs[i], i, snapshot.families[i], snapshot.live, live_pending[i],
                         own_daemon);
    specs_.reserve(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
        specs_.push_back(*specs[i]);
        snapshot.families[i].sort();
    }
    families_ = std::move(snapshot.families);
    for (auto& d : snapshot.live)
        for (std::size_t i = 0; i < d.families.size() && i < specs_.size(); ++i)
            if (d.families[i].kind() == series_table::layout::live)
                live_.emplace_back(d.id + ' ' + specs_[i].name, std::move(d.families[i]));
}

void redis_view::render(exposition_format f, std::string& out) const {
    for (std::size_t i = 0; i < specs_.size(); ++i)
        render_scraped(specs_[i], families_[i], f, out);
}

void redis_view::recycle(table_pool& pool) {
    for (std::size_t i = 0; i < specs_.size(); ++i)
        pool.insert_or_assign(specs_[i].name, std::move(families_[i]));
    for (auto& [key, t] : live_)
        pool.insert_or_assign(key, std::move(t));
    specs_.clear();
    families_.clear();
    live_.clear();
}

} // namespace metricsd::daemon

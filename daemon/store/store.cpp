#include "daemon/store/store.hpp"

#include "daemon/store/store_cost.hpp"

#include <metricsd/protocol/names.hpp>

#include <algorithm>

namespace metricsd::daemon {

using protocol::error_code;
using protocol::gauge_mode;
using protocol::metric_type;

worker_id store::add_worker(std::int64_t pid) {
    const worker_id id = next_worker_++;
    workers_[id].pid = pid;
    return id;
}

void store::retire_worker(worker_id w) {
    auto it = workers_.find(w);
    if (it == workers_.end())
        return;
    for (auto& [s, slot] : it->second.slots) {
        fold_retired(*s, s->owner->spec().mode, *slot);
        s->gauge().live.erase(slot);
        mark_dirty(*s); // live* modes lose a contribution: a consumer takes it back out
    }
    it->second.bound.for_each([](series* s) { --s->bound_workers; });
    workers_.erase(it);
}

void store::fold_retired(series& ser, gauge_mode mode, const gauge_slot& slot) {
    gauge_workers& s = ser.gauge();
    switch (mode) {
    case gauge_mode::sum:
        s.retired += slot.value;
        break;
    case gauge_mode::max:
        s.retired = s.has_retired ? std::max(s.retired, slot.value) : slot.value;
        break;
    case gauge_mode::min:
        s.retired = s.has_retired ? std::min(s.retired, slot.value) : slot.value;
        break;
    case gauge_mode::mostrecent:
        if (!s.has_retired || slot.seq >= s.retired_seq) {
            s.retired = slot.value;
            s.retired_seq = slot.seq;
        }
        break;
    case gauge_mode::all: {
        // A reused pid replaces the older process's value: one series per pid.
        auto [pos, inserted] = s.retired_by_pid.try_emplace(slot.pid, slot);
        if (!inserted && slot.seq >= pos->second.seq)
            pos->second = slot;
        break;
    }
    default: // live* modes forget the worker; shared gauges have no slots
        return;
    }
    s.has_retired = true;
}

void store::reserve_dirty() {
    if (dirty_.capacity() < series_total_)
        dirty_.reserve(std::max<std::size_t>(64, 2 * series_total_));
}

void store::mark_family_dirty(const family& cf) noexcept {
    // The store owns every family; the const reference it handed out is its own.
    // In label-value order, as the consumer will write them.
    auto& f = const_cast<family&>(cf);
    f.sort_order();
    for (const std::uint32_t slot : f.order_)
        mark_dirty(f.slots_[slot]);
}

void store::take_dirty(std::vector<series_change>& out, std::size_t limit) {
    const auto taken = std::min(limit, dirty_.size());
    out.clear();
    out.reserve(taken);
    for (std::size_t i = 0; i < taken; ++i) {
        series* s = dirty_[i];
        out.push_back({s, s->assigned});
        s->dirty = false;
        s->assigned = false;
    }
    dirty_.erase(dirty_.begin(), dirty_.begin() + static_cast<std::ptrdiff_t>(taken));
}

outcome<const family*> store::declare_family(const protocol::family_decl& decl) {
    auto spec = make_family_spec(decl);
    if (!spec)
        return spec.error();
    if (auto it = families_.find(spec->name); it != families_.end()) {
        if (auto why = conflict_between(it->second->spec(), spec.value()); !why.empty())
            return failure{error_code::family_conflict, std::move(why)};
        return it->second.get();
    }
    if (families_.size() >= limits_.max_families)
        return failure{error_code::total_series_limit,
                       "family limit reached (" + std::to_string(limits_.max_families) + ")"};
    const auto names = claimed_names(spec.value());
    for (const auto& n : names)
        if (auto c = claimed_.find(n); c != claimed_.end())
            return failure{error_code::name_collision,
                           "'" + spec->name + "' would expose '" + n + "', which family '" +
                               c->second->spec().name + "' already exposes"};
    if (const auto cost = store_cost::family_bytes(spec.value()); !take_bytes(cost))
        return over_budget("family '" + spec->name + "'", cost);
    auto f = std::make_unique<family>(std::move(spec.value()));
    f->ttl_ = ttl_policy_.ttl_for(f->spec_.name);
    const family* raw = f.get();
    for (const auto& n : names)
        claimed_.emplace(n, raw);
    families_.emplace(raw->spec().name, std::move(f));
    if (family_hook_)
        family_hook_(*raw);
    return raw;
}

outcome<series*> store::find_or_create_series(family& f, std::span<const std::string_view> values) {
    const auto& spec = f.spec_;
    if (values.size() != spec.label_names.size())
        return failure{error_code::label_count_mismatch,
                       "'" + spec.name + "' has " + std::to_string(spec.label_names.size()) +
                           " label(s); got " + std::to_string(values.size()) + " value(s)"};
    if (series* found = f.find(values))
        return found;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (values[i].size() > limits_.max_label_value_length)
            return failure{error_code::invalid_label_value,
                           "value of label '" + spec.label_names[i] + "' is " +
                               std::to_string(values[i].size()) + " bytes; the limit is " +
                               std::to_string(limits_.max_label_value_length)};
        if (!protocol::is_valid_utf8(values[i]))
            return failure{error_code::invalid_label_value,
                           "value of label '" + spec.label_names[i] + "' is not valid UTF-8"};
    }
    if (f.series_count() >= limits_.max_series_per_family)
        return failure{error_code::family_series_limit, "'" + spec.name + "' already has " +
                                                            std::to_string(f.series_count()) +
                                                            " series, the per-family limit"};
    if (series_total_ >= limits_.max_series_total)
        return failure{error_code::total_series_limit, "the daemon holds " +
                                                           std::to_string(series_total_) +
                                                           " series, the total limit"};
    if (const auto cost = f.cost_of_new(values); !take_bytes(cost))
        return over_budget("a new series of '" + spec.name + "'", cost);
    series& s = f.create(values);
    s.last_epoch = epoch_; // a new series is active: its TTL runs from the next sweep
    ++series_total_;
    reserve_dirty();
    mark_dirty(s);
    return &s;
}

bool store::take_bytes(std::size_t cost) noexcept {
    if (cost > limits_.max_store_bytes || bytes_ > limits_.max_store_bytes - cost)
        return false;
    bytes_ += cost;
    return true;
}

failure store::over_budget(std::string_view what, std::size_t cost) {
    ++budget_refusals_;
    // The series limit's code: clients already treat it as "no room for new series", and
    // restore_state skips what it refuses like any limit.
    return failure{error_code::total_series_limit,
                   std::string(what) + " needs " + std::to_string(cost) + " bytes; the store holds " +
                       std::to_string(bytes_) + " of its " + std::to_string(limits_.max_store_bytes) +
                       " (max_store_bytes)"};
}

binding store::bind(family& f, series& s, worker_id w, worker_state& ws) {
    if (ws.bound.insert(&s))
        ++s.bound_workers;
    binding b;
    b.target = &s;
    switch (f.spec_.type) {
    case metric_type::counter:
        b.cell = binding::kind::counter;
        return b;
    case metric_type::histogram:
        b.cell = binding::kind::histogram;
        return b;
    case metric_type::summary:
        b.cell = binding::kind::summary;
        return b;
    case metric_type::gauge:
        break;
    }
    if (f.spec_.mode == gauge_mode::shared) {
        b.cell = binding::kind::gauge_shared;
        return b;
    }
    // One slot per (worker, series), however many handles the worker binds to it.
    auto [pos, inserted] = ws.slots.try_emplace(&s);
    if (inserted)
        pos->second = s.gauge().live.insert(s.gauge().live.end(), gauge_slot{0.0, 0, ws.pid, w});
    b.cell = binding::kind::gauge_slot;
    b.slot = &*pos->second;
    return b;
}

outcome<binding> store::declare_series(const family* cf, std::span<const std::string_view> values,
                                       worker_id w) {
    auto ws = workers_.find(w);
    if (ws == workers_.end())
        return failure{error_code::internal, "unknown worker"};
    // The store owns every family; the const pointer it handed out is its own.
    auto& f = const_cast<family&>(*cf);
    auto s = find_or_create_series(f, values);
    if (!s)
        return s.error();
    return bind(f, *s.value(), w, ws->second);
}

void store::set_series_ttl(series_ttl_policy policy) {
    ttl_policy_ = std::move(policy);
    for (auto& [name, f] : families_)
        f->ttl_ = ttl_policy_.ttl_for(name);
}

void store::reset_cells(series& s) {
    s.value = 0;
    s.assigned = false;
    const auto& spec = s.owner->spec();
    switch (spec.type) {
    case metric_type::counter:
        return;
    case metric_type::histogram: {
        auto& h = s.histogram();
        std::fill(h.counts.begin(), h.counts.end(), 0.0);
        h.sum = 0;
        h.count = 0;
        return;
    }
    case metric_type::summary:
        s.summary() = {};
        return;
    case metric_type::gauge:
        break;
    }
    if (spec.mode == gauge_mode::shared)
        return;
    auto& g = s.gauge();
    for (auto& slot : g.live) {
        slot.value = 0;
        slot.seq = 0;
    }
    g.has_retired = false;
    g.retired = 0;
    g.retired_seq = 0;
    g.retired_by_pid.clear();
}

std::size_t store::expire_in(family& f, std::chrono::steady_clock::time_point now,
                             std::uint32_t sweep_epoch) {
    const bool consumed = changes_consumed();
    std::size_t expired = 0;
    // In label-value order, so the erase hook sees them in a deterministic order.
    f.sort_order();
    for (const std::uint32_t slot : f.order_) {
        series& s = f.slots_[slot];
        if (s.last_epoch >= sweep_epoch || s.seen_at == std::chrono::steady_clock::time_point{}) {
            // An op (or the series' creation) since the previous sweep: it happened by now.
            // A series no sweep has looked at (its family had no TTL until now) starts here.
            s.seen_at = now;
            continue;
        }
        const bool hidden = !is_visible(s); // expired already; waits for its workers to go
        if (!hidden && now - s.seen_at < f.ttl_)
            continue;
        if (s.bound_workers == 0) {
            // A consumer must see the changes first, and settle those it took.
            if (s.holds != 0 || (consumed && s.dirty))
                continue;
            s.expiring = true;
            doomed_.emplace_back(&f, &s);
            expired += hidden ? 0 : 1;
        } else if (!hidden && !consumed) {
            reset_cells(s);
            s.visible_from = sweep_epoch + 1; // the epoch of every op after this sweep
            ++expired;
        }
    }
    return expired;
}

std::size_t store::expire_idle_series(std::chrono::steady_clock::time_point now) {
    // Ops from here on carry the new epoch, so "last_epoch >= sweep_epoch" below means "an op
    // since the previous sweep".
    const std::uint32_t sweep_epoch = epoch_++;
    std::size_t expired = 0;
    doomed_.clear();
    for (auto& [name, f] : families_)
        if (f->ttl_.count() > 0)
            expired += expire_in(*f, now, sweep_epoch);
    if (!doomed_.empty()) {
        // dirty_ holds raw pointers (the memory backend never drains it): drop ours first.
        std::erase_if(dirty_, [](const series* s) { return s->expiring; });
        for (auto& [f, s] : doomed_) {
            for (const auto& hook : erase_hooks_)
                hook.second(*s);
            bytes_ -= f->erase(*s);
        }
        for (auto& [f, s] : doomed_)
            f->settle_erased(); // once per family: the first call settles them all
        series_total_ -= doomed_.size();
        doomed_.clear();
    }
    expired_total_ += expired;
    return expired;
}

} // namespace metricsd::daemon

#include "daemon/ingest/ingest_handler.hpp"

#include "daemon/store/store_cost.hpp"

#include <metricsd/protocol/encoder.hpp>
#include <metricsd/protocol/family_rules.hpp>

#include <algorithm>
#include <string>
#include <type_traits>

namespace metricsd::daemon {

using protocol::error_code;

namespace {

std::string op_error_message(std::uint64_t count, error_code first, std::uint32_t handle,
                             const protocol::op_record& op) {
    std::string m = std::to_string(count) + " op(s) in this frame rejected; first: ";
    switch (first) {
    case error_code::unknown_series:
        m += "series handle " + std::to_string(handle) + " was never declared";
        break;
    case error_code::invalid_op:
        m += std::string(to_string(op.op)) + " is not allowed on series handle " +
             std::to_string(handle) + " (wrong metric type)";
        break;
    default:
        m += "value " + std::to_string(op.value) + " is not valid for " +
             std::string(to_string(op.op)) + " on series handle " + std::to_string(handle);
        break;
    }
    return m;
}

} // namespace

ingest_handler::ingest_handler(store& s, std::int64_t pid, ingest_limits limits)
    : store_(s), limits_(limits), decoder_(protocol::role::daemon, limits.max_frame_payload),
      worker_(s.add_worker(pid)), pid_(pid) {}

ingest_handler::~ingest_handler() {
    store_.retire_worker(worker_);
}

void ingest_handler::commit(std::size_t n) noexcept {
    decoder_.commit(n);
    stats_.bytes += n;
}

void ingest_handler::feed(std::string_view bytes) {
    auto buf = prepare(bytes.size());
    std::copy(bytes.begin(), bytes.end(), buf.begin());
    commit(bytes.size());
}

bool ingest_handler::process() {
    using status = protocol::decode_result::status;
    for (;;) {
        // frames() counts consumed frames; the one about to be decoded has that index.
        frame_ = decoder_.frames();
        auto r = decoder_.next();
        if (r.state == status::need_more)
            return true;
        if (r.state == status::error) {
            ++stats_.errors[static_cast<std::size_t>(r.error.code) & 127];
            protocol::encode(out_, protocol::error{r.error.code, r.error.handle, r.error.frame,
                                                   r.error.message});
            if (r.error.fatal)
                return false;
            continue;
        }
        std::visit(
            [this](const auto& m) {
                using T = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<T, protocol::handshake>) {
                    protocol::encode(out_, protocol::welcome{protocol::revision,
                                                             limits_.max_frame_payload,
                                                             limits_.max_family_handle,
                                                             limits_.max_series_handle});
                } else if constexpr (std::is_same_v<T, protocol::sync>) {
                    ++stats_.frames;
                    ++stats_.syncs;
                    protocol::encode(out_, protocol::ack{m.token});
                } else if constexpr (std::is_same_v<T, protocol::family_decl> ||
                                     std::is_same_v<T, protocol::series_decl> ||
                                     std::is_same_v<T, protocol::op_batch> ||
                                     std::is_same_v<T, protocol::fold> ||
                                     std::is_same_v<T, protocol::client_stats>) {
                    ++stats_.frames;
                    handle(m);
                }
                // The daemon-role decoder never yields daemon->client messages.
            },
            r.msg);
        if (memory_bytes() > limits_.max_connection_bytes) [[unlikely]] {
            send_error(error_code::connection_memory_limit,
                       "this connection would hold " + std::to_string(memory_bytes()) +
                           " bytes (input, output, handles); the limit is " +
                           std::to_string(limits_.max_connection_bytes));
            return false;
        }
    }
}

void ingest_handler::report(error_code code, std::uint32_t handle, std::string_view message) {
    ++stats_.errors[static_cast<std::size_t>(code) & 127];
    protocol::encode(out_, protocol::error{code, handle, frame_, message});
}

void ingest_handler::send_error(error_code code, std::string_view message) {
    ++stats_.errors[static_cast<std::size_t>(code) & 127];
    protocol::encode(out_, protocol::error{code, protocol::no_handle, protocol::no_frame, message});
}

template <class Slot>
void ingest_handler::handle_table<Slot>::set(std::uint32_t h, const Slot& slot) {
    if (h < dense_.size()) {
        if (dense_[h].state == slot_state::unbound)
            ++declared_;
        dense_[h] = slot;
        return;
    }
    if (auto it = sparse_.find(h); it != sparse_.end()) {
        it->second = slot;
        return;
    }
    ++declared_;
    // Grow the dense vector (at least doubling, so growths and the migrations below happen
    // O(log max handle) times) only while it stays within 4 x the declared handles: a client
    // naming handle 1 048 575 gets one hash-map node, not a 32 MiB vector. Exact reservation
    // keeps capacity == size, so the bound holds for capacity too.
    const std::size_t new_size = std::max<std::size_t>(h + std::size_t{1}, 2 * dense_.size());
    if (new_size > std::max<std::size_t>(dense_floor, 4 * declared_)) {
        sparse_.emplace(h, slot);
        return;
    }
    dense_.reserve(new_size);
    dense_.resize(new_size);
    dense_[h] = slot;
    for (auto it = sparse_.begin(); it != sparse_.end();) {
        if (it->first < new_size) {
            dense_[it->first] = it->second;
            it = sparse_.erase(it);
        } else {
            ++it;
        }
    }
}

template <class Slot>
std::size_t ingest_handler::handle_table<Slot>::bytes() const noexcept {
    // A node holds the next pointer and the pair; add a typical malloc header per node.
    constexpr std::size_t node = sizeof(void*) + sizeof(std::pair<const std::uint32_t, Slot>) + 16;
    // An unordered_map that never allocated uses one bucket inside itself.
    const std::size_t buckets = sparse_.bucket_count() > 1 ? sparse_.bucket_count() : 0;
    return dense_.capacity() * sizeof(Slot) + sparse_.size() * node + buckets * sizeof(void*);
}

std::size_t ingest_handler::handle_table_bytes() const noexcept {
    return families_.bytes() + series_.bytes();
}

std::optional<failure> ingest_handler::refuse_family(const protocol::family_decl& m) const {
    // Ownership first: a family reserved for others is refused whatever the quota says.
    if (const auto* rule = policy_->refusing_rule(m.name, peer_))
        return failure{error_code::family_not_permitted,
                "uid " + std::to_string(peer_.uid) + " may not declare '" + std::string(m.name) +
                    "': families matching '" + rule->pattern + "' belong to other users"};
    const auto quota = policy_->max_families_per_uid;
    if (quota != 0 && usage_->of(peer_.uid).families >= quota &&
        store_.families().find(m.name) == store_.families().end())
        return failure{error_code::peer_family_quota,
                "uid " + std::to_string(peer_.uid) + " has created " + std::to_string(quota) +
                    " families, its quota; '" + std::string(m.name) + "' would be one more"};
    return std::nullopt;
}

void ingest_handler::handle(const protocol::family_decl& m) {
    if (m.handle > limits_.max_family_handle)
        return report(error_code::handle_out_of_range, m.handle,
                      "family handle above this daemon's limit of " +
                          std::to_string(limits_.max_family_handle));
    // A counter is known as `x_total` whichever spelling the client sent (PROTOCOL.md 5.1), so
    // every client exports the same name; here, where every client's declaration arrives.
    // Ownership rules and quotas see that name too.
    protocol::family_decl named = m;
    const std::string name = protocol::family_name(m.type, m.name);
    named.name = name;
    const family_slot* slot = families_.find(m.handle);
    const bool was_bound = slot && slot->state == slot_state::bound;
    if (policy_) {
        if (const auto refusal = refuse_family(named)) {
            if (!was_bound)
                families_.set(m.handle, {nullptr, slot_state::rejected});
            return report(refusal->code, m.handle, refusal->message);
        }
    }
    const std::size_t families_before = store_.families().size();
    auto result = store_.declare_family(named);
    if (result && policy_ && store_.families().size() > families_before)
        usage_->add_family(peer_.uid);
    if (!result) {
        // A failed re-declaration leaves an earlier good binding alone.
        if (!was_bound)
            families_.set(m.handle, {nullptr, slot_state::rejected});
        return report(result.error().code, m.handle, result.error().message);
    }
    if (was_bound && slot->fam != result.value())
        return report(error_code::handle_conflict, m.handle,
                      "family handle " + std::to_string(m.handle) + " is bound to '" +
                          slot->fam->spec().name + "'");
    families_.set(m.handle, {result.value(), slot_state::bound});
}

void ingest_handler::handle(const protocol::series_decl& m) {
    if (m.handle > limits_.max_series_handle)
        return report(error_code::handle_out_of_range, m.handle,
                      "series handle above this daemon's limit of " +
                          std::to_string(limits_.max_series_handle));
    // Look up without creating: a slot is stored only once the declaration has been judged,
    // and then as one entry whatever the handle's value (handle_table::set).
    const series_slot* slot = series_.find(m.handle);
    const bool was_bound = slot && slot->state == slot_state::bound;
    const family_slot* fam = families_.find(m.family);
    if (!fam || fam->state != slot_state::bound) {
        if (!was_bound)
            series_.set(m.handle, {binding{}, slot_state::rejected});
        if (fam && fam->state == slot_state::rejected)
            return; // the family's own ERROR already told the client
        return report(error_code::unknown_family, m.handle,
                      "family handle " + std::to_string(m.family) + " was never declared");
    }
    std::size_t label_bytes = 0;
    for (const auto& v : m.label_values)
        label_bytes += v.size();
    if (label_bytes > limits_.max_series_label_bytes) {
        if (!was_bound)
            series_.set(m.handle, {binding{}, slot_state::rejected});
        return report(error_code::invalid_label_value, m.handle,
                      "label values of series handle " + std::to_string(m.handle) + " total " +
                          std::to_string(label_bytes) + " bytes; the limit is " +
                          std::to_string(limits_.max_series_label_bytes));
    }
    const auto quota = policy_ ? policy_->max_series_per_uid : 0;
    if (quota != 0 && usage_->of(peer_.uid).series >= quota &&
        fam->fam->all_series().find(m.label_values) == fam->fam->all_series().end()) {
        if (!was_bound)
            series_.set(m.handle, {binding{}, slot_state::rejected});
        return report(error_code::peer_series_quota, m.handle,
                      "uid " + std::to_string(peer_.uid) + " has created " +
                          std::to_string(quota) + " series, its quota");
    }
    const std::size_t series_before = store_.series_count();
    auto result = store_.declare_series(fam->fam, m.label_values, worker_);
    if (result && quota != 0 && store_.series_count() > series_before)
        usage_->add_series(peer_.uid, result.value().target);
    if (!result) {
        if (!was_bound)
            series_.set(m.handle, {binding{}, slot_state::rejected});
        return report(result.error().code, m.handle, result.error().message);
    }
    if (was_bound && slot->target.target != result.value().target)
        return report(error_code::handle_conflict, m.handle,
                      "series handle " + std::to_string(m.handle) + " is bound to another series");
    series_.set(m.handle, {result.value(), slot_state::bound});
    if (!was_bound)
        store_side_bytes_ +=
            store_cost::binding_bytes(result.value().cell == binding::kind::gauge_slot);
}

void ingest_handler::handle(const protocol::op_batch& batch) {
    std::uint64_t rejected = 0;
    error_code first = error_code::internal;
    std::uint32_t first_handle = protocol::no_handle;
    protocol::op_record first_op;
    const std::size_t n = batch.size();
    const series_slot* const dense = series_.dense().data();
    const std::size_t table_size = series_.dense().size();
    for (std::size_t i = 0; i < n; ++i) {
        const auto op = batch[i];
        error_code code;
        // Dense handles (every well-behaved client) index the vector; only a handle beyond it
        // pays for the hash lookup.
        const series_slot* slot;
        if (op.handle < table_size) [[likely]]
            slot = dense + op.handle;
        else
            slot = &series_.find_or_unbound(op.handle);
        if (slot->state == slot_state::bound) {
            const auto st = store_.apply(slot->target, op.op, op.value);
            if (st == apply_status::ok) {
                ++stats_.ops_applied;
                continue;
            }
            code =
                st == apply_status::invalid_op ? error_code::invalid_op : error_code::invalid_value;
        } else if (slot->state == slot_state::rejected) {
            ++stats_.ops_dropped;
            continue;
        } else {
            code = error_code::unknown_series;
        }
        if (rejected++ == 0) {
            first = code;
            first_handle = op.handle;
            first_op = op;
        }
    }
    if (rejected == 0)
        return;
    stats_.ops_rejected += rejected;
    report(first, first_handle, op_error_message(rejected, first, first_handle, first_op));
}

// A FOLD frame is one op on the wire: applied, dropped (rejected handle) or refused whole.
void ingest_handler::handle(const protocol::fold& f) {
    const series_slot* slot = series_.find(f.handle);
    if (slot && slot->state == slot_state::rejected) {
        ++stats_.ops_dropped;
        return;
    }
    if (!slot) {
        ++stats_.ops_rejected;
        return report(error_code::unknown_series, f.handle,
                      "FOLD rejected: series handle " + std::to_string(f.handle) +
                          " was never declared");
    }
    const auto st = store_.apply_fold(slot->target, f);
    if (st == apply_status::ok) {
        ++stats_.ops_applied;
        return;
    }
    ++stats_.ops_rejected;
    if (st == apply_status::invalid_op)
        return report(error_code::invalid_op, f.handle,
                      "FOLD rejected: series handle " + std::to_string(f.handle) +
                          " is not a histogram or summary");
    report(error_code::invalid_value, f.handle,
           "FOLD rejected: " + std::to_string(f.buckets()) + " bucket count(s) and sum " +
               std::to_string(f.sum) + " of " + std::to_string(f.count) +
               " observation(s) do not fit series handle " + std::to_string(f.handle));
}

// The count is cumulative over the connection, so the last value is the whole truth; one that
// goes down would make the exported counter go down, so it is refused and the old one kept.
void ingest_handler::handle(const protocol::client_stats& m) {
    if (m.dropped_ops < stats_.client_dropped_ops)
        return report(error_code::invalid_value, protocol::no_handle,
                      "CLIENT_STATS rejected: dropped ops " + std::to_string(m.dropped_ops) +
                          " is below the " + std::to_string(stats_.client_dropped_ops) +
                          " this connection reported before; the count is cumulative");
    stats_.client_dropped_ops = m.dropped_ops;
}

} // namespace metricsd::daemon

#include "daemon/ingest/ingest_handler.hpp"

#include <metricsd/protocol/encoder.hpp>

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
                    protocol::encode(out_,
                                     protocol::welcome{protocol::version, limits_.max_frame_payload,
                                                       limits_.max_family_handle,
                                                       limits_.max_series_handle});
                } else if constexpr (std::is_same_v<T, protocol::sync>) {
                    ++stats_.frames;
                    ++stats_.syncs;
                    protocol::encode(out_, protocol::ack{m.token});
                } else if constexpr (std::is_same_v<T, protocol::family_decl> ||
                                     std::is_same_v<T, protocol::series_decl> ||
                                     std::is_same_v<T, protocol::op_batch>) {
                    ++stats_.frames;
                    handle(m);
                }
                // The daemon-role decoder never yields daemon->client messages.
            },
            r.msg);
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
Slot& ingest_handler::slot_for(std::vector<Slot>& table, std::uint32_t handle) {
    // Handles are dense small integers chosen by the client and capped by the decoder, so a
    // vector indexed by handle is both the fastest lookup and bounded in size.
    if (handle >= table.size())
        table.resize(static_cast<std::size_t>(handle) + 1);
    return table[handle];
}

void ingest_handler::handle(const protocol::family_decl& m) {
    if (m.handle > limits_.max_family_handle)
        return report(error_code::handle_out_of_range, m.handle,
                      "family handle above this daemon's limit of " +
                          std::to_string(limits_.max_family_handle));
    auto result = store_.declare_family(m);
    auto& slot = slot_for(families_, m.handle);
    if (!result) {
        // A failed re-declaration leaves an earlier good binding alone.
        if (slot.state != slot_state::bound)
            slot.state = slot_state::rejected;
        return report(result.error().code, m.handle, result.error().message);
    }
    if (slot.state == slot_state::bound && slot.fam != result.value())
        return report(error_code::handle_conflict, m.handle,
                      "family handle " + std::to_string(m.handle) + " is bound to '" +
                          slot.fam->spec().name + "'");
    slot = {result.value(), slot_state::bound};
}

void ingest_handler::handle(const protocol::series_decl& m) {
    if (m.handle > limits_.max_series_handle)
        return report(error_code::handle_out_of_range, m.handle,
                      "series handle above this daemon's limit of " +
                          std::to_string(limits_.max_series_handle));
    auto& slot = slot_for(series_, m.handle);
    const family_slot* fam = m.family < families_.size() ? &families_[m.family] : nullptr;
    if (!fam || fam->state != slot_state::bound) {
        if (slot.state != slot_state::bound)
            slot.state = slot_state::rejected;
        if (fam && fam->state == slot_state::rejected)
            return; // the family's own ERROR already told the client
        return report(error_code::unknown_family, m.handle,
                      "family handle " + std::to_string(m.family) + " was never declared");
    }
    auto result = store_.declare_series(fam->fam, m.label_values, worker_);
    if (!result) {
        if (slot.state != slot_state::bound)
            slot.state = slot_state::rejected;
        return report(result.error().code, m.handle, result.error().message);
    }
    if (slot.state == slot_state::bound && slot.target.target != result.value().target)
        return report(error_code::handle_conflict, m.handle,
                      "series handle " + std::to_string(m.handle) + " is bound to another series");
    slot = {result.value(), slot_state::bound};
}

void ingest_handler::handle(const protocol::op_batch& batch) {
    std::uint64_t rejected = 0;
    error_code first = error_code::internal;
    std::uint32_t first_handle = protocol::no_handle;
    protocol::op_record first_op;
    const std::size_t n = batch.size();
    const std::size_t table_size = series_.size();
    for (std::size_t i = 0; i < n; ++i) {
        const auto op = batch[i];
        error_code code;
        if (op.handle < table_size && series_[op.handle].state == slot_state::bound) {
            const auto st = store_.apply(series_[op.handle].target, op.op, op.value);
            if (st == apply_status::ok) {
                ++stats_.ops_applied;
                continue;
            }
            code =
                st == apply_status::invalid_op ? error_code::invalid_op : error_code::invalid_value;
        } else if (op.handle < table_size && series_[op.handle].state == slot_state::rejected) {
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

} // namespace metricsd::daemon

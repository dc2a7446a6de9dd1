// One ingest connection's protocol logic: decoded frames in, store updates and response frames
// out. Pure: the session (ingest_session) only moves bytes. io_context thread only.
#pragma once

#include "daemon/access/access_policy.hpp"
#include "daemon/access/uid_usage.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/protocol/decoder.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace metricsd::daemon {

/// Per-connection limits, announced to the client in WELCOME.
struct ingest_limits {
    std::uint32_t max_frame_payload = protocol::limits::max_frame_payload;
    std::uint32_t max_family_handle = protocol::limits::max_family_handle;
    std::uint32_t max_series_handle = protocol::limits::max_series_handle;
    /// Total bytes of one series' label values (not announced in WELCOME; a declaration over
    /// it is refused with invalid_label_value). The per-value limit alone lets 32 long values
    /// make one series cost tens of KiB.
    std::uint32_t max_series_label_bytes = 2048;
    /// Heap bytes the connection may hold (memory_bytes()); checked after every frame, so
    /// handle tables stop growing at it: the client gets connection_memory_limit and the
    /// connection closes.
    std::size_t max_connection_bytes = 64u << 20;
};

/// Counters a connection adds to the daemon's self-metrics.
struct ingest_stats {
    std::uint64_t bytes = 0;
    std::uint64_t frames = 0;
    std::uint64_t ops_applied = 0;
    std::uint64_t ops_rejected = 0; ///< reported to the client with an ERROR frame
    std::uint64_t ops_dropped = 0;  ///< on handles whose declaration was rejected (already told)
    std::uint64_t syncs = 0;
    /// Ops the client itself dropped, as its last CLIENT_STATS frame on this connection said
    /// (cumulative over the connection, so it only grows). Summed over closed connections, it
    /// is what exited clients dropped (PROTOCOL.md 4.8).
    std::uint64_t client_dropped_ops = 0;
    /// ERROR frames sent, by error code (codes are < 128).
    std::array<std::uint64_t, 128> errors{};
};

class ingest_handler {
public:
    /// Registers the connection as a worker of `s` with the kernel-reported pid.
    ingest_handler(store& s, std::int64_t pid, ingest_limits limits = {});
    /// Retires the worker: live* gauges forget it, everything else keeps its contribution.
    ~ingest_handler();
    ingest_handler(const ingest_handler&) = delete;
    ingest_handler& operator=(const ingest_handler&) = delete;

    /// Space for the next socket read, then commit what was read.
    std::span<char> prepare(std::size_t n) { return decoder_.prepare(n); }
    void commit(std::size_t n) noexcept;
    /// Free the input buffer if it holds nothing (an idle connection then costs no buffer).
    void release_input() noexcept { decoder_.release(); }
    /// Bytes missing to complete the frame being received (0: none pending), so a read can
    /// ask for exactly that instead of over-allocating for a large frame.
    std::size_t frame_remaining() const noexcept { return decoder_.frame_remaining(); }
    std::size_t buffered_input() const noexcept { return decoder_.buffered(); }
    std::size_t input_capacity() const noexcept { return decoder_.capacity(); }
    bool handshake_done() const noexcept { return decoder_.handshake_done(); }
    /// Enforce `policy`'s family owners and per-uid quotas for `peer`, charging `usage`. Both
    /// must outlive the handler. Without this call every declaration is allowed.
    void set_access(const access_policy& policy, const peer_identity& peer, uid_usage& usage) {
        policy_ = &policy;
        peer_ = peer;
        usage_ = &usage;
    }
    /// Convenience for tests: prepare + copy + commit.
    void feed(std::string_view bytes);

    /// Apply every complete frame received so far. Responses (WELCOME, ACK, ERROR) are appended
    /// to output() in order, so an ACK always follows everything its SYNC covers. Returns false
    /// when the stream is broken and the connection must be closed after sending output().
    bool process();

    /// Bytes to send to the client; the caller clears (or consumes) it after writing.
    std::string& output() noexcept { return out_; }
    const ingest_stats& stats() const noexcept { return stats_; }
    worker_id worker() const noexcept { return worker_; }
    std::int64_t pid() const noexcept { return pid_; }

    /// Append a final ERROR (e.g. shutting_down, too_many_connections) to output().
    void send_error(protocol::error_code code, std::string_view message);

    /// Heap bytes held by this connection's family and series handle tables (dense part at its
    /// capacity plus the sparse part's nodes and buckets). Grows only with declared handles.
    std::size_t handle_table_bytes() const noexcept;
    /// Heap bytes this connection holds: input buffer, pending output, handle tables and what
    /// its bindings cost the store (store_cost::binding_bytes) (what the per-connection
    /// memory budget counts).
    std::size_t memory_bytes() const noexcept {
        return decoder_.capacity() + out_.capacity() + handle_table_bytes() + store_side_bytes_;
    }
    /// Handles this connection declared (bound or rejected), families + series.
    std::size_t declared_handles() const noexcept {
        return families_.declared() + series_.declared();
    }

    /// Handles below this are always stored densely; above it, a handle joins the dense vector
    /// only while the vector stays within 2 x (declared handles), else it goes to a hash map.
    static constexpr std::uint32_t dense_floor = 256;

private:
    enum class slot_state : std::uint8_t { unbound, bound, rejected };
    struct family_slot {
        const family* fam = nullptr;
        slot_state state = slot_state::unbound;
    };
    struct series_slot {
        binding target;
        slot_state state = slot_state::unbound;
    };

    /// Slots by client-chosen handle. Well-behaved clients use dense handles from 0, so the
    /// common case is a vector indexed by handle (the OPS hot path). A handle far above what
    /// the connection declared goes to a hash map instead, so memory follows the number of
    /// declared handles, never the largest handle value (issue 11 item 1).
    template <class Slot>
    class handle_table {
    public:
        /// The slot for `h`, or nullptr when `h` was never declared. Never allocates.
        const Slot* find(std::uint32_t h) const noexcept {
            if (h < dense_.size())
                return dense_[h].state == slot_state::unbound ? nullptr : &dense_[h];
            if (sparse_.empty())
                return nullptr;
            auto it = sparse_.find(h);
            return it == sparse_.end() ? nullptr : &it->second;
        }
        /// Store `slot` (bound or rejected) under `h`, creating the entry if needed.
        void set(std::uint32_t h, const Slot& slot);
        /// Like find(), but an unbound slot instead of nullptr: the OPS loop's cold path for
        /// handles beyond the vector, kept out of line so the loop stays small.
        [[gnu::noinline]] const Slot& find_or_unbound(std::uint32_t h) const noexcept {
            const Slot* s = find(h);
            return s ? *s : unbound_;
        }
        /// The dense part, for the OPS hot path: an index below size() needs no other lookup.
        const std::vector<Slot>& dense() const noexcept { return dense_; }
        std::size_t declared() const noexcept { return declared_; }
        std::size_t bytes() const noexcept;

    private:
        static inline const Slot unbound_{};
        std::vector<Slot> dense_;
        std::unordered_map<std::uint32_t, Slot> sparse_;
        std::size_t declared_ = 0; ///< entries not unbound, dense and sparse
    };

    void handle(const protocol::family_decl& m);
    void handle(const protocol::series_decl& m);
    void handle(const protocol::op_batch& m);
    void handle(const protocol::fold& f);
    void handle(const protocol::client_stats& m);
    void report(protocol::error_code code, std::uint32_t handle, std::string_view message);
    /// Why the access policy refuses a family declaration; nullopt when it allows it.
    std::optional<failure> refuse_family(const protocol::family_decl& m) const;

    store& store_;
    ingest_limits limits_;
    protocol::decoder decoder_;
    worker_id worker_;
    std::int64_t pid_;
    handle_table<family_slot> families_;
    handle_table<series_slot> series_;
    std::string out_;
    ingest_stats stats_;
    std::uint64_t frame_ = 0; ///< index of the frame being handled, for ERROR frames
    /// The store's bytes for this worker's bindings (a gauge slot, the bound-series set),
    /// counted per bound handle: they go when the worker retires.
    std::size_t store_side_bytes_ = 0;
    const access_policy* policy_ = nullptr;
    peer_identity peer_;
    uid_usage* usage_ = nullptr;
};

} // namespace metricsd::daemon

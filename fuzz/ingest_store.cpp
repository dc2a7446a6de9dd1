// Fuzzes the ingest handler and the store with several interleaved connections: the input
// says which of kConnections clients sends the next bytes, or which one hangs up (and comes
// back later as a new worker). Every client's handshake is sent for it, so the input goes
// straight to frames. Small store limits make refusals reachable.
//
// Input: records of [control byte][length byte][length bytes]. Control bit 7 set: the
// connection (control % kConnections) closes; no length follows. Otherwise the bytes go to
// that connection and its handler processes them; a handler that asks to close is closed.
//
// Checked after the run, with the connections still open and again after they all left: the
// exposition in both formats passes check_exposition (structure, escaping, values, cumulative
// buckets), and the state file restores into an empty store with the same limits, without
// skipping anything, to the same exposition of every persisted (non-gauge) family.
#include "exposition_check.hpp"
#include "fuzz_check.hpp"

#include "daemon/exposition/exposition.hpp"
#include "daemon/exposition/store_exposition.hpp"
#include "daemon/ingest/ingest_handler.hpp"
#include "daemon/persistence/state_codec.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/protocol/encoder.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace {

using namespace metricsd::daemon;
namespace protocol = metricsd::protocol;

constexpr std::size_t kConnections = 4;

constexpr store_limits kLimits{.max_families = 8,
                               .max_series_per_family = 8,
                               .max_series_total = 24,
                               .max_label_value_length = 32};

std::string render(const store& s, exposition_format f) {
    std::string out;
    render_families(s, f, out);
    render_trailer(f, out);
    return out;
}

/// The exposition of the families a state file keeps (every type but gauges).
std::string render_persisted(const store& s) {
    std::string out;
    for (const auto& [name, fam] : s.families())
        if (fam->spec().type != protocol::metric_type::gauge)
            render_family(*fam, exposition_format::openmetrics, out);
    return out;
}

void check_store(const store& s) {
    for (const exposition_format f : {exposition_format::text, exposition_format::openmetrics}) {
        const std::string text = render(s, f);
        const std::string why = metricsd::fuzz::check_exposition(
            text, {.openmetrics = f == exposition_format::openmetrics, .semantic = true});
        if (!why.empty())
            metricsd::fuzz::fail(why, text);
    }
    const std::string bytes = encode_state(s, state_metadata{1, "fuzz", "fuzz"});
    store restored(kLimits);
    const restore_result r = restore_state(bytes, restored);
    if (!r.ok)
        metricsd::fuzz::fail("state file does not restore: " + r.error, bytes);
    FUZZ_CHECK(r.skipped_families == 0 && r.skipped_series == 0);
    const std::string before = render_persisted(s);
    const std::string after = render_persisted(restored);
    if (before != after)
        metricsd::fuzz::fail("restored state renders differently", before + "\n=== restored:\n" + after);
}

struct connection {
    std::unique_ptr<ingest_handler> handler;
    std::int64_t next_pid = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    store s(kLimits);
    std::array<connection, kConnections> conns;
    std::string handshake;
    protocol::encode(handshake, protocol::handshake{});
    for (std::size_t i = 0; i < kConnections; ++i)
        conns[i].next_pid = 1000 + static_cast<std::int64_t>(i) * 100;

    std::size_t pos = 0;
    while (pos < size) {
        const std::uint8_t control = data[pos++];
        connection& c = conns[control % kConnections];
        if ((control & 0x80) != 0) {
            c.handler.reset();
            continue;
        }
        if (pos >= size)
            break;
        const std::size_t len = std::min<std::size_t>(data[pos], size - pos - 1);
        ++pos;
        if (!c.handler) {
            c.handler = std::make_unique<ingest_handler>(s, c.next_pid++);
            c.handler->feed(handshake);
        }
        c.handler->feed(std::string_view(reinterpret_cast<const char*>(data) + pos, len));
        pos += len;
        const bool open = c.handler->process();
        c.handler->output().clear();
        if (!open)
            c.handler.reset();
    }
    check_store(s);
    for (connection& c : conns)
        c.handler.reset();
    check_store(s);
    return 0;
}

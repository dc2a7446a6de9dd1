// Fuzzes what a scrape of the Redis backend makes of Redis's replies (daemon/redis): the
// RESP reader (hiredis behind reply_reader), the metadata hash (HGETALL meta: records
// validated like declarations), the daemons set (SMEMBERS), the snapshot transaction
// (MULTI ... EXEC: GET/HGETALL of data keys and live keys) and the view rendered from them.
//
// Input: one control byte, then RESP replies: the HGETALL meta reply, the SMEMBERS reply,
// then the transaction. Control bit 0 clear: the rest are the EXEC reply's elements, and the
// target wraps them in +OK, one +QUEUED per planned command and the EXEC array header, so
// the fuzzer reaches the parsing of keys without guessing the plan's size; set: the rest is
// the transaction's replies verbatim. Bits 1-7: the size of the pieces bytes are fed in.
// The store declares two families of its own, so metadata conflicts with local declarations
// are reached too. Checked: no crash, and the view renders a valid exposition (structure,
// escaping, values; not the semantics, which data from Redis need not have) in both formats.
#include "exposition_check.hpp"
#include "fuzz_check.hpp"

#include "daemon/redis/redis_codec.hpp"
#include "daemon/redis/redis_scrape.hpp"
#include "daemon/redis/redis_view.hpp"
#include "daemon/store/store.hpp"

#include <metricsd/protocol/messages.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace metricsd::daemon;
namespace protocol = metricsd::protocol;

/// Every reply in `bytes`, fed in pieces of `piece` bytes; stops at a protocol error.
std::vector<reply_ptr> read_replies(std::string_view bytes, std::size_t piece) {
    reply_reader reader;
    std::vector<reply_ptr> out;
    for (std::size_t fed = 0;;) {
        reply_reader::result r = reader.next();
        if (r.state == reply_reader::status::reply) {
            out.push_back(std::move(r.reply));
            continue;
        }
        if (r.state == reply_reader::status::protocol_error || fed == bytes.size())
            return out;
        const std::size_t n = std::min(piece, bytes.size() - fed);
        FUZZ_CHECK(reader.feed(bytes.substr(fed, n)));
        fed += n;
    }
}

/// How many complete RESP replies `bytes` starts with, and where the next one starts.
std::size_t complete_prefix(std::string_view bytes, std::size_t replies) {
    // Feed one byte at a time: the reader says when the wanted number of replies is complete.
    reply_reader reader;
    std::size_t got = 0;
    for (std::size_t i = 0; i < bytes.size() && got < replies; ++i) {
        FUZZ_CHECK(reader.feed(bytes.substr(i, 1)));
        for (;;) {
            reply_reader::result r = reader.next();
            if (r.state == reply_reader::status::protocol_error)
                return std::string_view::npos;
            if (r.state != reply_reader::status::reply)
                break;
            if (++got == replies)
                return i + 1;
        }
    }
    return std::string_view::npos;
}

void declare_local(store& s) {
    const std::array<std::string_view, 1> queue{"queue"};
    const std::array<std::string_view, 2> bounds{"0.5", "1"};
    const std::array<std::string_view, 1> method{"method"};
    const protocol::family_decl jobs{.handle = 0, .type = protocol::metric_type::counter,
                                     .name = "jobs_total", .help = "Jobs.", .label_names = queue};
    const protocol::family_decl lat{.handle = 1, .type = protocol::metric_type::histogram,
                                    .name = "lat", .help = "Latency.", .label_names = method,
                                    .buckets = bounds};
    FUZZ_CHECK(bool(s.declare_family(jobs)));
    FUZZ_CHECK(bool(s.declare_family(lat)));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const bool verbatim = (data[0] & 1) != 0;
    const std::size_t piece = (data[0] >> 1) + 1u;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    // hiredis 0.14 allocates an array header's element table before any element arrives;
    // reply_reader bounds it at 16 Mi elements (128 MiB, redis_codec_test covers the bound).
    // Inputs with a header of 7+ digits are still left out: each such header costs up to that
    // much memory under ASan, which only slows the runs down without finding anything new.
    for (std::size_t at = input.find('*'); at != std::string_view::npos;
         at = input.find('*', at + 1)) {
        std::size_t digits = 0;
        while (at + 1 + digits < input.size() && input[at + 1 + digits] >= '0' &&
               input[at + 1 + digits] <= '9')
            ++digits;
        if (digits >= 7)
            return 0;
    }

    // The reader alone: whole or in pieces, the same replies.
    FUZZ_CHECK(read_replies(input, input.size() + 1).size() == read_replies(input, piece).size());

    const std::size_t head_end = complete_prefix(input, 2);
    if (head_end == std::string_view::npos)
        return 0;
    const std::vector<reply_ptr> head = read_replies(input.substr(0, head_end), head_end);
    FUZZ_CHECK(head.size() == 2);

    store s;
    declare_local(s);
    const meta_read meta = parse_meta_reply(*head[0]);
    const scrape_selection selection = select_families(s, meta);
    const std::vector<std::string> daemons = parse_daemons_reply(*head[1]);
    const scrape_plan plan = plan_scrape("fuzz", selection.families, daemons);

    std::string tx;
    const std::string_view rest = input.substr(head_end);
    if (verbatim) {
        tx = rest;
    } else {
        tx = "+OK\r\n";
        for (std::size_t i = 0; i < plan.queued; ++i)
            tx += "+QUEUED\r\n";
        tx += "*" + std::to_string(plan.queued) + "\r\n";
        tx += rest;
    }
    const std::vector<reply_ptr> replies = read_replies(tx, tx.size() + 1);
    scrape_result result = parse_scrape(plan, selection.families, replies, daemons);
    const redis_view view(selection, std::move(result), {}, daemons.empty() ? "" : daemons[0]);
    for (const exposition_format f : {exposition_format::text, exposition_format::openmetrics}) {
        std::string text;
        view.render(f, text);
        render_trailer(f, text);
        const std::string why = metricsd::fuzz::check_exposition(
            text, {.openmetrics = f == exposition_format::openmetrics, .semantic = false});
        if (!why.empty())
            metricsd::fuzz::fail(why, text);
    }
    return 0;
}

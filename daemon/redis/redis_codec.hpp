// hiredis as a RESP codec only (STYLE.md section 3, design B): commands are formatted into a
// byte string and replies parsed from bytes; the caller owns the socket. Pure; no IO.
#pragma once

#include <hiredis/hiredis.h>

#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace metricsd::daemon {

struct reply_deleter {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
/// One parsed reply (with its nested elements). Owns the hiredis object.
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

/// Append one command in RESP (`*N\r\n$len\r\narg\r\n...`) to `out`. Binary-safe: arguments
/// may contain NUL and CRLF. Always true (kept for callers that check); throws std::bad_alloc
/// as any string growth does.
bool append_command(std::string& out, std::span<const std::string_view> argv);
/// One command on its own, e.g. `command_bytes({"GET", key})`.
inline std::string command_bytes(std::initializer_list<std::string_view> argv) {
    std::string out;
    append_command(out, std::span(argv.begin(), argv.size()));
    return out;
}

/// Incremental RESP parser over redisReader. Feed bytes as they arrive, then take replies until
/// need_more. After a protocol_error the stream is unusable: drop the connection and make a new
/// reader. Not thread-safe; one per connection.
class reply_reader {
public:
    enum class status : unsigned char { reply, need_more, protocol_error };
    struct result {
        status state = status::need_more;
        reply_ptr reply; ///< set when state == reply
    };

    /// The most elements one array reply may declare; a larger header is a protocol error
    /// (hiredis would allocate its element table at once; see redis_codec.cpp).
    static constexpr int max_array_elements = 1 << 24;

    /// Throws std::bad_alloc when hiredis cannot allocate its reader.
    reply_reader();
    reply_reader(reply_reader&&) noexcept = default;
    reply_reader& operator=(reply_reader&&) noexcept = default;

    /// Buffer more bytes. Returns false when the reader already failed or cannot allocate.
    bool feed(std::string_view bytes);
    /// The next complete reply, need_more, or protocol_error (see error()).
    result next();
    /// hiredis's description of the protocol error; empty while healthy.
    std::string_view error() const noexcept;

private:
    struct reader_deleter {
        void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
    };
    std::unique_ptr<redisReader, reader_deleter> reader_;
};

/// The payload of a string, status or error reply; empty for other types.
inline std::string_view reply_text(const redisReply& r) noexcept {
    const bool has_text =
        r.type == REDIS_REPLY_STRING || r.type == REDIS_REPLY_STATUS || r.type == REDIS_REPLY_ERROR;
    return has_text && r.str ? std::string_view(r.str, r.len) : std::string_view{};
}

/// Elements of an array reply; empty for other types.
inline std::span<redisReply* const> reply_elements(const redisReply& r) noexcept {
    if (r.type != REDIS_REPLY_ARRAY || r.element == nullptr)
        return {};
    return {r.element, r.elements};
}

} // namespace metricsd::daemon

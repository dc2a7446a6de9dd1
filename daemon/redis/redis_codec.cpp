#include "daemon/redis/redis_codec.hpp"

#include <charconv>
#include <new>
#include <vector>

namespace metricsd::daemon {

bool append_command(std::string& out, std::span<const std::string_view> argv) {
    // RESP written directly (what redisFormatCommandArgv writes, byte for byte), without its
    // heap buffer per command: a flush of 100 k series formats some 300 k commands.
    const auto number = [&out](char type, std::size_t n) {
        char buf[24];
        buf[0] = type;
        const auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
        end[0] = '\r';
        end[1] = '\n';
        out.append(buf, end + 2);
    };
    number('*', argv.size());
    for (const auto arg : argv) {
        number('$', arg.size());
        out.append(arg.data() ? arg.data() : "", arg.size());
        out += "\r\n";
    }
    return true;
}

namespace {

// hiredis 0.14 allocates an array reply's element table (8 bytes per element) as soon as it
// reads the header, before any element arrives, and has no bound of its own (maxelements came
// with hiredis 1.0): a misbehaving or hostile Redis could make us allocate 16 GiB with a
// 13-byte `*2147483647\r\n`. The element table is made by the reader's createArray callback,
// so ours refuses headers over the bound and hiredis reports a protocol error instead. 16 Mi
// elements (128 MiB of pointers) is far above any reply of ours: a scrape's EXEC has one
// element per data key, and a family hash two per field.
void* (*hiredis_create_array)(const redisReadTask*, int) = nullptr;

void* create_bounded_array(const redisReadTask* task, int elements) {
    if (elements > reply_reader::max_array_elements)
        return nullptr; // hiredis: "Out of memory", reported by error() as the bound
    return hiredis_create_array(task, elements);
}

/// hiredis's own reply functions with createArray bounded; `defaults` is what
/// redisReaderCreate() installed.
redisReplyObjectFunctions* bounded_functions(const redisReplyObjectFunctions* defaults) {
    static redisReplyObjectFunctions table = [defaults] {
        redisReplyObjectFunctions t = *defaults;
        hiredis_create_array = t.createArray;
        t.createArray = create_bounded_array;
        return t;
    }();
    return &table;
}

} // namespace

reply_reader::reply_reader() : reader_(redisReaderCreate()) {
    if (!reader_)
        throw std::bad_alloc();
    reader_->fn = bounded_functions(reader_->fn);
}

bool reply_reader::feed(std::string_view bytes) {
    if (bytes.empty())
        return reader_->err == 0;
    return redisReaderFeed(reader_.get(), bytes.data(), bytes.size()) == REDIS_OK;
}

reply_reader::result reply_reader::next() {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK)
        return {status::protocol_error, nullptr};
    if (raw == nullptr)
        return {status::need_more, nullptr};
    return {status::reply, reply_ptr(static_cast<redisReply*>(raw))};
}

std::string_view reply_reader::error() const noexcept {
    if (reader_->err == 0)
        return {};
    if (reader_->err == REDIS_ERR_OOM)
        return "out of memory, or an array reply over 16777216 elements";
    return reader_->errstr;
}

} // namespace metricsd::daemon

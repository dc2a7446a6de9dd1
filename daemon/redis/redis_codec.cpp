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

reply_reader::reply_reader() : reader_(redisReaderCreate()) {
    if (!reader_)
        throw std::bad_alloc();
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
    return reader_->err == 0 ? std::string_view{} : std::string_view(reader_->errstr);
}

} // namespace metricsd::daemon

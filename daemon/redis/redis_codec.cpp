#include "daemon/redis/redis_codec.hpp"

#include <array>
#include <new>
#include <vector>

namespace metricsd::daemon {

bool append_command(std::string& out, std::span<const std::string_view> argv) {
    // Our commands have at most a handful of arguments: keep their pointers on the stack.
    constexpr std::size_t inline_args = 8;
    std::array<const char*, inline_args> ptr_buf{};
    std::array<std::size_t, inline_args> len_buf{};
    std::vector<const char*> ptr_heap;
    std::vector<std::size_t> len_heap;
    const char** ptrs = ptr_buf.data();
    std::size_t* lens = len_buf.data();
    if (argv.size() > inline_args) {
        ptr_heap.resize(argv.size());
        len_heap.resize(argv.size());
        ptrs = ptr_heap.data();
        lens = len_heap.data();
    }
    for (std::size_t i = 0; i < argv.size(); ++i) {
        // hiredis reads exactly `len` bytes, so an empty view's null data() is never touched;
        // still, give it a valid pointer.
        ptrs[i] = argv[i].data() ? argv[i].data() : "";
        lens[i] = argv[i].size();
    }
    char* cmd = nullptr;
    const int len = redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), ptrs, lens);
    if (len < 0 || cmd == nullptr)
        return false;
    out.append(cmd, static_cast<std::size_t>(len));
    redisFreeCommand(cmd);
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

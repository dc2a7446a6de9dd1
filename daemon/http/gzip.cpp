#include "daemon/http/gzip.hpp"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <new>
#include <zlib.h>

namespace metricsd::daemon {
namespace {

/// deflateEnd on every exit path, including a failed deflateInit2 (which leaves nothing to free).
struct deflate_stream {
    z_stream zs{};
    bool initialised = false;
    ~deflate_stream() {
        if (initialised) {
            deflateEnd(&zs);
        }
    }
};

/// zlib counts in uInt (32 bits); feed and drain larger buffers in slices.
constexpr std::size_t max_slice = UINT_MAX;

/// Deflates `in` into `out` from `out_pos` on (growing `out` as needed) and sizes `out` to
/// what was written. `finish` ends the member; otherwise output stops when zlib has consumed
/// everything and has no more room to fill.
bool deflate_all(z_stream& zs, std::string_view in, std::string& out, std::size_t out_pos = 0,
                 bool finish = true) {
    std::size_t in_pos = 0;
    for (;;) {
        if (out_pos == out.size()) {
            out.resize(out.size() + out.size() / 2 + 64); // deflateBound was too small: rare
        }
        const std::size_t in_n = std::min(in.size() - in_pos, max_slice);
        const std::size_t out_n = std::min(out.size() - out_pos, max_slice);
        // zlib's API is not const-correct; it never writes through next_in.
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
        zs.avail_in = static_cast<uInt>(in_n);
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
        zs.avail_out = static_cast<uInt>(out_n);
        const bool last = in_pos + in_n == in.size();
        const int rc = deflate(&zs, last && finish ? Z_FINISH : Z_NO_FLUSH);
        in_pos += in_n - zs.avail_in;
        out_pos += out_n - zs.avail_out;
        if (rc == Z_STREAM_END || (!finish && last && zs.avail_in == 0 && zs.avail_out != 0)) {
            out.resize(out_pos);
            return true;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return false;
        }
    }
}

/// deflateInit2 for the gzip wrapper: windowBits 15 + 16 selects it instead of zlib's;
/// memLevel 8 is the default.
bool init_gzip(deflate_stream& d, int level) noexcept {
    d.initialised = deflateInit2(&d.zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    return d.initialised;
}

} // namespace

struct gzip_stream::state : deflate_stream {};

gzip_stream::gzip_stream(int level) noexcept : level_(level) {}

gzip_stream::~gzip_stream() = default;

bool gzip_stream::write(std::string_view in, bool last, std::string& out) noexcept {
    try {
        if (!state_) {
            state_ = std::make_unique<state>();
            if (!init_gzip(*state_, level_))
                return false;
        }
        const std::size_t start = out.size();
        out.resize(start + deflateBound(&state_->zs, static_cast<uLong>(in.size())));
        return deflate_all(state_->zs, in, out, start, last);
    } catch (const std::bad_alloc&) {
        return false;
    }
}

bool gzip_compress(std::string_view in, std::string& out, int level) noexcept {
    out.clear();
    deflate_stream d;
    if (!init_gzip(d, level)) {
        return false;
    }
    try {
        out.resize(deflateBound(&d.zs, static_cast<uLong>(in.size())));
        if (deflate_all(d.zs, in, out)) {
            return true;
        }
    } catch (const std::bad_alloc&) {
        // fall through: report failure, the body goes out uncompressed
    }
    out.clear();
    return false;
}

} // namespace metricsd::daemon

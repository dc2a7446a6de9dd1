// The sender thread's read side: WELCOME (limits), ACK (flush() waiters) and ERROR (counted,
// kept as last_error, passed to on_error) frames from the daemon.
#include "receiver.hpp"

#include <cerrno>
#include <sys/socket.h>
#include <type_traits>
#include <variant>

namespace metricsd::detail {

bool receiver::read(int fd, daemon_events& events) {
    for (;;) {
        const auto space = decoder_.prepare(16 * 1024);
        const ssize_t n = ::recv(fd, space.data(), space.size(), MSG_DONTWAIT);
        if (n > 0) {
            decoder_.commit(static_cast<std::size_t>(n));
            // Handle each chunk at once: an ERROR right before EOF must still be seen.
            if (!dispatch(events))
                return false;
            continue;
        }
        if (n == 0)
            return false; // the daemon closed the connection
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
}

bool receiver::dispatch(daemon_events& events) {
    using status = protocol::decode_result::status;
    for (;;) {
        auto r = decoder_.next();
        if (r.state == status::need_more)
            return true;
        if (r.state == status::error) {
            // The daemon sent bytes we cannot parse: not an ERROR frame, so not counted.
            events.on_bad_frame("client: bad frame from daemon: " + r.error.message);
            if (r.error.fatal)
                return false;
            continue;
        }
        std::visit(
            [&](const auto& m) {
                using T = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<T, protocol::welcome>)
                    events.on_welcome(m);
                else if constexpr (std::is_same_v<T, protocol::ack>)
                    events.on_ack(m.token);
                else if constexpr (std::is_same_v<T, protocol::error>)
                    events.on_error_frame(m);
                // A client-role decoder yields nothing else.
            },
            r.msg);
    }
}

} // namespace metricsd::detail

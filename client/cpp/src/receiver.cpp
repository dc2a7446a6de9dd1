// The sender thread's read side: WELCOME (limits), ACK (flush() waiters) and ERROR (counted,
// kept as last_error, passed to on_error) frames from the daemon.
#include "client_core.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/socket.h>
#include <type_traits>
#include <variant>

namespace metricsd::detail {

bool client_core::read_input(sender_state& st) {
    for (;;) {
        const auto space = st.decoder->prepare(16 * 1024);
        const ssize_t n = ::recv(sock_, space.data(), space.size(), MSG_DONTWAIT);
        if (n > 0) {
            st.decoder->commit(static_cast<std::size_t>(n));
            // Handle each chunk at once: an ERROR right before EOF must still be seen.
            if (!handle_input(st))
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

bool client_core::handle_input(sender_state& st) {
    using status = protocol::decode_result::status;
    for (;;) {
        auto r = st.decoder->next();
        if (r.state == status::need_more)
            return true;
        if (r.state == status::error) {
            // The daemon sent bytes we cannot parse: not an ERROR frame, so not counted.
            note_error("client: bad frame from daemon: " + r.error.message, false);
            if (r.error.fatal)
                return false;
            continue;
        }
        std::visit(
            [&](const auto& m) {
                using T = std::decay_t<decltype(m)>;
                if constexpr (std::is_same_v<T, protocol::welcome>)
                    on_welcome(st, m);
                else if constexpr (std::is_same_v<T, protocol::ack>)
                    on_ack(m.token);
                else if constexpr (std::is_same_v<T, protocol::error>)
                    on_error_frame(m);
                // A client-role decoder yields nothing else.
            },
            r.msg);
    }
}

void client_core::on_welcome(sender_state& st, const protocol::welcome& w) {
    // A connection that got this far is healthy: the next outage starts from the short delay.
    st.backoff = opts_.reconnect_min;
    const std::size_t payload = std::min<std::size_t>(max_ops_frame_payload, w.max_frame_payload);
    st.back.set_max_ops_payload(payload);
    std::lock_guard g(lock_);
    front_.set_max_ops_payload(payload);
}

void client_core::on_ack(std::uint64_t token) {
    {
        std::lock_guard g(mu_);
        acked_ = std::max(acked_, token);
    }
    cv_.notify_all();
}

void client_core::on_error_frame(const protocol::error& e) {
    std::string text = std::string(protocol::to_string(e.code)) + ": " + std::string(e.message);
    if (e.handle != protocol::no_handle)
        text += " (handle " + std::to_string(e.handle) + ")";
    note_error(text, true);
}

void client_core::note_error(const std::string& text, bool count) {
    {
        std::lock_guard g(mu_);
        last_error_ = text;
    }
    if (count)
        rejected_.fetch_add(1, std::memory_order_relaxed);
    if (count && opts_.on_error) {
        try {
            opts_.on_error(text);
        } catch (...) {
            // The callback's exceptions must not kill the sender thread.
        }
    }
}

} // namespace metricsd::detail

// metricsd C++ client: declare metric families and series once, then send inc/dec/set/observe
// ops to the metricsd daemon over its Unix-domain socket. Standard library only.
#pragma once

#include <metricsd/client_handles.hpp>
#include <metricsd/protocol/wire.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd {

/// How a gauge combines the values of several worker processes (see protocol/PROTOCOL.md §7).
using gauge_mode = protocol::gauge_mode;

/// `METRICSD_SOCKET` from the environment if set and non-empty, else
/// "/run/metricsd/ingest.sock". Thread-safe as long as nobody calls setenv() concurrently.
std::string default_socket_path();

/// Settings of a client. Read once by the client's constructor.
struct client_options {
    /// The daemon's ingest socket.
    std::string socket_path = default_socket_path();
    /// How often the background sender writes buffered ops to the daemon.
    std::chrono::milliseconds flush_interval{5};
    /// Buffered bytes that wake the sender before flush_interval has passed.
    std::size_t flush_bytes = 64 * 1024;
    /// Upper bound of buffered op bytes (16 bytes per op) while the daemon is down or slow.
    /// Ops beyond it are folded into one accumulator per series (a counter's sum, a gauge's
    /// last set and delta, a histogram's bucket counts, sum and count) and sent once the
    /// daemon reads again, so nothing is lost and memory grows with series, not ops.
    /// Declarations and SYNC frames are never dropped.
    std::size_t max_buffer_bytes = 8 * 1024 * 1024;
    /// Reconnect backoff: starts at reconnect_min, doubles per failed attempt up to
    /// reconnect_max, each delay randomised to [delay/2, delay] so a restarted daemon is not hit
    /// by every worker at once.
    std::chrono::milliseconds reconnect_min{10};
    std::chrono::milliseconds reconnect_max{2000};
    /// Called from the sender thread with "<code name>: <message>" for every ERROR frame the
    /// daemon sends. Must be quick, must not throw (exceptions are swallowed) and must not call
    /// client::flush() or destroy the client.
    std::function<void(const std::string&)> on_error;
};

/// A connection to the metricsd daemon, owned by one process.
///
/// Ops are appended to an in-memory buffer and written by a background thread every
/// flush_interval; the client connects (and reconnects, with backoff) in the background and
/// never throws because the daemon is down. Every member function is thread-safe. Family and
/// series handles must not be used after the client is destroyed.
///
/// Fork-safe: in a child process the parent's buffered ops are discarded (never sent twice), the
/// inherited socket is closed without disturbing the parent's connection, and the child opens
/// its own connection on first use, declaring everything again. The child's dropped_ops(),
/// rejected() and last_error() start afresh, as do its gauge values (it is a new worker).
class client {
public:
    /// Starts the sender thread. Throws std::invalid_argument for unusable options (empty or
    /// too long socket path, non-positive intervals, reconnect_min > reconnect_max), and
    /// std::system_error if the thread cannot be started.
    explicit client(client_options options = {});
    /// Flushes what is buffered (waiting at most 1 s for the daemon), stops the sender thread
    /// and closes the connection.
    ~client();
    /// Handles keep working across a move (they point at the shared state, not at this
    /// object). A moved-from client may only be destroyed or assigned to.
    client(client&&) noexcept;
    client& operator=(client&&) noexcept;
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Declare a family (or return the one this client already declared under that name).
    /// Start-up-time calls: they take a mutex and may allocate. Throw std::invalid_argument
    /// for an invalid metric name, label name (syntax, reserved, duplicate), help text (not
    /// UTF-8, too long), bucket bound, or for a name this client already declared differently;
    /// std::length_error when the family handle space is exhausted.
    counter_family counter(std::string_view name, std::string_view help,
                           const std::vector<std::string>& label_names = {});
    gauge_family gauge(std::string_view name, std::string_view help,
                       const std::vector<std::string>& label_names = {},
                       gauge_mode mode = gauge_mode::livesum);
    /// Bucket bounds as text, kept verbatim by the daemon (they are part of Redis keys): finite,
    /// strictly increasing, no "+Inf" (implicit).
    histogram_family histogram(std::string_view name, std::string_view help,
                               const std::vector<std::string>& label_names,
                               const std::vector<std::string>& buckets);
    /// Bucket bounds as numbers, sent as their shortest round-trip text (std::to_chars).
    histogram_family histogram(std::string_view name, std::string_view help,
                               const std::vector<std::string>& label_names,
                               const std::vector<double>& buckets);
    summary_family summary(std::string_view name, std::string_view help,
                           const std::vector<std::string>& label_names = {});

    /// Send everything buffered plus SYNC, and wait until the daemon's ACK says all of it has
    /// been applied. Connects at once if disconnected (skipping the backoff). Returns false on
    /// timeout, if the daemon cannot be reached, or if the connection broke before the ACK.
    /// Blocks the caller (never call it from on_error); ERROR frames do not make it fail.
    bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(5));

    /// Ops lost: the buffer was full and a series' accumulator could not be allocated, an op
    /// the daemon would refuse (a negative counter inc, a NaN observation) arrived while
    /// folding, or a write failed midway (the connection broke).
    std::uint64_t dropped_ops() const noexcept;
    /// ERROR frames received from the daemon.
    std::uint64_t rejected() const noexcept;
    /// "<code name>: <message> (handle N)" of the last ERROR frame, or "client: ..." for bytes
    /// from the daemon that did not decode; empty if none.
    std::string last_error() const;
    /// True while a connection to the daemon is established.
    bool connected() const noexcept;

private:
    std::unique_ptr<detail::client_core> core_;
};

/// The product spec's spelling.
using Client = client;

} // namespace metricsd

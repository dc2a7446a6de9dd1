// Process-wide pthread_atfork handlers for every live client (registered once, on first use).
#pragma once

namespace metricsd::detail {

class client_core;

namespace fork_guard {

/// Start covering c across fork(). Thread-safe.
void add(client_core* c);
/// Stop covering c. Thread-safe; c must have been added.
void remove(client_core* c);

} // namespace fork_guard
} // namespace metricsd::detail

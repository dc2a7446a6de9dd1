// The ingest socket's directory: created at start when it is missing and creating it is safe,
// checked by --check-config. Start-up code: errors throw std::runtime_error with the message
// the operator sees.
#pragma once

#include <string>

namespace metricsd::daemon {

/// What prepare_socket_directory would do for `socket_path`.
struct socket_directory_plan {
    enum class action { exists, create, refuse };
    action what = action::exists;
    std::string directory; ///< the socket's directory
    std::string reason;    ///< refuse: why, and what to do instead
    /// refuse: only because of who we are (ownership, permissions): another user (root, or
    /// systemd's RuntimeDirectory) may well start the daemon with this configuration.
    bool depends_on_user = false;
};

/// Decide without touching anything. The directory is created only when it is the one missing
/// level: its parent exists, is a directory, and is owned by root or by us (a directory another
/// user owns could be swapped under us), and we may write there. Never a chain of directories,
/// never a mode change of what exists.
socket_directory_plan plan_socket_directory(const std::string& socket_path);

/// Apply the plan: create the directory with mode 0755 (workers must traverse it to reach the
/// socket; the socket's own mode decides who may connect). Returns the directory created, or ""
/// when it existed. Throws std::runtime_error when the plan refuses or mkdir fails.
std::string prepare_socket_directory(const std::string& socket_path);

} // namespace metricsd::daemon

#include "daemon/app/socket_directory.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace metricsd::daemon {

socket_directory_plan plan_socket_directory(const std::string& socket_path) {
    socket_directory_plan plan;
    const std::filesystem::path socket(socket_path);
    plan.directory = socket.has_parent_path() ? socket.parent_path().string() : ".";
    struct stat st{};
    if (::stat(plan.directory.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            plan.what = socket_directory_plan::action::refuse;
            plan.reason = plan.directory + " is not a directory";
        }
        return plan; // an existing directory is used as it is: its mode is the operator's
    }
    plan.what = socket_directory_plan::action::refuse;
    if (errno != ENOENT) {
        plan.depends_on_user = errno == EACCES;
        plan.reason = "cannot reach " + plan.directory + ": " + std::strerror(errno);
        return plan;
    }
    const auto parent = std::filesystem::path(plan.directory).parent_path().string();
    const std::string advice = "; create " + plan.directory +
                               " (e.g. `install -d -m 0755 -o USER " + plan.directory +
                               "`) or set --socket to a path in an existing directory";
    if (parent.empty() || ::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        plan.reason = plan.directory + " does not exist, nor does its parent " +
                      (parent.empty() ? std::string(".") : parent) + advice;
        return plan;
    }
    plan.depends_on_user = true;
    if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
        plan.reason = plan.directory + " does not exist, and its parent " + parent +
                      " belongs to another user (uid " + std::to_string(st.st_uid) +
                      "), so it is not created there" + advice;
        return plan;
    }
    if (::access(parent.c_str(), W_OK | X_OK) != 0) {
        plan.reason = plan.directory + " does not exist and cannot be created: " + parent +
                      ": " + std::strerror(errno) + advice;
        return plan;
    }
    plan.what = socket_directory_plan::action::create;
    plan.depends_on_user = false;
    return plan;
}

std::string prepare_socket_directory(const std::string& socket_path) {
    const auto plan = plan_socket_directory(socket_path);
    switch (plan.what) {
    case socket_directory_plan::action::exists:
        return {};
    case socket_directory_plan::action::refuse:
        throw std::runtime_error("socket " + socket_path + ": " + plan.reason);
    case socket_directory_plan::action::create:
        break;
    }
    // 0755 whatever the umask: workers of other users must reach the socket inside.
    if (::mkdir(plan.directory.c_str(), 0755) != 0) {
        if (errno == EEXIST)
            return {}; // made by someone else meanwhile: theirs, left as it is
        throw std::runtime_error("socket " + socket_path + ": cannot create " + plan.directory +
                                 ": " + std::strerror(errno));
    }
    ::chmod(plan.directory.c_str(), 0755); // only the directory made here, past the umask
    return plan.directory;
}

} // namespace metricsd::daemon

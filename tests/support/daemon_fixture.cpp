#include "daemon_fixture.hpp"

#include <csignal>
#include <stdexcept>

namespace metricsd::test {

std::string daemon_binary() {
    return METRICSD_BINARY;
}
std::string worker_binary() {
    return METRICSD_WORKER_BINARY;
}

daemon_process::daemon_process(const temp_dir& dir, std::vector<std::string> extra,
                               const std::string& name, const std::string& binary)
    : socket_(dir.file(name + ".sock")) {
    std::vector<std::string> argv{binary, "--socket", socket_, "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<child_process>(argv, dir.file(name + ".log"));
    const auto log = proc_->wait_for_log("metricsd ready:");
    // "... http 127.0.0.1:43127 backend memory"
    const auto at = log.find(" http 127.0.0.1:");
    if (at == std::string::npos)
        throw std::runtime_error("no HTTP endpoint in the ready line:\n" + log);
    port_ = std::stoi(log.substr(at + 16));
}

std::string daemon_process::scrape(const std::map<std::string, std::string>& headers) const {
    auto r = http_get(port_, "/metrics", headers);
    if (r.status != 200)
        throw std::runtime_error("scrape returned " + std::to_string(r.status) + ": " + r.body);
    return r.body;
}

int daemon_process::stop() {
    proc_->signal(SIGTERM);
    return proc_->wait();
}

} // namespace metricsd::test

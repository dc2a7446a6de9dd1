// The real metricsd binary on a temp-dir socket and an ephemeral HTTP port.
#pragma once

#include "harness.hpp"

#include <memory>
#include <string>
#include <vector>

namespace metricsd::test {

/// Path of the built daemon, worker and metricsctl binaries (set by CMake).
std::string daemon_binary();
std::string worker_binary();

class daemon_process {
public:
    /// Start metricsd with --socket <dir>/ingest.sock --listen 127.0.0.1:0 plus `extra` flags,
    /// and wait until it logs that it is ready. `binary`: another build (benchmarks compare).
    explicit daemon_process(const temp_dir& dir, std::vector<std::string> extra = {},
                            const std::string& name = "metricsd",
                            const std::string& binary = daemon_binary());

    const std::string& socket_path() const noexcept { return socket_; }
    int port() const noexcept { return port_; }
    child_process& process() noexcept { return *proc_; }

    /// GET /metrics (text format unless headers say otherwise); throws unless 200.
    std::string scrape(const std::map<std::string, std::string>& headers = {}) const;
    /// SIGTERM and wait; returns the exit code.
    int stop();

private:
    std::string socket_;
    int port_ = 0;
    std::unique_ptr<child_process> proc_;
};

} // namespace metricsd::test

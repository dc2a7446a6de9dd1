// Helpers for tests that run real processes: temp dirs, child processes, free ports, a tiny
// HTTP client. POSIX only; no mocks.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace metricsd::test {

/// A fresh directory under $TMPDIR, removed with its contents on destruction.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const noexcept { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

/// A child process with stdout+stderr going to a log file. Killed (SIGKILL) on destruction if
/// still running.
class child_process {
public:
    child_process(const std::vector<std::string>& argv, const std::string& log_path,
                  const std::map<std::string, std::string>& env = {});
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    void signal(int sig) const;
    /// Wait for exit; returns the exit code, or 128+signal; -1 on timeout.
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
    bool running();
    std::string log() const;
    /// Poll the log until it contains `needle`; returns the log, or throws on timeout/exit.
    std::string wait_for_log(const std::string& needle,
                             std::chrono::milliseconds timeout = std::chrono::seconds(20));

private:
    pid_t pid_ = -1;
    std::string log_path_;
    int status_ = -1;
};

/// A TCP port that was free a moment ago on 127.0.0.1.
int free_port();

struct http_response {
    int status = 0;
    std::map<std::string, std::string> headers; ///< lower-case names
    std::string body;
};

/// The body of a chunked HTTP/1.1 response (the bytes after the header), without the chunk
/// framing. Throws std::runtime_error on a malformed or incomplete body (a cut response).
std::string dechunk(const std::string& wire);

/// One HTTP/1.1 request over a fresh connection (Connection: close). Throws on socket errors.
http_response http_get(int port, const std::string& target,
                       const std::map<std::string, std::string>& headers = {},
                       const std::string& method = "GET");

/// Ask a Prometheus server on `port` for `query` until the JSON answer contains `expect`, for up
/// to 60 s (it may not listen yet, or not have scraped yet); returns the last answer or error.
std::string query_until(int port, const std::string& query, const std::string& expect);

/// `text` as one shell word (single-quoted).
std::string quoted(const std::string& text);

/// Run a shell command; returns its exit code and fills `output` with stdout+stderr.
int run_command(const std::string& command, std::string& output);

/// Value of the sample line `name{labels}` (exact text before the space) in an exposition,
/// or NaN when absent.
double sample_value(const std::string& exposition, const std::string& series);

/// Resident set size of `pid` in KiB, from /proc/<pid>/status (VmRSS). Throws if absent.
long rss_kib(pid_t pid);
/// Peak resident set size of `pid` in KiB (VmHWM) since it started or since reset_peak_rss.
long peak_rss_kib(pid_t pid);
/// Make the peak RSS of `pid` its current RSS (writes 5 to /proc/<pid>/clear_refs).
void reset_peak_rss(pid_t pid);

/// CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat
/// (clock-tick resolution, 10 ms). Throws if the file cannot be read.
double cpu_seconds(pid_t pid);

/// Occurrences of `needle` in `text` (e.g. a line in a daemon's log).
std::size_t occurrences(const std::string& text, const std::string& needle);

} // namespace metricsd::test

#include "harness.hpp"

#include <arpa/inet.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <netinet/in.h>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace metricsd::test {

temp_dir::temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/metricsd-test-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr)
        throw std::runtime_error("mkdtemp failed");
    path_ = templ;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

child_process::child_process(const std::vector<std::string>& argv, const std::string& log_path,
                             const std::map<std::string, std::string>& env)
    : log_path_(log_path) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        throw std::runtime_error("cannot open " + log_path);
    pid_ = ::fork();
    if (pid_ < 0)
        throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        for (const auto& [k, v] : env)
            ::setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        std::perror("execvp");
        ::_exit(127);
    }
    ::close(fd);
}

child_process::~child_process() {
    if (running()) {
        ::kill(pid_, SIGKILL);
        wait(std::chrono::seconds(5));
    }
}

void child_process::signal(int sig) const {
    ::kill(pid_, sig);
}

bool child_process::running() {
    if (status_ != -1)
        return false;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
    }
    return r == 0;
}

int child_process::wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() > deadline)
            return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status_;
}

std::string child_process::log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string child_process::wait_for_log(const std::string& needle,
                                        std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto text = log();
        if (text.find(needle) != std::string::npos)
            return text;
        if (!running())
            throw std::runtime_error("process exited before logging '" + needle + "':\n" + text);
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("timed out waiting for '" + needle + "':\n" + text);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

namespace {

void send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        const auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n <= 0)
            throw std::runtime_error("send failed");
        sent += static_cast<std::size_t>(n);
    }
}

} // namespace

// RFC 9112 7.1: each chunk's data, without sizes, extensions or trailers.
std::string dechunk(const std::string& wire) {
    std::string body;
    std::size_t at = 0;
    for (;;) {
        const auto line_end = wire.find("\r\n", at);
        if (line_end == std::string::npos)
            throw std::runtime_error("incomplete chunked body");
        const std::size_t size = std::stoul(wire.substr(at, line_end - at), nullptr, 16);
        at = line_end + 2;
        if (size == 0)
            return body;
        if (wire.size() < at + size + 2)
            throw std::runtime_error("incomplete chunked body");
        body.append(wire, at, size);
        at += size + 2;
    }
}

namespace {

http_response parse_response(const std::string& raw, bool head_request) {
    http_response r;
    const auto head_end = raw.find("\r\n\r\n");
    if (head_end == std::string::npos)
        throw std::runtime_error("incomplete HTTP response: " + raw);
    std::istringstream head(raw.substr(0, head_end));
    std::string line;
    std::getline(head, line);
    r.status = std::atoi(line.c_str() + line.find(' ') + 1);
    while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string name = line.substr(0, colon);
        for (auto& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    r.body = raw.substr(head_end + 4);
    if (!head_request && r.headers["transfer-encoding"] == "chunked")
        r.body = dechunk(r.body);
    return r;
}

} // namespace

std::string query_until(int port, const std::string& query, const std::string& expect) {
    std::string last;
    for (int i = 0; i < 600; ++i) {
        try {
            last = http_get(port, "/api/v1/query?query=" + query).body;
            if (last.find(expect) != std::string::npos)
                return last;
        } catch (const std::exception& e) {
            last = e.what(); // not listening yet
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return last;
}

http_response http_get(int port, const std::string& target,
                       const std::map<std::string, std::string>& headers,
                       const std::string& method) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
    }
    std::string req =
        method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    for (const auto& [k, v] : headers)
        req += k + ": " + v + "\r\n";
    req += "\r\n";
    send_all(fd, req);
    std::string raw;
    char buf[65536];
    for (;;) {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        raw.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return parse_response(raw, method == "HEAD");
}

std::string quoted(const std::string& text) {
    std::string out = "'";
    for (const char ch : text)
        out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return out + "'";
}

int run_command(const std::string& command, std::string& output) {
    output.clear();
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (!p)
        return -1;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        output.append(buf, n);
    const int st = ::pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

namespace {

long status_kib(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field, 0) == 0)
            return std::stol(line.substr(field.size()));
    throw std::runtime_error("no " + field + " for pid " + std::to_string(pid));
}

} // namespace

long rss_kib(pid_t pid) {
    return status_kib(pid, "VmRSS:");
}

long peak_rss_kib(pid_t pid) {
    return status_kib(pid, "VmHWM:");
}

void reset_peak_rss(pid_t pid) {
    std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
    out << "5";
    out.flush();
    if (!out)
        throw std::runtime_error("cannot reset the peak RSS of pid " + std::to_string(pid));
}

double sample_value(const std::string& exposition, const std::string& series) {
    std::istringstream in(exposition);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
            line[series.size()] == ' ')
            return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
    return std::nan("");
}

double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')'); // the command name may contain spaces and parentheses
    if (paren == std::string::npos)
        throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
    std::istringstream fields(text.substr(paren + 2)); // from field 3 (state)
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15 && fields >> f; ++field) {
        if (field == 14)
            utime = std::stoull(f);
        if (field == 15)
            stime = std::stoull(f);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

} // namespace metricsd::test

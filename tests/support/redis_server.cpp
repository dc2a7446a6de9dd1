#include "redis_server.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/time.h>

#ifndef METRICSD_REDIS_SERVER
#define METRICSD_REDIS_SERVER "redis-server"
#endif

namespace metricsd::test {

namespace {

/// $REDIS_SERVER when set (to try another build), else the one CMake found.
std::string redis_server_binary() {
    const char* env = std::getenv("REDIS_SERVER");
    return env && *env ? env : METRICSD_REDIS_SERVER;
}

redis_reply copy_reply(const redisReply& r) {
    redis_reply out;
    switch (r.type) {
    case REDIS_REPLY_STRING:
        out.type = redis_reply::kind::string;
        break;
    case REDIS_REPLY_STATUS:
        out.type = redis_reply::kind::status;
        break;
    case REDIS_REPLY_ERROR:
        out.type = redis_reply::kind::error;
        break;
    case REDIS_REPLY_INTEGER:
        out.type = redis_reply::kind::integer;
        out.integer = r.integer;
        break;
    case REDIS_REPLY_ARRAY:
        out.type = redis_reply::kind::array;
        for (std::size_t i = 0; i < r.elements; ++i)
            out.elements.push_back(copy_reply(*r.element[i]));
        break;
    default:
        out.type = redis_reply::kind::nil;
        break;
    }
    if (r.str != nullptr)
        out.text.assign(r.str, r.len);
    return out;
}

redisContext* checked(redisContext* ctx, const std::string& where) {
    if (ctx == nullptr)
        throw std::runtime_error("cannot allocate a redis context for " + where);
    if (ctx->err != 0) {
        const std::string why = ctx->errstr;
        redisFree(ctx);
        throw std::runtime_error("cannot connect to redis at " + where + ": " + why);
    }
    // A hung server must fail the test, not hang it.
    const timeval timeout{5, 0};
    redisSetTimeout(ctx, timeout);
    return ctx;
}

constexpr timeval connect_timeout{2, 0};

} // namespace

redis_client::redis_client(int port, int db)
    : ctx_(checked(redisConnectWithTimeout("127.0.0.1", port, connect_timeout),
                   "127.0.0.1:" + std::to_string(port))) {
    select(db);
}

redis_client::redis_client(const std::string& unix_path, int db)
    : ctx_(checked(redisConnectUnixWithTimeout(unix_path.c_str(), connect_timeout), unix_path)) {
    select(db);
}

redis_client::~redis_client() {
    redisFree(ctx_);
}

void redis_client::select(int db) {
    if (db == 0)
        return;
    const auto r = command({"SELECT", std::to_string(db)});
    if (r.type != redis_reply::kind::status)
        throw std::runtime_error("SELECT " + std::to_string(db) + " failed: " + r.text);
}

redis_reply redis_client::command(const std::vector<std::string>& argv) {
    std::vector<const char*> args;
    std::vector<std::size_t> lengths;
    for (const auto& a : argv) {
        args.push_back(a.data());
        lengths.push_back(a.size());
    }
    auto* raw = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lengths.data()));
    if (raw == nullptr)
        throw std::runtime_error("redis command " + (argv.empty() ? "" : argv[0]) +
                                 " failed: " + ctx_->errstr);
    auto out = copy_reply(*raw);
    freeReplyObject(raw);
    return out;
}

std::string redis_client::text(const std::vector<std::string>& argv) {
    const auto r = command(argv);
    if (r.type == redis_reply::kind::integer || r.type == redis_reply::kind::array)
        throw std::runtime_error(argv.at(0) + ": not a text reply");
    return r.text;
}

long long redis_client::integer(const std::vector<std::string>& argv) {
    const auto r = command(argv);
    if (r.type != redis_reply::kind::integer)
        throw std::runtime_error(argv.at(0) + ": not an integer reply: " + r.text);
    return r.integer;
}

std::map<std::string, std::string> redis_client::hash(const std::string& key) {
    const auto r = command({"HGETALL", key});
    if (r.type != redis_reply::kind::array)
        throw std::runtime_error("HGETALL " + key + ": " + r.text);
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2)
        out[r.elements[i].text] = r.elements[i + 1].text;
    return out;
}

std::vector<std::string> redis_client::keys(const std::string& pattern) {
    const auto r = command({"KEYS", pattern});
    std::vector<std::string> out;
    for (const auto& e : r.elements)
        out.push_back(e.text);
    std::sort(out.begin(), out.end());
    return out;
}

redis_server::redis_server(options opts) : opts_(opts), port_(free_port()) {
    if (opts_.start)
        start();
}

redis_server::~redis_server() {
    if (running()) {
        proc_->signal(SIGTERM);
        proc_->wait(std::chrono::seconds(10)); // child_process SIGKILLs it if still running
    }
}

std::string redis_server::url(int db) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

std::string redis_server::log() const {
    std::string out;
    for (int run = 0; run < runs_; ++run) {
        const auto file = dir_.file("redis-" + std::to_string(run) + ".log");
        std::ifstream in(file);
        std::stringstream text;
        text << in.rdbuf();
        out += "--- run " + std::to_string(run) + "\n" + text.str();
    }
    return out;
}

void redis_server::start() {
    if (running())
        throw std::logic_error("redis-server is already running");
    for (int attempt = 0;; ++attempt) {
        std::vector<std::string> argv{redis_server_binary(),
                                      "--port",
                                      std::to_string(port_),
                                      "--bind",
                                      "127.0.0.1",
                                      "--unixsocket",
                                      unix_path(),
                                      "--unixsocketperm",
                                      "700",
                                      "--save",
                                      "",
                                      "--dir",
                                      dir_.path(),
                                      "--daemonize",
                                      "no",
                                      "--appendonly",
                                      opts_.append_only ? "yes" : "no"};
        if (opts_.append_only) {
            argv.emplace_back("--appendfsync");
            argv.emplace_back("always");
        }
        const auto log_file = dir_.file("redis-" + std::to_string(runs_++) + ".log");
        proc_ = std::make_unique<child_process>(argv, log_file);
        const bool up = eventually([&] {
            if (!proc_->running())
                return true; // stop polling; checked below
            try {
                // -LOADING while the AOF is replayed; PONG once it serves.
                return redis_client(port_).text({"PING"}) == "PONG";
            } catch (const std::runtime_error&) {
                return false;
            }
        });
        if (up && proc_->running()) {
            ever_up_ = true;
            return;
        }
        // Someone took the free port between free_port() and bind: try another one, but only
        // before the first successful start (a restart must keep its port).
        const auto text = proc_->log();
        if (!ever_up_ && !proc_->running() && attempt < 5 &&
            text.find("Address already in use") != std::string::npos) {
            port_ = free_port();
            continue;
        }
        throw std::runtime_error("redis-server did not come up on port " + std::to_string(port_) +
                                 ":\n" + log());
    }
}

void redis_server::kill(int sig) {
    if (!running())
        return;
    proc_->signal(sig);
    if (proc_->wait(std::chrono::seconds(10)) < 0)
        throw std::runtime_error("redis-server did not exit after signal " + std::to_string(sig));
}

void redis_server::restart() {
    kill(SIGKILL);
    start();
}

std::unique_ptr<redis_client> redis_server::connect(int db) const {
    return std::make_unique<redis_client>(port_, db);
}

} // namespace metricsd::test

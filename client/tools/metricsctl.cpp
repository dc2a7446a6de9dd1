// metricsctl: send one metric op to metricsd from a shell script or cron job, and (by default)
// wait until the daemon has applied it. Exit codes: 0 applied, 2 usage or invalid name/label/
// bucket (checked before anything is sent), 3 daemon unreachable or no ACK in time, 4 the
// daemon rejected the declaration or op, 1 anything else.
#include <metricsd/client.hpp>
#include <metricsd/protocol/wire.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;
constexpr int exit_unreachable = 3;
constexpr int exit_rejected = 4;

struct settings {
    std::string socket = metricsd::default_socket_path();
    double timeout_s = 5;
    bool no_wait = false;
};

/// What the command line asked for: one op on one series.
struct request {
    std::string type; ///< counter, gauge, histogram, summary
    std::string verb; ///< inc, dec, set, observe
    std::string name;
    std::string help;
    std::vector<std::string> labels; ///< "k=v", in label order
    std::string value = "1";         ///< --value; required for set and observe
    std::string mode = "shared";
    std::vector<std::string> buckets;
};

/// A command-line mistake: exit 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

double parse_value(const std::string& text) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno == ERANGE)
        throw usage_error("--value '" + text + "' is not a number");
    return v;
}

/// "k=v" pairs split into label names and values; a name given twice is a usage error.
void split_labels(const std::vector<std::string>& pairs, std::vector<std::string>& names,
                  std::vector<std::string>& values) {
    for (const auto& p : pairs) {
        const auto eq = p.find('=');
        if (eq == std::string::npos || eq == 0)
            throw usage_error("--label '" + p + "' is not NAME=VALUE");
        std::string name = p.substr(0, eq);
        for (const auto& n : names)
            if (n == name)
                throw usage_error("--label " + name + " given twice");
        names.push_back(std::move(name));
        values.push_back(p.substr(eq + 1));
    }
}

/// Declare the family and series, and buffer the op. Throws std::invalid_argument for names,
/// labels or buckets the client refuses.
void send_op(metricsd::client& client, const request& r) {
    const double v = parse_value(r.value);
    std::vector<std::string> names, values;
    split_labels(r.labels, names, values);
    if (r.type == "counter") {
        client.counter(r.name, r.help, names).labels(values).inc(v);
    } else if (r.type == "gauge") {
        const auto g =
            client.gauge(r.name, r.help, names, *metricsd::protocol::parse_gauge_mode(r.mode))
                .labels(values);
        if (r.verb == "set")
            g.set(v);
        else if (r.verb == "inc")
            g.inc(v);
        else
            g.dec(v);
    } else if (r.type == "histogram") {
        client.histogram(r.name, r.help, names, r.buckets).labels(values).observe(v);
    } else {
        client.summary(r.name, r.help, names).labels(values).observe(v);
    }
}

/// Why connecting to `path` fails right now ("No such file or directory"), or "" if it works.
std::string probe_socket(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return std::strerror(errno);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    const int err = errno;
    ::close(fd);
    return rc == 0 ? std::string() : std::strerror(err);
}

/// Wait for the daemon's ACK and turn the outcome into an exit code and a message.
int confirm(metricsd::client& client, const settings& s) {
    const auto timeout = std::chrono::milliseconds(std::llround(s.timeout_s * 1000));
    const bool acked = client.flush(std::max(timeout, std::chrono::milliseconds(1)));
    // An ACK follows the ERROR frames of everything before it, so rejected() is final here.
    if (client.rejected() > 0) {
        std::cerr << "metricsctl: rejected by metricsd: " << client.last_error() << '\n';
        return exit_rejected;
    }
    if (acked)
        return 0;
    std::string why = client.connected() ? std::string() : probe_socket(s.socket);
    if (why.empty())
        why = "no acknowledgement within " + (std::ostringstream() << s.timeout_s).str() + " s";
    std::cerr << "metricsctl: cannot reach metricsd at " << s.socket << ": " << why << '\n';
    return exit_unreachable;
}

std::string without_prefix(const std::string& what) {
    const std::string prefix = "metricsd: ";
    return what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what;
}

int run(const settings& s, const request& r) {
    if (r.type == "gauge" && r.mode.rfind("live", 0) == 0)
        std::cerr << "metricsctl: warning: a " << r.mode << " gauge loses this process's value "
                  << "as soon as metricsctl exits; use --mode shared, sum or mostrecent\n";
    try {
        metricsd::client_options opts;
        opts.socket_path = s.socket;
        metricsd::client client(std::move(opts));
        send_op(client, r);
        // --no-wait: the client's destructor still sends the op (waiting at most 1 s).
        return s.no_wait ? 0 : confirm(client, s);
    } catch (const usage_error& e) {
        std::cerr << "metricsctl: " << e.what() << '\n';
        return exit_usage;
    } catch (const std::invalid_argument& e) {
        std::cerr << "metricsctl: " << without_prefix(e.what()) << '\n';
        return exit_usage;
    } catch (const std::exception& e) {
        std::cerr << "metricsctl: " << without_prefix(e.what()) << '\n';
        return exit_failure;
    }
}

/// One `TYPE VERB NAME` subcommand with the options every op takes.
CLI::App* add_verb(CLI::App* type, const std::string& verb, const std::string& what, request& r,
                   bool needs_value) {
    auto* cmd = type->add_subcommand(verb, what);
    cmd->add_option("name", r.name, "Metric name, e.g. backup_runs_total")
        ->required()
        ->type_name("NAME");
    cmd->add_option("--label,-l", r.labels, "Label NAME=VALUE; repeat for more (order matters)")
        ->allow_extra_args(false)
        ->type_name("NAME=VALUE");
    auto* value = cmd->add_option("--value,-v", r.value, "The value (default 1 for inc/dec)")
                      ->type_name("NUMBER");
    if (needs_value)
        value->required();
    cmd->add_option("--help-text", r.help, "HELP text of the family (first declaration wins)");
    cmd->callback([&r, type, verb] {
        r.type = type->get_name();
        r.verb = verb;
    });
    return cmd;
}

void add_gauge_mode(CLI::App* cmd, request& r) {
    // Every name protocol::parse_gauge_mode reads (CLI::IsMember leaves nothing else through),
    // sorted as the help has always listed them.
    std::vector<std::string> names;
    for (std::uint8_t v = 0; v < metricsd::protocol::gauge_mode_count; ++v)
        names.emplace_back(metricsd::protocol::to_string(static_cast<metricsd::gauge_mode>(v)));
    std::sort(names.begin(), names.end());
    cmd->add_option("--mode", r.mode,
                    "Gauge mode (default shared). live* modes drop the value when metricsctl "
                    "exits: use shared, sum, max, min or mostrecent from scripts and cron jobs")
        ->check(CLI::IsMember(names));
}

void build_cli(CLI::App& app, settings& s, request& r) {
    app.fallthrough(); // global options may also follow the subcommand
    app.require_subcommand(1);
    app.set_version_flag("--version", METRICSD_VERSION);
    app.add_option("--socket", s.socket,
                   "metricsd's ingest socket (default $METRICSD_SOCKET, else "
                   "/run/metricsd/ingest.sock)");
    app.add_option("--timeout", s.timeout_s, "Seconds to wait for the daemon's ACK (default 5)")
        ->check(CLI::Validator(
            [](const std::string& text) {
                char* end = nullptr;
                const double v = std::strtod(text.c_str(), &end);
                return *end == '\0' && v > 0 && std::isfinite(v) ? std::string()
                                                                 : "must be a positive number";
            },
            "SECONDS"));
    app.add_flag("--no-wait", s.no_wait,
                 "Do not wait for the ACK nor report delivery problems (best effort)");
    app.footer("Exit status: 0 applied by the daemon, 2 usage error or invalid name/label/"
               "bucket, 3 daemon unreachable or no ACK in time, 4 rejected by the daemon "
               "(e.g. family_conflict), 1 other errors.");
    auto* counter = app.add_subcommand("counter", "Counter ops")->require_subcommand(1);
    add_verb(counter, "inc", "Add --value (default 1) to a counter", r, false);
    auto* gauge = app.add_subcommand("gauge", "Gauge ops (mode shared by default)");
    gauge->require_subcommand(1);
    add_gauge_mode(add_verb(gauge, "set", "Set a gauge to --value", r, true), r);
    add_gauge_mode(add_verb(gauge, "inc", "Add --value (default 1) to a gauge", r, false), r);
    add_gauge_mode(add_verb(gauge, "dec", "Subtract --value (default 1)", r, false), r);
    auto* histogram = app.add_subcommand("histogram", "Histogram ops")->require_subcommand(1);
    add_verb(histogram, "observe", "Record one observation", r, true)
        ->add_option("--buckets", r.buckets, "Bucket bounds, e.g. 0.1,1,10 (+Inf implicit)")
        ->delimiter(',')
        ->required();
    auto* summary = app.add_subcommand("summary", "Summary ops")->require_subcommand(1);
    add_verb(summary, "observe", "Record one observation", r, true);
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Send one metric op to the metricsd daemon and wait until it is applied.",
                 "metricsctl"};
    settings s;
    request r;
    build_cli(app, s, r);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) // --help, --version
            return app.exit(e);
        std::cerr << "metricsctl: " << e.what() << " (see metricsctl --help)\n";
        return exit_usage;
    }
    return run(s, r);
}

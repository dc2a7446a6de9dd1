// Who may read: the real daemon under an exporter-style web config (--web.config.file), scraped
// by curl over TLS (server certificate checked with --cacert; mutual TLS with a client
// certificate) and with basic auth, and by a real Prometheus with its own tls_config and
// basic_auth. Certificates are made by openssl at test time; bcrypt hashes by libcrypt.
#include "daemon_fixture.hpp"
#include "raw_client.hpp"

#include <gtest/gtest.h>

#include <crypt.h>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace metricsd::test {
namespace {

using protocol::metric_type;
using protocol::op_code;

/// A bcrypt ($2b$, cost 4: tests need no slow hash) hash of `password`.
std::string bcrypt(const std::string& password) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof salt))
        throw std::runtime_error("crypt_gensalt_rn failed");
    crypt_data data{};
    const char* hash = crypt_rn(password.c_str(), salt, &data, sizeof data);
    if (!hash)
        throw std::runtime_error("crypt_rn failed");
    return hash;
}

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, all signed by
/// the CA, written to `dir` as ca.pem, server.pem/server.key, client.pem/client.key; and a
/// self-signed other.pem/other.key no CA vouches for.
void make_certificates(const temp_dir& dir) {
    const std::string d = quoted(dir.path());
    const std::string script =
        "set -e; cd " + d + "\n" +
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
        "/CN=metricsd-test-ca "
        "-keyout ca.key -out ca.pem\n"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext\n"
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost "
        "-keyout server.key "
        "-out server.csr\n"
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
        "-extfile san.ext -out server.pem\n"
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=prometheus "
        "-keyout client.key "
        "-out client.csr\n"
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
        "-out client.pem\n"
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=stranger -keyout other.key -out other.pem\n";
    std::string out;
    if (run_command("sh -c " + quoted(script), out) != 0)
        throw std::runtime_error("openssl failed: " + out);
}

struct curl_result {
    int code = -1;
    std::string output;
};

/// curl `args` -sS, printing the status code last ("\n%{http_code}").
curl_result curl(const std::string& args) {
    curl_result r;
    r.code = run_command("curl -sS --max-time 10 -w '\\n%{http_code}' " + args, r.output);
    return r;
}

std::string https(int port, const std::string& path) {
    return quoted("https://localhost:" + std::to_string(port) + path);
}

class web_access : public ::testing::Test {
protected:
    void SetUp() override { make_certificates(dir); }

    /// Start the daemon with `web_config` (YAML) as its web config file, and some data.
    void start(const std::string& web_config, std::vector<std::string> extra = {}) {
        std::ofstream(dir.file("web.yml")) << web_config;
        extra.insert(extra.end(), {"--web.config.file", dir.file("web.yml")});
        daemon = std::make_unique<daemon_process>(dir, extra);
        raw_client c(daemon->socket_path());
        c.send(hello() + family(0, "jobs_total", metric_type::counter) + series(0, 0));
        c.send(ops(std::vector<protocol::op_record>(321, protocol::op_record{op_code::inc, 0, 1})));
        ASSERT_FALSE(c.sync(1).empty());
    }
    std::string tls_config(const std::string& extra = "") const {
        return "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n" + extra;
    }

    temp_dir dir;
    std::unique_ptr<daemon_process> daemon;
};

TEST_F(web_access, tls_scrape_checked_with_cacert_and_plain_http_refused) {
    start(tls_config("  min_version: TLS12\n") +
          "http_server_config:\n  headers:\n    X-Frame-Options: deny\n");
    auto r =
        curl("-i --cacert " + quoted(dir.file("ca.pem")) + " " + https(daemon->port(), "/metrics"));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(r.output.ends_with("\n200")) << r.output;
    EXPECT_NE(r.output.find("\njobs_total 321\n"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("X-Frame-Options: deny\r\n"), std::string::npos) << r.output;
    // Without the CA, curl cannot verify the server: exit 60.
    EXPECT_EQ(curl(https(daemon->port(), "/metrics")).code, 60);
    // Plain HTTP on the TLS port gets no metrics.
    const auto plain =
        curl(quoted("http://127.0.0.1:" + std::to_string(daemon->port()) + "/metrics"));
    EXPECT_EQ(plain.output.find("jobs_total"), std::string::npos) << plain.output;
}

TEST_F(web_access, mutual_tls_needs_a_client_certificate_from_the_ca) {
    start(tls_config("  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n"));
    const std::string ca = " --cacert " + quoted(dir.file("ca.pem"));
    auto r = curl(ca + " --cert " + quoted(dir.file("client.pem")) + " --key " +
                  quoted(dir.file("client.key")) + " " + https(daemon->port(), "/metrics"));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("\njobs_total 321\n"), std::string::npos) << r.output;
    // No client certificate: the handshake fails (curl 56 or 35 depending on TLS 1.3 timing).
    r = curl(ca + " " + https(daemon->port(), "/metrics"));
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_EQ(r.output.find("jobs_total"), std::string::npos) << r.output;
    // A certificate the CA did not sign: refused too.
    r = curl(ca + " --cert " + quoted(dir.file("other.pem")) + " --key " +
             quoted(dir.file("other.key")) + " " + https(daemon->port(), "/metrics"));
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_EQ(r.output.find("jobs_total"), std::string::npos) << r.output;
    r = curl(ca + " --cert " + quoted(dir.file("client.pem")) + " --key " +
             quoted(dir.file("client.key")) + " " + https(daemon->port(), "/metrics"));
    EXPECT_EQ(sample_value(r.output, "metricsd_http_tls_handshake_failures_total"), 2) << r.output;
}

TEST_F(web_access, basic_auth_wrong_password_401_right_one_200_healthz_open_by_option) {
    start(tls_config() + "basic_auth_users:\n  prom: " + bcrypt("s3cret") + "\n",
          {"--web.healthz", "open"});
    const std::string ca = "--cacert " + quoted(dir.file("ca.pem")) + " ";
    auto r = curl(ca + "-i -u prom:wrong " + https(daemon->port(), "/metrics"));
    EXPECT_TRUE(r.output.ends_with("\n401")) << r.output;
    EXPECT_NE(r.output.find("WWW-Authenticate: Basic\r\n"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("jobs_total"), std::string::npos) << r.output;
    r = curl(ca + https(daemon->port(), "/metrics"));
    EXPECT_TRUE(r.output.ends_with("\n401")) << r.output;
    r = curl(ca + "-u nobody:s3cret " + https(daemon->port(), "/metrics"));
    EXPECT_TRUE(r.output.ends_with("\n401")) << r.output;
    r = curl(ca + "-u prom:s3cret " + https(daemon->port(), "/metrics"));
    EXPECT_TRUE(r.output.ends_with("\n200")) << r.output;
    EXPECT_NE(r.output.find("\njobs_total 321\n"), std::string::npos) << r.output;
    EXPECT_EQ(sample_value(r.output, "metricsd_http_unauthorized_total"), 3) << r.output;
    r = curl(ca + https(daemon->port(), "/healthz"));
    EXPECT_TRUE(r.output.ends_with("\n200")) << r.output;
    r = curl(ca + https(daemon->port(), "/readyz"));
    EXPECT_TRUE(r.output.ends_with("\n401")) << r.output;
}

TEST_F(web_access, a_changed_file_applies_to_the_next_connection_and_a_broken_one_is_ignored) {
    start("basic_auth_users:\n  old: " + bcrypt("one") + "\n");
    const auto url = quoted("http://127.0.0.1:" + std::to_string(daemon->port()) + "/metrics");
    EXPECT_TRUE(curl("-u old:one " + url).output.ends_with("\n200"));
    {
        std::ofstream(dir.file("web.yml.new"))
            << "basic_auth_users:\n  new: " << bcrypt("two") << "\n";
    }
    std::rename(dir.file("web.yml.new").c_str(), dir.file("web.yml").c_str());
    EXPECT_TRUE(curl("-u old:one " + url).output.ends_with("\n401"));
    EXPECT_TRUE(curl("-u new:two " + url).output.ends_with("\n200"));
    { std::ofstream(dir.file("web.yml.new")) << "basic_auth_users: [not, a, mapping]\n"; }
    std::rename(dir.file("web.yml.new").c_str(), dir.file("web.yml").c_str());
    const auto r = curl("-u new:two " + url);
    EXPECT_TRUE(r.output.ends_with("\n200")) << r.output;
    EXPECT_EQ(sample_value(r.output, "metricsd_web_config_reload_failures_total"), 1) << r.output;
    daemon->process().wait_for_log("not reloaded, the previous one stays in force");
}

TEST_F(web_access, an_unusable_web_config_stops_the_start) {
    std::ofstream(dir.file("bad.yml")) << "tls_server_config:\n  cert_file: server.pem\n";
    std::string out;
    const int code =
        run_command(daemon_binary() + " --socket " + quoted(dir.file("s.sock")) +
                        " --listen 127.0.0.1:0 --web.config.file " + quoted(dir.file("bad.yml")),
                    out);
    EXPECT_EQ(code, 1) << out;
    EXPECT_NE(out.find("tls_server_config: cert_file and key_file go together"), std::string::npos)
        << out;
}

TEST_F(web_access, prometheus_scrapes_over_tls_with_basic_auth) {
    start(tls_config() + "basic_auth_users:\n  prom: " + bcrypt("s3cret") + "\n");
    const int prom_port = free_port();
    std::ofstream(dir.file("prometheus.yml"))
        << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        << "scrape_configs:\n  - job_name: metricsd\n    scheme: https\n"
        << "    tls_config:\n      ca_file: " << dir.file("ca.pem") << "\n"
        << "      server_name: localhost\n"
        << "    basic_auth:\n      username: prom\n      password: s3cret\n"
        << "    static_configs:\n      - targets: ['127.0.0.1:" << daemon->port() << "']\n";
    child_process prom({"prometheus", "--config.file=" + dir.file("prometheus.yml"),
                        "--storage.tsdb.path=" + dir.file("tsdb"),
                        "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
                       dir.file("prometheus.log"));
    const auto jobs = query_until(prom_port, "jobs_total", "\"321\"]");
    EXPECT_NE(jobs.find("\"321\"]"), std::string::npos) << jobs << "\n" << prom.log();
    const auto health = http_get(prom_port, "/api/v1/targets").body;
    EXPECT_NE(health.find("\"health\":\"up\""), std::string::npos) << health;
    EXPECT_NE(health.find("\"scrapeUrl\":\"https://127.0.0.1:"), std::string::npos) << health;
}

} // namespace
} // namespace metricsd::test

#include "daemon/web/web_config.hpp"

#include <gtest/gtest.h>

namespace metricsd::daemon {
namespace {

const std::string hash = "$2b$10$psLHrcoHb1zfp.41FsnukOLAz6D310tH7LbPblEIyvgd3uz.JRBCC";

std::string error_of(const std::string& yaml) {
    try {
        parse_web_config(yaml, "/etc/metricsd");
    } catch (const web_config_error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(web_config, the_exporter_toolkit_example_parses) {
    const auto s = parse_web_config("tls_server_config:\n"
                                    "  cert_file: server.crt\n"
                                    "  key_file: /keys/server.key\n"
                                    "  client_ca_file: ca.crt\n"
                                    "  client_auth_type: RequireAndVerifyClientCert\n"
                                    "  min_version: TLS13\n"
                                    "http_server_config:\n"
                                    "  http2: true\n"
                                    "  headers:\n"
                                    "    X-Frame-Options: deny\n"
                                    "    Strict-Transport-Security: max-age=31536000\n"
                                    "basic_auth_users:\n"
                                    "  prometheus: " +
                                        hash + "\n",
                                    "/etc/metricsd");
    EXPECT_EQ(s.tls.cert_file, "/etc/metricsd/server.crt");
    EXPECT_EQ(s.tls.key_file, "/keys/server.key");
    EXPECT_EQ(s.tls.client_ca_file, "/etc/metricsd/ca.crt");
    EXPECT_EQ(s.tls.auth, client_auth::require_and_verify);
    EXPECT_EQ(s.tls.min_version, tls_version::tls13);
    EXPECT_EQ(s.tls.max_version, tls_version::tls13);
    ASSERT_EQ(s.headers.size(), 2u);
    EXPECT_EQ(s.headers[0], (std::pair<std::string, std::string>{"X-Frame-Options", "deny"}));
    EXPECT_EQ(s.users.at("prometheus"), hash);
}

TEST(web_config, an_empty_file_means_plain_http_and_no_users) {
    const auto s = parse_web_config("", "/x");
    EXPECT_FALSE(s.tls.enabled());
    EXPECT_TRUE(s.users.empty());
}

TEST(web_config, what_exporter_toolkit_refuses_is_refused_with_the_key) {
    EXPECT_EQ(error_of("tls_server_config:\n  cert_file: a\n"),
              "tls_server_config: cert_file and key_file go together");
    EXPECT_EQ(error_of("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n"),
              "tls_server_config.client_ca_file: client CAs configured without a "
              "client_auth_type (as exporter-toolkit refuses)");
    EXPECT_EQ(error_of("tls_server_config:\n  cert_file: a\n  key_file: b\n"
                       "  client_auth_type: Sometimes\n"),
              "tls_server_config.client_auth_type: \"Sometimes\" is not one of NoClientCert, "
              "RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, "
              "RequireAndVerifyClientCert");
    EXPECT_EQ(error_of("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n"),
              "tls_server_config.min_version: \"TLS14\" is not one of TLS10, TLS11, TLS12, TLS13");
    EXPECT_EQ(error_of("basic_auth_users:\n  bob: secret\n"),
              "basic_auth_users.bob: expected a bcrypt hash ($2y$10$...)");
    EXPECT_EQ(error_of("http_server_config:\n  headers:\n    X-Powered-By: me\n"),
              "http_server_config.headers.X-Powered-By: this header can not be configured");
    EXPECT_EQ(error_of("http_server_config:\n  headers:\n    X-Frame-Options: allow\n"),
              "http_server_config.headers.X-Frame-Options: expected \"deny\" or \"sameorigin\"");
    EXPECT_EQ(error_of("rate_limit:\n  burst: 1\n"),
              "rate_limit: not supported by metricsd (supported: tls_server_config, "
              "basic_auth_users, http_server_config)");
    EXPECT_EQ(error_of("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n"),
              "tls_server_config.cipher_suites: not supported by metricsd (supported: cert_file, "
              "key_file, client_ca_file, client_auth_type, min_version, max_version)");
    EXPECT_EQ(error_of("[1, 2]"), "expected a mapping at the top level");
}

} // namespace
} // namespace metricsd::daemon

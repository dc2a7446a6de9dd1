#include "daemon/web/web_config.hpp"

#include <algorithm>
#include <array>
#include <yaml-cpp/yaml.h>

namespace metricsd::daemon {

namespace {

[[noreturn]] void fail(const std::string& key, const std::string& what) {
    throw web_config_error(key + ": " + what);
}

std::string text(const YAML::Node& n, const std::string& key) {
    if (!n.IsScalar())
        fail(key, "expected a string");
    return n.as<std::string>();
}

std::string path_in(const std::string& dir, std::string p) {
    if (p.empty() || p.front() == '/' || dir.empty())
        return p;
    return dir + "/" + p;
}

client_auth parse_client_auth(const std::string& v) {
    if (v.empty() || v == "NoClientCert")
        return client_auth::none;
    if (v == "RequestClientCert")
        return client_auth::request;
    if (v == "RequireAnyClientCert" || v == "RequireClientCert")
        return client_auth::require_any;
    if (v == "VerifyClientCertIfGiven")
        return client_auth::verify_if_given;
    if (v == "RequireAndVerifyClientCert")
        return client_auth::require_and_verify;
    fail("tls_server_config.client_auth_type",
         "\"" + v +
             "\" is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, "
             "VerifyClientCertIfGiven, RequireAndVerifyClientCert");
}

tls_version parse_version(const std::string& key, const std::string& v) {
    static constexpr std::array<std::pair<std::string_view, tls_version>, 4> names{{
        {"TLS10", tls_version::tls10},
        {"TLS11", tls_version::tls11},
        {"TLS12", tls_version::tls12},
        {"TLS13", tls_version::tls13},
    }};
    for (const auto& [name, version] : names)
        if (name == v)
            return version;
    fail(key, "\"" + v + "\" is not one of TLS10, TLS11, TLS12, TLS13");
}

/// exporter-toolkit's list: only these headers, and for two of them only these values.
void check_header(const std::string& name, const std::string& value) {
    if (name == "X-Content-Type-Options") {
        if (value != "nosniff")
            fail("http_server_config.headers." + name, "expected \"nosniff\"");
        return;
    }
    if (name == "X-Frame-Options") {
        if (value != "deny" && value != "sameorigin")
            fail("http_server_config.headers." + name, "expected \"deny\" or \"sameorigin\"");
        return;
    }
    if (name == "Strict-Transport-Security" || name == "X-XSS-Protection" ||
        name == "Content-Security-Policy") {
        if (value.find_first_of("\r\n") != std::string::npos)
            fail("http_server_config.headers." + name, "a value must be one line");
        return;
    }
    fail("http_server_config.headers." + name, "this header can not be configured");
}

bool is_bcrypt(std::string_view hash) {
    // $2a$, $2b$ or $2y$, a two-digit cost, '$', 53 characters of salt and hash.
    return hash.size() == 60 && hash[0] == '$' && hash[1] == '2' &&
           (hash[2] == 'a' || hash[2] == 'b' || hash[2] == 'y') && hash[3] == '$' &&
           hash[4] >= '0' && hash[4] <= '3' && hash[5] >= '0' && hash[5] <= '9' && hash[6] == '$';
}

void parse_tls(const YAML::Node& node, const std::string& dir, tls_server_settings& tls) {
    if (!node.IsMap())
        fail("tls_server_config", "expected a mapping");
    std::string auth;
    for (const auto& kv : node) {
        const auto key = kv.first.as<std::string>();
        const std::string at = "tls_server_config." + key;
        const YAML::Node& v = kv.second;
        if (key == "cert_file")
            tls.cert_file = path_in(dir, text(v, at));
        else if (key == "key_file")
            tls.key_file = path_in(dir, text(v, at));
        else if (key == "client_ca_file")
            tls.client_ca_file = path_in(dir, text(v, at));
        else if (key == "client_auth_type")
            auth = text(v, at);
        else if (key == "min_version")
            tls.min_version = parse_version(at, text(v, at));
        else if (key == "max_version")
            tls.max_version = parse_version(at, text(v, at));
        else if (key == "prefer_server_cipher_suites")
            (void)v.as<bool>(); // OpenSSL's server preference is always on
        else
            fail(at, "not supported by metricsd (supported: cert_file, key_file, "
                     "client_ca_file, client_auth_type, min_version, max_version)");
    }
    tls.auth = parse_client_auth(auth);
    if (tls.cert_file.empty() != tls.key_file.empty())
        fail("tls_server_config", "cert_file and key_file go together");
    if (!tls.enabled() && (tls.auth != client_auth::none || !tls.client_ca_file.empty()))
        fail("tls_server_config", "client certificates need cert_file and key_file");
    if (!tls.client_ca_file.empty() && tls.auth == client_auth::none)
        fail("tls_server_config.client_ca_file",
             "client CAs configured without a client_auth_type (as exporter-toolkit refuses)");
    if ((tls.auth == client_auth::verify_if_given || tls.auth == client_auth::require_and_verify) &&
        tls.client_ca_file.empty())
        fail("tls_server_config.client_auth_type", "verifying client certificates needs "
                                                   "client_ca_file");
    if (tls.min_version > tls.max_version)
        fail("tls_server_config.min_version", "above max_version");
}

} // namespace

web_settings parse_web_config(std::string_view yaml, const std::string& dir) {
    web_settings s;
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
        throw web_config_error(std::string("not valid YAML: ") + e.what());
    }
    if (root.IsNull())
        return s; // an empty file: plain HTTP, no authentication (as exporter-toolkit)
    if (!root.IsMap())
        throw web_config_error("expected a mapping at the top level");
    try {
        for (const auto& kv : root) {
            const auto key = kv.first.as<std::string>();
            const YAML::Node& v = kv.second;
            if (key == "tls_server_config") {
                if (!v.IsNull())
                    parse_tls(v, dir, s.tls);
            } else if (key == "basic_auth_users") {
                if (v.IsNull())
                    continue;
                if (!v.IsMap())
                    fail(key, "expected a mapping of user names to bcrypt hashes");
                for (const auto& user : v) {
                    const auto name = user.first.as<std::string>();
                    const auto hash = text(user.second, key + "." + name);
                    if (!is_bcrypt(hash))
                        fail(key + "." + name, "expected a bcrypt hash ($2y$10$...)");
                    if (name.find(':') != std::string::npos)
                        fail(key + "." + name, "a user name cannot hold ':'");
                    s.users.emplace(name, hash);
                }
            } else if (key == "http_server_config") {
                if (v.IsNull())
                    continue;
                if (!v.IsMap())
                    fail(key, "expected a mapping");
                for (const auto& item : v) {
                    const auto sub = item.first.as<std::string>();
                    if (sub == "http2") {
                        (void)item.second.as<bool>(); // HTTP/1.1 only: nothing to turn off
                    } else if (sub == "headers") {
                        for (const auto& h : item.second) {
                            const auto name = h.first.as<std::string>();
                            const auto value = text(h.second, key + ".headers." + name);
                            check_header(name, value);
                            s.headers.emplace_back(name, value);
                        }
                    } else {
                        fail(key + "." + sub, "not supported (supported: headers, http2)");
                    }
                }
            } else {
                fail(key, "not supported by metricsd (supported: tls_server_config, "
                          "basic_auth_users, http_server_config)");
            }
        }
    } catch (const YAML::Exception& e) {
        throw web_config_error(std::string("unexpected value: ") + e.what());
    }
    return s;
}

} // namespace metricsd::daemon

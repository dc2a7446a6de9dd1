// The exporter-style web config file (the YAML that Prometheus exporters take through
// exporter-toolkit's --web.config.file): TLS for the HTTP endpoint, basic auth users with bcrypt
// hashes, and extra response headers. Parsing and validation only; files named in it are read
// by the HTTP layer. Pure (yaml-cpp only).
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsd::daemon {

/// A web config that cannot be used; what() names the key and what is expected.
class web_config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// tls_server_config.client_auth_type, with exporter-toolkit's names.
enum class client_auth : std::uint8_t {
    none,               ///< NoClientCert (also "")
    request,            ///< RequestClientCert: asked for, not verified
    require_any,        ///< RequireAnyClientCert (RequireClientCert): required, not verified
    verify_if_given,    ///< VerifyClientCertIfGiven
    require_and_verify, ///< RequireAndVerifyClientCert: mutual TLS
};

/// TLS protocol versions as the file names them (TLS10 .. TLS13).
enum class tls_version : std::uint8_t { tls10, tls11, tls12, tls13 };

struct tls_server_settings {
    std::string cert_file;      ///< PEM certificate chain; relative paths: from the file's dir
    std::string key_file;       ///< PEM private key
    std::string client_ca_file; ///< PEM CAs client certificates must chain to
    client_auth auth = client_auth::none;
    tls_version min_version = tls_version::tls12; ///< exporter-toolkit's defaults
    tls_version max_version = tls_version::tls13;

    bool enabled() const noexcept { return !cert_file.empty(); }
};

struct web_settings {
    tls_server_settings tls;
    /// basic_auth_users: user -> bcrypt hash. Empty: no authentication.
    std::map<std::string, std::string, std::less<>> users;
    /// http_server_config.headers, added to every response.
    std::vector<std::pair<std::string, std::string>> headers;
};

/// Parse the file's text. `dir` is the file's directory (relative paths are resolved against
/// it, as exporter-toolkit does). Unknown keys are errors, as with exporter-toolkit's strict
/// parsing: a security setting we do not implement must not be silently ignored.
web_settings parse_web_config(std::string_view yaml, const std::string& dir);

} // namespace metricsd::daemon

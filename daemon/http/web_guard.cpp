#include "daemon/http/web_guard.hpp"

#include "daemon/net/tls.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <openssl/ssl.h>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>

namespace metricsd::daemon {

namespace {

int openssl_version(tls_version v) {
    switch (v) {
    case tls_version::tls10:
        return TLS1_VERSION;
    case tls_version::tls11:
        return TLS1_1_VERSION;
    case tls_version::tls12:
        return TLS1_2_VERSION;
    case tls_version::tls13:
        break;
    }
    return TLS1_3_VERSION;
}

std::shared_ptr<ssl::context> make_tls_context(const tls_server_settings& t) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    if (SSL_CTX_set_min_proto_version(native, openssl_version(t.min_version)) != 1 ||
        SSL_CTX_set_max_proto_version(native, openssl_version(t.max_version)) != 1)
        throw std::runtime_error("cannot set the TLS versions");
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                     ssl::context::single_dh_use);
    SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
    beast::error_code ec;
    ctx->use_certificate_chain_file(t.cert_file, ec);
    if (ec)
        throw std::runtime_error("cert_file " + t.cert_file + ": " + ec.message());
    ctx->use_private_key_file(t.key_file, ssl::context::pem, ec);
    if (ec)
        throw std::runtime_error("key_file " + t.key_file + ": " + ec.message());
    if (SSL_CTX_check_private_key(native) != 1)
        throw std::runtime_error("key_file " + t.key_file + " does not match cert_file " +
                                 t.cert_file);
    if (!t.client_ca_file.empty()) {
        ctx->load_verify_file(t.client_ca_file, ec);
        if (ec)
            throw std::runtime_error("client_ca_file " + t.client_ca_file + ": " + ec.message());
        // Tell clients which CAs we accept, so they pick the right certificate.
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(t.client_ca_file.c_str()))
            SSL_CTX_set_client_CA_list(native, names);
    }
    const auto accept_any = [](bool, ssl::verify_context&) { return true; };
    switch (t.auth) {
    case client_auth::none:
        ctx->set_verify_mode(ssl::verify_none);
        break;
    case client_auth::request: // asked for, never verified (exporter-toolkit's meaning)
        ctx->set_verify_mode(ssl::verify_peer);
        ctx->set_verify_callback(accept_any);
        break;
    case client_auth::require_any:
        ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        ctx->set_verify_callback(accept_any);
        break;
    case client_auth::verify_if_given:
        ctx->set_verify_mode(ssl::verify_peer);
        break;
    case client_auth::require_and_verify:
        ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        break;
    }
    return ctx;
}

} // namespace

web_guard::web_guard(std::string path, bool healthz_open)
    : path_(std::move(path)), healthz_open_(healthz_open) {
    if (path_.empty())
        return;
    try {
        load();
    } catch (const std::exception& e) {
        throw std::runtime_error("web config " + path_ + ": " + e.what());
    }
    spdlog::info("web config {}: {}, {} basic auth user(s)", path_, tls_ ? "TLS" : "plain HTTP",
                 settings_.users.size());
}

web_guard::~web_guard() = default;

void web_guard::load() {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0)
        throw std::runtime_error(std::string("cannot stat: ") + std::strerror(errno));
    std::ifstream in(path_);
    if (!in)
        throw std::runtime_error("cannot read the file");
    std::ostringstream text;
    text << in.rdbuf();
    const auto slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash);
    web_settings parsed = parse_web_config(text.str(), dir);
    std::shared_ptr<ssl::context> tls;
    if (parsed.tls.enabled())
        tls = make_tls_context(parsed.tls);
    seen_ = {st.st_size, st.st_mtim.tv_sec * 1'000'000'000 + st.st_mtim.tv_nsec,
             static_cast<std::int64_t>(st.st_ino)};
    auth_ = basic_auth(parsed.users);
    tls_ = std::move(tls);
    settings_ = std::move(parsed);
}

bool web_guard::reload() {
    if (path_.empty())
        return true;
    try {
        load();
    } catch (const std::exception& e) {
        ++stats_.reload_failures;
        spdlog::error("web config {} not reloaded, the previous one stays in force: {}", path_,
                      e.what());
        return false;
    }
    ++stats_.reloads;
    spdlog::info("web config {} reloaded: {}, {} basic auth user(s)", path_,
                 tls_ ? "TLS" : "plain HTTP", settings_.users.size());
    return true;
}

void web_guard::reload_if_changed() {
    if (path_.empty())
        return;
    struct stat st {};
    file_id now;
    if (::stat(path_.c_str(), &st) == 0)
        now = {st.st_size, st.st_mtim.tv_sec * 1'000'000'000 + st.st_mtim.tv_nsec,
               static_cast<std::int64_t>(st.st_ino)};
    if (now == seen_)
        return;
    if (!reload())
        seen_ = now; // one error log per change of the file, not one per connection
}

basic_auth::verdict web_guard::authorize(std::string_view path, std::string_view authorization) {
    if (healthz_open_ && path == "/healthz")
        return basic_auth::verdict::allowed;
    const auto v = auth_.check(authorization);
    if (v == basic_auth::verdict::throttled)
        ++stats_.throttled;
    if (v != basic_auth::verdict::allowed)
        ++stats_.unauthorized;
    return v;
}

void web_guard::decorate(http::fields& fields) const {
    for (const auto& [name, value] : settings_.headers)
        fields.set(name, value);
}

} // namespace metricsd::daemon

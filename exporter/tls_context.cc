#include "exporter/tls_context.h"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>
#include <string_view>

namespace tdpwatch::exporter {
namespace {

std::string openssl_reason() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out = buf;  // the last is the outermost reason
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// RequestClientCert and RequireAnyClientCert ask for a certificate but do
// not verify it (Go's tls.RequestClientCert / RequireAnyClientCert).
int accept_any(int, X509_STORE_CTX*) {
  return 1;
}

int on_client_hello(SSL* ssl, int*, void* arg) {
  const SslCtx current = static_cast<TlsSwitch*>(arg)->current();
  if (!current) return SSL_CLIENT_HELLO_ERROR;
  SSL_CTX* ctx = current.get();
  if (SSL_get_SSL_CTX(ssl) != ctx && SSL_set_SSL_CTX(ssl, ctx) == nullptr) {
    return SSL_CLIENT_HELLO_ERROR;
  }
  // SSL_set_SSL_CTX moves the certificate and the verify store, not what
  // SSL_new copied from the first context: copy those too.
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
  SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
  SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx));
  SSL_clear_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_set_options(ssl, SSL_CTX_get_options(ctx));
  if (STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx)) {
    std::string list;
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
      list += (i ? ":" : "") + std::string(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(ciphers, i)));
    }
    if (!list.empty()) SSL_set_cipher_list(ssl, list.c_str());
  }
  if (STACK_OF(X509_NAME)* cas = SSL_CTX_get_client_CA_list(ctx)) {
    SSL_set_client_CA_list(ssl, SSL_dup_CA_list(cas));
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

}  // namespace

Result<SslCtx> make_tls_context(const TlsServerConfig& c) {
  ERR_clear_error();
  SslCtx ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return Error{"TLS: " + openssl_reason()};
  SSL_CTX* s = ctx.get();
  if (SSL_CTX_use_certificate_chain_file(s, c.cert_file.c_str()) != 1) {
    return Error{"cert_file " + c.cert_file + ": " + openssl_reason()};
  }
  if (SSL_CTX_use_PrivateKey_file(s, c.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Error{"key_file " + c.key_file + ": " + openssl_reason()};
  }
  if (SSL_CTX_check_private_key(s) != 1) {
    return Error{"key_file " + c.key_file + " does not match cert_file " + c.cert_file};
  }
  if (!c.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(s, c.client_ca_file.c_str(), nullptr) != 1) {
      return Error{"client_ca_file " + c.client_ca_file + ": " + openssl_reason()};
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(c.client_ca_file.c_str());
    if (names == nullptr) {
      return Error{"client_ca_file " + c.client_ca_file + ": no certificate in it"};
    }
    SSL_CTX_set_client_CA_list(s, names);
  }
  switch (c.client_auth) {
    case ClientAuth::kNoClientCert: SSL_CTX_set_verify(s, SSL_VERIFY_NONE, nullptr); break;
    case ClientAuth::kRequestClientCert: SSL_CTX_set_verify(s, SSL_VERIFY_PEER, accept_any); break;
    case ClientAuth::kRequireAnyClientCert:
      SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
      break;
    case ClientAuth::kVerifyClientCertIfGiven: SSL_CTX_set_verify(s, SSL_VERIFY_PEER, nullptr); break;
    case ClientAuth::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  if (SSL_CTX_set_min_proto_version(s, c.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(s, c.max_version) != 1) {
    return Error{"min_version/max_version: " + openssl_reason()};
  }
  if (!c.cipher_suites.empty()) {
    std::string list;
    for (const auto& name : c.cipher_suites) list += (list.empty() ? "" : ":") + name;
    if (SSL_CTX_set_cipher_list(s, list.c_str()) != 1) {
      return Error{"cipher_suites: none usable here: " + openssl_reason()};
    }
  }
  if (c.prefer_server_cipher_suites) SSL_CTX_set_options(s, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // No session resumption across a certificate change; scrapes are cheap.
  SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(s, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  return ctx;
}

Result<void> tls_library_available() {
  for (const char* lib : {"libssl.so", "libcrypto.so"}) {
    void* h = ::dlopen(lib, RTLD_LAZY);
    if (h == nullptr) {
      return Error{std::string("TLS: civetweb loads ") + lib +
                   " by that name and none is found: tdpwatchd's own is installed in "
                   "/usr/lib/tdpwatch by the package (reinstall it)"};
    }
    const bool compat = std::string_view(lib) != "libssl.so" ||
                        ::dlsym(h, "SSL_get_peer_certificate") != nullptr;
    ::dlclose(h);
    if (!compat) {
      return Error{"TLS: the libssl.so found lacks SSL_get_peer_certificate (OpenSSL 3's, not "
                   "tdpwatchd's /usr/lib/tdpwatch one): civetweb would crash on the first TLS "
                   "connection"};
    }
  }
  return {};
}

TlsSwitch::TlsSwitch(SslCtx first) : base_(first), current_(std::move(first)) {
  SSL_CTX_set_client_hello_cb(base_.get(), on_client_hello, this);
}

void TlsSwitch::set(SslCtx current) {
  std::lock_guard lock(mu_);
  current_ = std::move(current);
}

SslCtx TlsSwitch::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

}  // namespace tdpwatch::exporter

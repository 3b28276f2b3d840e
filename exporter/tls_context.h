// The web endpoint's TLS (--web.config.file tls_server_config), with the
// OpenSSL 3 tdpwatchd links.  civetweb 1.15 (Debian) loads libssl itself
// with dlopen("libssl.so"): tdpwatch's own libssl.so answers
// (exporter/civetweb_libssl/ssl_compat.c: the OpenSSL 1.1 name civetweb
// needs, over the real libssl.so.3, the library we link).  civetweb is
// handed our SSL_CTX through its external_ssl_ctx callback, so every
// setting is ours.
//
// Certificates are re-read without a restart as exporter-toolkit does
// (GetConfigForClient in web/tls_config.go): TlsSwitch holds the current
// SSL_CTX, and the ClientHello callback of every connection moves it onto
// that one (SSL_set_SSL_CTX) with its verify mode, versions and ciphers.
//
// Thread safety: TlsSwitch::set() and the callback (civetweb's worker
// threads) may run concurrently; the current context is swapped under a
// mutex and kept alive by the connections that use it (SSL_CTX refcount).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "daemon/common/result.h"
#include "exporter/web_config.h"

struct ssl_ctx_st;

namespace tdpwatch::exporter {

using SslCtx = std::shared_ptr<ssl_ctx_st>;

// A server SSL_CTX from the config: certificate chain and key (checked to
// match), client verification, versions, TLS 1.2 ciphers.  One-line errors
// naming the file and OpenSSL's reason.
Result<SslCtx> make_tls_context(const TlsServerConfig& config);

// Whether civetweb will be able to load TLS: dlopen("libssl.so") and
// ("libcrypto.so") as it does, and the libssl.so found is tdpwatch's (it has
// SSL_get_peer_certificate).  Error: what is missing.
Result<void> tls_library_available();

class TlsSwitch {
 public:
  explicit TlsSwitch(SslCtx first);
  // The context civetweb is given; it never frees it (external_ssl_ctx).
  ssl_ctx_st* base() const { return base_.get(); }
  void set(SslCtx current);
  SslCtx current() const;

 private:
  SslCtx base_;
  mutable std::mutex mu_;
  SslCtx current_;
};

}  // namespace tdpwatch::exporter

/*
 * A libssl.so for civetweb 1.15 as Debian 12 builds it (SSL_DL): civetweb
 * dlopen()s "libssl.so" and "libcrypto.so" by those names and dlsym()s the
 * OpenSSL 1.1 API, including SSL_get_peer_certificate, which OpenSSL 3 only
 * has as a macro for SSL_get1_peer_certificate (same reference counting: the
 * caller frees the X509).  Without it the symbol is NULL and civetweb calls
 * it on every TLS connection, right after the handshake: a crash.
 *
 * This library defines that one name and depends on the real libssl.so.3,
 * so dlsym() on its handle finds every other function there.  It lives in
 * tdpwatch's private library directory (/usr/lib/tdpwatch), next to a
 * libcrypto.so link, on tdpwatchd's DT_RPATH, which glibc searches for a
 * dlopen() made by a library without a RUNPATH of its own (libcivetweb.so.1).
 * It also spares hosts libssl-dev, the only package with those unversioned
 * names.  exporter/tls_context.h.
 */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate(const SSL *s);

X509 *SSL_get_peer_certificate(const SSL *s)
{
	return SSL_get1_peer_certificate(s);
}

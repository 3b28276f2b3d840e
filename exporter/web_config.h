// --web.config.file: the web endpoint's TLS, HTTP headers and basic auth, in
// Prometheus exporter-toolkit's format (docs/web-configuration.md of
// prometheus/exporter-toolkit), so that one file serves node_exporter and
// tdpwatchd alike and `promtool check web-config` accepts it:
//
//   tls_server_config:
//     cert_file: server.crt          # relative paths: to the file's directory
//     key_file: server.key
//     client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
//     client_ca_file: ca.crt
//     min_version: TLS12             # TLS10..TLS13, default TLS12
//     max_version: TLS13
//     cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]   # TLS 1.2 only
//     prefer_server_cipher_suites: true
//   http_server_config:
//     http2: true                    # accepted; civetweb speaks HTTP/1.1
//     headers: {X-Frame-Options: deny}
//   basic_auth_users:
//     alice: $2y$10$...              # bcrypt
//
// As upstream: unknown keys are errors (yaml.UnmarshalStrict), only the
// security headers upstream allows can be set, cert_file and key_file come
// together.  parse_web_config() is pure (no I/O: tests/fuzz calls it);
// load_web_config() reads the file and checks that the certificates load.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/common/result.h"

namespace tdpwatch::exporter {

// exporter-toolkit's client_auth_type values (Go's tls.ClientAuthType).
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,
  kRequireAnyClientCert,
  kVerifyClientCertIfGiven,
  kRequireAndVerifyClientCert,
};

struct TlsServerConfig {
  std::string cert_file;  // absolute (made so against the config's directory)
  std::string key_file;
  std::string client_ca_file;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  int min_version = 0x0303;  // TLS1_2_VERSION, exporter-toolkit's default
  int max_version = 0;       // 0: the library's newest
  std::vector<std::string> cipher_suites;  // OpenSSL names (TLS 1.2); empty: OpenSSL's
  bool prefer_server_cipher_suites = true;
};

struct WebSecurityConfig {
  std::optional<TlsServerConfig> tls;  // nullopt: plain HTTP
  std::vector<std::pair<std::string, std::string>> headers;
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash
  bool empty() const { return !tls && headers.empty() && basic_auth_users.empty(); }
};

// The YAML text of a web config; relative file names are resolved against
// base_dir.  Never throws; errors are one line naming the key.
Result<WebSecurityConfig> parse_web_config(std::string_view yaml, const std::string& base_dir);

// Reads and parses `path`, then loads the certificate, key and CA files
// (tls_context.h) so that a bad one is reported now: "FILE: what".
Result<WebSecurityConfig> load_web_config(const std::string& path);

}  // namespace tdpwatch::exporter

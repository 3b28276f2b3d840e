#include "exporter/web_config.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "exporter/tls_context.h"

namespace tdpwatch::exporter {
namespace {

// exporter-toolkit web/tls_config.go: tlsVersions and the cipher suites Go
// offers for TLS 1.2 (crypto/tls CipherSuites(), ECDHE with AEAD or CBC),
// by their IANA names, mapped to OpenSSL's.  TLS 1.3 suites are not
// configurable there either.
constexpr std::array<std::pair<std::string_view, int>, 4> kVersions = {{
    {"TLS10", 0x0301}, {"TLS11", 0x0302}, {"TLS12", 0x0303}, {"TLS13", 0x0304}}};
constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kCiphers = {{
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"}}};
constexpr std::array<std::pair<std::string_view, ClientAuth>, 5> kClientAuth = {{
    {"NoClientCert", ClientAuth::kNoClientCert},
    {"RequestClientCert", ClientAuth::kRequestClientCert},
    {"RequireAnyClientCert", ClientAuth::kRequireAnyClientCert},
    {"VerifyClientCertIfGiven", ClientAuth::kVerifyClientCertIfGiven},
    {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerifyClientCert}}};
// exporter-toolkit web/handler.go, extraHTTPHeaders.
const std::set<std::string, std::less<>> kAllowedHeaders = {
    "Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options",
    "X-XSS-Protection", "Content-Security-Policy"};

std::string where(const YAML::Node& n) {
  return n.Mark().is_null() ? "" : "line " + std::to_string(n.Mark().line + 1) + ": ";
}

Error bad(const YAML::Node& n, const std::string& what) {
  return Error{where(n) + what};
}

// Unknown keys are errors, as yaml.UnmarshalStrict makes them upstream.
std::optional<Error> only_keys(const YAML::Node& map, const std::string& section,
                               std::initializer_list<std::string_view> keys) {
  for (const auto& kv : map) {
    const std::string k = kv.first.as<std::string>();
    bool known = false;
    for (const auto key : keys) known = known || key == k;
    if (!known) return bad(kv.first, "unknown key " + section + k);
  }
  return std::nullopt;
}

std::string resolve(const std::string& base_dir, const std::string& file) {
  if (file.empty() || file.front() == '/' || base_dir.empty()) return file;
  return base_dir + "/" + file;
}

Result<std::string> scalar(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) return bad(n, key + ": expected a string");
  return n.as<std::string>();
}

Result<TlsServerConfig> parse_tls(const YAML::Node& node, const std::string& base_dir) {
  TlsServerConfig tls;
  if (!node.IsMap()) return bad(node, "tls_server_config: expected a mapping");
  if (auto e = only_keys(node, "tls_server_config.",
                         {"cert_file", "key_file", "client_auth_type", "client_ca_file",
                          "min_version", "max_version", "cipher_suites",
                          "prefer_server_cipher_suites", "curve_preferences",
                          "client_allowed_sans", "cert", "key", "client_ca"})) {
    return *e;
  }
  for (const char* inline_pem : {"cert", "key", "client_ca"}) {
    if (node[inline_pem]) {
      return bad(node[inline_pem], std::string("tls_server_config.") + inline_pem +
                                       ": inline PEM is not supported by tdpwatchd; use " +
                                       inline_pem + "_file");
    }
  }
  if (node["curve_preferences"] || node["client_allowed_sans"]) {
    const auto& n = node["curve_preferences"] ? node["curve_preferences"] : node["client_allowed_sans"];
    return bad(n, "tls_server_config: curve_preferences and client_allowed_sans are not "
                  "supported by tdpwatchd");
  }
  for (const auto& [key, out] : {std::pair{"cert_file", &tls.cert_file},
                                 std::pair{"key_file", &tls.key_file},
                                 std::pair{"client_ca_file", &tls.client_ca_file}}) {
    if (!node[key]) continue;
    auto v = scalar(node[key], std::string("tls_server_config.") + key);
    if (!v) return v.error();
    *out = resolve(base_dir, *v);
  }
  // exporter-toolkit: "missing cert_file" / "missing key_file".
  if (tls.cert_file.empty()) return Error{"tls_server_config: missing cert_file"};
  if (tls.key_file.empty()) return Error{"tls_server_config: missing key_file"};
  if (const auto& n = node["client_auth_type"]) {
    auto v = scalar(n, "tls_server_config.client_auth_type");
    if (!v) return v.error();
    bool found = false;
    for (const auto& [name, value] : kClientAuth) {
      if (name == *v) tls.client_auth = value, found = true;
    }
    if (!found) {
      return bad(n, "tls_server_config.client_auth_type: " + *v +
                        " is none of NoClientCert, RequestClientCert, RequireAnyClientCert, "
                        "VerifyClientCertIfGiven, RequireAndVerifyClientCert");
    }
  }
  const bool verifies = tls.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                        tls.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  if (verifies && tls.client_ca_file.empty()) {
    return Error{"tls_server_config: client_auth_type verifies client certificates but "
                 "client_ca_file is missing"};
  }
  if (!tls.client_ca_file.empty() && tls.client_auth == ClientAuth::kNoClientCert) {
    // exporter-toolkit: "Client CA's have been configured without a Client Auth Policy".
    return Error{"tls_server_config: client_ca_file is set but client_auth_type is "
                 "NoClientCert (set RequireAndVerifyClientCert or VerifyClientCertIfGiven)"};
  }
  for (const auto& [key, out] : {std::pair{"min_version", &tls.min_version},
                                 std::pair{"max_version", &tls.max_version}}) {
    const auto& n = node[key];
    if (!n) continue;
    auto v = scalar(n, std::string("tls_server_config.") + key);
    if (!v) return v.error();
    bool found = false;
    for (const auto& [name, value] : kVersions) {
      if (name == *v) *out = value, found = true;
    }
    if (!found) return bad(n, std::string("tls_server_config.") + key + ": unknown TLS version " + *v + " (TLS10, TLS11, TLS12 or TLS13)");
  }
  if (tls.max_version != 0 && tls.max_version < tls.min_version) {
    return Error{"tls_server_config: max_version is below min_version"};
  }
  if (const auto& n = node["cipher_suites"]) {
    if (!n.IsSequence()) return bad(n, "tls_server_config.cipher_suites: expected a list");
    for (const auto& c : n) {
      auto v = scalar(c, "tls_server_config.cipher_suites");
      if (!v) return v.error();
      bool found = false;
      for (const auto& [go, openssl] : kCiphers) {
        if (go == *v) tls.cipher_suites.emplace_back(openssl), found = true;
      }
      if (!found) return bad(c, "tls_server_config.cipher_suites: unknown or unsupported cipher suite " + *v);
    }
  }
  if (const auto& n = node["prefer_server_cipher_suites"]) {
    if (!n.IsScalar()) return bad(n, "tls_server_config.prefer_server_cipher_suites: expected true or false");
    tls.prefer_server_cipher_suites = n.as<bool>();
  }
  return tls;
}

Result<WebSecurityConfig> parse(const YAML::Node& root, const std::string& base_dir) {
  WebSecurityConfig c;
  if (root.IsNull()) return c;  // an empty file: plain HTTP, no auth
  if (!root.IsMap()) return bad(root, "expected a mapping at the top");
  if (auto e = only_keys(root, "", {"tls_server_config", "http_server_config", "basic_auth_users"})) {
    return *e;
  }
  if (const auto& n = root["tls_server_config"]; n && !n.IsNull()) {
    auto tls = parse_tls(n, base_dir);
    if (!tls) return tls.error();
    c.tls = std::move(*tls);
  }
  if (const auto& n = root["http_server_config"]; n && !n.IsNull()) {
    if (!n.IsMap()) return bad(n, "http_server_config: expected a mapping");
    if (auto e = only_keys(n, "http_server_config.", {"http2", "headers"})) return *e;
    if (const auto& h = n["headers"]; h && !h.IsNull()) {
      if (!h.IsMap()) return bad(h, "http_server_config.headers: expected a mapping");
      for (const auto& kv : h) {
        const std::string name = kv.first.as<std::string>();
        if (!kAllowedHeaders.contains(name)) {
          return bad(kv.first, "http_server_config.headers: " + name +
                                   " cannot be set (only Strict-Transport-Security, "
                                   "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
                                   "Content-Security-Policy, as exporter-toolkit)");
        }
        auto v = scalar(kv.second, "http_server_config.headers." + name);
        if (!v) return v.error();
        if (v->find_first_of("\r\n") != std::string::npos) {
          return bad(kv.second, "http_server_config.headers." + name + ": a line break in the value");
        }
        c.headers.emplace_back(name, *v);
      }
    }
  }
  if (const auto& n = root["basic_auth_users"]; n && !n.IsNull()) {
    if (!n.IsMap()) return bad(n, "basic_auth_users: expected a mapping of user: bcrypt hash");
    for (const auto& kv : n) {
      const std::string user = kv.first.as<std::string>();
      auto hash = scalar(kv.second, "basic_auth_users." + user);
      if (!hash) return hash.error();
      if (!(hash->starts_with("$2a$") || hash->starts_with("$2b$") || hash->starts_with("$2y$")) ||
          hash->size() != 60) {
        return bad(kv.second, "basic_auth_users." + user +
                                  ": not a bcrypt hash ($2y$..., 60 characters; e.g. "
                                  "htpasswd -nBC 10 \"\" | tr -d ':\\n')");
      }
      if (user.find(':') != std::string::npos) {
        return bad(kv.first, "basic_auth_users: a user name cannot contain ':'");
      }
      c.basic_auth_users[user] = *hash;
    }
  }
  return c;
}

}  // namespace

// An error names keys and characters from the file: control characters
// become \xNN, so that it stays one log line (tests/fuzz/web_config_fuzz.cc).
Error one_line(std::string m) {
  std::string out;
  for (const char c : m) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return Error{out};
}

Result<WebSecurityConfig> parse_web_config(std::string_view yaml, const std::string& base_dir) {
  try {
    auto c = parse(YAML::Load(std::string(yaml)), base_dir);
    if (!c) return one_line(c.error().message);
    return c;
  } catch (const YAML::Exception& e) {
    // e.what() is "yaml-cpp: error at line N, column M: ..."
    std::string m = e.what();
    if (m.starts_with("yaml-cpp: ")) m.erase(0, 10);
    return one_line(m);
  } catch (const std::exception& e) {
    return one_line(e.what());
  }
}

Result<WebSecurityConfig> load_web_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return errno_error("--web.config.file " + path, errno);
  std::ostringstream text;
  text << in.rdbuf();
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  auto c = parse_web_config(text.str(), dir);
  if (!c) return Error{"--web.config.file " + path + ": " + c.error().message};
  if (c->tls) {
    auto ctx = make_tls_context(*c->tls);
    if (!ctx) return Error{"--web.config.file " + path + ": " + ctx.error().message};
  }
  return c;
}

}  // namespace tdpwatch::exporter

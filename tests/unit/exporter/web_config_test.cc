// --web.config.file (exporter/web_config.h, basic_auth.h) and the limits of
// the web server, over real loopback HTTP.  TLS against a real Prometheus is
// tests/host/web/web_security_test.sh.
#include <crypt.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "exporter/basic_auth.h"
#include "exporter/metrics.h"
#include "exporter/web_config.h"
#include "exporter/web_server.h"
#include "tests/unit/exporter/http_get.h"

namespace tdpwatch::exporter {
namespace {

// A bcrypt hash of cost 4 (the minimum: fast tests), from libxcrypt.
std::string bcrypt(const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, setting, sizeof setting), nullptr);
  crypt_data data{};
  return crypt_rn(password.c_str(), setting, &data, sizeof data);
}

TEST(WebConfig, EveryKeyOfExporterToolkit) {
  const auto c = parse_web_config(R"(
tls_server_config:
  cert_file: s.crt
  key_file: /abs/s.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
  prefer_server_cipher_suites: false
http_server_config:
  http2: true
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=1
basic_auth_users:
  alice: $2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi
)",
                                  "/etc/t");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE(c->tls);
  EXPECT_EQ(c->tls->cert_file, "/etc/t/s.crt") << "relative to the file's directory";
  EXPECT_EQ(c->tls->key_file, "/abs/s.key");
  EXPECT_EQ(c->tls->client_ca_file, "/etc/t/ca.crt");
  EXPECT_EQ(c->tls->client_auth, ClientAuth::kRequireAndVerifyClientCert);
  EXPECT_EQ(c->tls->min_version, 0x0304);
  EXPECT_EQ(c->tls->max_version, 0x0304);
  ASSERT_EQ(c->tls->cipher_suites.size(), 1u);
  EXPECT_EQ(c->tls->cipher_suites[0], "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_FALSE(c->tls->prefer_server_cipher_suites);
  ASSERT_EQ(c->headers.size(), 2u);
  EXPECT_EQ(c->basic_auth_users.count("alice"), 1u);
}

TEST(WebConfig, EmptyFileIsPlainHttpWithoutAuth) {
  const auto c = parse_web_config("", "/");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->empty());
}

TEST(WebConfig, BadFilesAreOneLineErrors) {
  const std::string hash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
  const std::pair<const char*, const char*> cases[] = {
      {"tls_server_config: {cert_file: a}", "missing key_file"},
      {"tls_server_config: {key_file: a}", "missing cert_file"},
      {"tls_server_config: {cert_file: a, key_file: b, min_version: TLS14}", "unknown TLS version"},
      {"tls_server_config: {cert_file: a, key_file: b, client_auth_type: Maybe}", "client_auth_type"},
      {"tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}",
       "client_ca_file is missing"},
      {"tls_server_config: {cert_file: a, key_file: b, client_ca_file: c}", "NoClientCert"},
      {"tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_NULL]}", "cipher suite"},
      {"tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}",
       "below min_version"},
      {"tls_server_config: {cert_file: a, key_file: b, cert_fil: c}", "unknown key"},
      {"http_server_config: {headers: {Server: x}}", "cannot be set"},
      {"basic_auth_users: {bob: plain}", "not a bcrypt hash"},
      {"basic_auth_users: [bob]", "mapping"},
      {"users: {}", "unknown key users"},
      {"tls_server_config: [", "line"},
      {"- 1", "mapping"},
  };
  for (const auto& [yaml, want] : cases) {
    const auto c = parse_web_config(yaml, "/");
    ASSERT_FALSE(c) << yaml;
    EXPECT_NE(c.error().message.find(want), std::string::npos) << yaml << " -> " << c.error().message;
    EXPECT_EQ(c.error().message.find('\n'), std::string::npos) << c.error().message;
  }
  EXPECT_TRUE(parse_web_config("basic_auth_users: {bob: '" + hash + "'}", "/"));
}

TEST(WebConfig, LoadNamesTheFileAndChecksTheCertificates) {
  const auto missing = load_web_config("/nonexistent/web.yml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/web.yml"), std::string::npos);
  const auto dir = std::filesystem::temp_directory_path() / ("tdpw-webcfg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "web.yml") << "tls_server_config: {cert_file: no.crt, key_file: no.key}\n";
  const auto bad = load_web_config((dir / "web.yml").string());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("no.crt"), std::string::npos) << bad.error().message;
  std::filesystem::remove_all(dir);
}

TEST(BasicAuth, BcryptAndCache) {
  BasicAuth auth({{"alice", bcrypt("wonder")}});
  auto header = [](const std::string& userpass) {
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < userpass.size(); i += 3) {
      const std::uint32_t n = (std::uint32_t(std::uint8_t(userpass[i])) << 16) |
                              (i + 1 < userpass.size() ? std::uint8_t(userpass[i + 1]) << 8 : 0) |
                              (i + 2 < userpass.size() ? std::uint8_t(userpass[i + 2]) : 0);
      out += abc[(n >> 18) & 63];
      out += abc[(n >> 12) & 63];
      out += i + 1 < userpass.size() ? abc[(n >> 6) & 63] : '=';
      out += i + 2 < userpass.size() ? abc[n & 63] : '=';
    }
    return "Basic " + out;
  };
  EXPECT_TRUE(auth.check(header("alice:wonder").c_str()));
  EXPECT_EQ(auth.bcrypt_runs(), 1u);
  EXPECT_TRUE(auth.check(header("alice:wonder").c_str()));
  EXPECT_EQ(auth.bcrypt_runs(), 1u) << "the second check is a cache hit";
  EXPECT_EQ(auth.cache_hits(), 1u);
  EXPECT_FALSE(auth.check(header("alice:wonderland").c_str()));
  EXPECT_FALSE(auth.check(header("bob:wonder").c_str()));
  EXPECT_EQ(auth.bcrypt_runs(), 3u) << "an unknown user costs a bcrypt too (timing)";
  EXPECT_FALSE(auth.check(nullptr));
  EXPECT_FALSE(auth.check("Bearer x"));
  EXPECT_FALSE(auth.check("Basic !!!!"));
  EXPECT_FALSE(auth.check(header("alicewonder").c_str())) << "no colon";
  for (int i = 0; i < 300; ++i) auth.check(header("alice:" + std::to_string(i)).c_str());
  EXPECT_TRUE(auth.check(header("alice:wonder").c_str())) << "eviction keeps it correct";
}

// A collectable that takes its time, so that requests overlap.
struct SlowCollectable : prometheus::Collectable {
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    return {};
  }
};

struct Served {
  std::unique_ptr<WebServer> server;
  int port = 0;
  Served(WebConfig c, std::shared_ptr<prometheus::Collectable> m) {
    c.listen_address = "127.0.0.1:0";
    auto s = WebServer::start(c, std::move(m), std::make_shared<SnapshotStore>());
    EXPECT_TRUE(s) << s.error().message;
    if (!s) return;
    server = std::move(*s);
    port = server->ports().at(0);
  }
};

TEST(WebLimits, RequestsOverMaxRequestsGet503AtOnce) {
  WebConfig c;
  c.max_requests = 1;
  Served web(c, std::make_shared<SlowCollectable>());
  auto first = std::async(std::launch::async, [&] { return test::http_get(web.port, "/metrics"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t0 = std::chrono::steady_clock::now();
  const auto second = test::http_get(web.port, "/metrics");
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(second.status, 503);
  EXPECT_LT(waited, std::chrono::milliseconds(600)) << "refused at once, not queued";
  EXPECT_EQ(first.get().status, 200);
  const auto after = test::http_get(web.port, "/");
  EXPECT_EQ(after.status, 200);
}

TEST(WebSecurity, BasicAuthCoversEveryPathAndHeadersEveryReply) {
  const auto dir = std::filesystem::temp_directory_path() / ("tdpw-websec-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "web.yml").string();
  std::ofstream(file) << "http_server_config: {headers: {X-Frame-Options: deny}}\n"
                         "basic_auth_users: {alice: '" << bcrypt("wonder") << "'}\n";
  WebConfig c;
  c.config_file = file;
  Served web(c, std::make_shared<MetricsCollectable>(nullptr, default_collectors()));
  for (const char* path : {"/metrics", "/", "/api/v1/vms", "/api/v1/vms/1/pages", "/nothing"}) {
    EXPECT_EQ(test::http_get(web.port, path).status, 401) << path;
  }
  // With credentials ("alice:wonder"), raw, to see the headers.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(web.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string req =
      "GET /nothing HTTP/1.0\r\nAuthorization: Basic YWxpY2U6d29uZGVy\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string raw;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) raw.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  EXPECT_NE(raw.find(" 404 "), std::string::npos) << raw;
  EXPECT_NE(raw.find("X-Frame-Options: deny"), std::string::npos) << raw;

  // Reloaded on change: a new password works at once, a bad file is kept out.
  std::ofstream(file) << "basic_auth_users: {alice: '" << bcrypt("land") << "'}\n";
  EXPECT_TRUE(web.server->reload("test"));
  std::ofstream(file) << "basic_auth_users: [\n";
  EXPECT_FALSE(web.server->reload("test"));
  const auto metrics = test::http_get(web.port, "/metrics");
  EXPECT_EQ(metrics.status, 401);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tdpwatch::exporter

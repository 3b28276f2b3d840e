// The web server over real loopback HTTP: routes, content, and a port in use.
#include <gtest/gtest.h>

#include "exporter/metrics.h"
#include "exporter/web_server.h"
#include "tests/unit/exporter/fixtures.h"
#include "tests/unit/exporter/http_get.h"

namespace tdpwatch::exporter {
namespace {

struct Served {
  std::shared_ptr<SnapshotStore> store = std::make_shared<SnapshotStore>();
  std::unique_ptr<WebServer> server;
  int port = 0;

  explicit Served(const std::string& path = "/metrics") {
    WebConfig c;
    c.listen_address = "127.0.0.1:0";
    c.telemetry_path = path;
    auto m = std::make_shared<MetricsCollectable>(store, default_collectors());
    auto s = WebServer::start(c, m, store);
    EXPECT_TRUE(s) << s.error().message;
    if (!s) return;
    server = std::move(*s);
    port = server->ports().at(0);
  }
};

TEST(WebServer, ServesMetricsLandingPageAndApi) {
  Served w;
  ASSERT_GT(w.port, 0);
  EXPECT_EQ(test::http_get(w.port, "/api/v1/vms").status, 503);  // nothing published yet
  w.store->publish(std::make_shared<HostSnapshot>(fixtures::busy_host()));

  const auto metrics = test::http_get(w.port, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("tdpwatch_vm_shadow_pages{vm=\"tdpw_test_vmm-5150#2\",pid=\"5150\"} 3"),
            std::string::npos)
      << metrics.body;
  const auto landing = test::http_get(w.port, "/");
  EXPECT_EQ(landing.status, 200);
  EXPECT_NE(landing.body.find("href=\"/metrics\""), std::string::npos);
  EXPECT_NE(landing.body.find("href=\"/api/v1/vms\""), std::string::npos);
  const auto api = test::http_get(w.port, "/api/v1/vms");
  EXPECT_EQ(api.status, 200);
  EXPECT_NE(api.body.find("\"vm\": \"web-01\""), std::string::npos) << api.body;
  EXPECT_EQ(test::http_get(w.port, "/nope").status, 404);
  EXPECT_EQ(test::http_get(w.port, "/metrics/x").status, 404);
}

TEST(WebServer, TelemetryPathIsConfigurable) {
  Served w("/probe/metrics");
  w.store->publish(std::make_shared<HostSnapshot>(fixtures::idle_host()));
  EXPECT_EQ(test::http_get(w.port, "/probe/metrics").status, 200);
  EXPECT_EQ(test::http_get(w.port, "/metrics").status, 404);
  EXPECT_NE(test::http_get(w.port, "/").body.find("href=\"/probe/metrics\""), std::string::npos);
}

TEST(WebServer, PortInUseIsOneClearError) {
  Served first;
  ASSERT_GT(first.port, 0);
  WebConfig c;
  c.listen_address = "127.0.0.1:" + std::to_string(first.port);
  auto second = WebServer::start(c, std::make_shared<MetricsCollectable>(nullptr, default_collectors()),
                                 first.store);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().message,
            "cannot listen on " + c.listen_address + ": Address already in use");
}

TEST(WebServer, ListenAddressForms) {
  EXPECT_EQ(parse_listen_address("127.0.0.1:9977")->host, "127.0.0.1");
  EXPECT_EQ(parse_listen_address("[::1]:9977")->host, "::1");
  EXPECT_EQ(parse_listen_address(":9977")->host, "");
  EXPECT_EQ(parse_listen_address(":9977")->port, 9977);
  EXPECT_FALSE(parse_listen_address("9977"));
  EXPECT_FALSE(parse_listen_address("localhost:99999"));
  WebConfig c;
  c.telemetry_path = "metrics";
  EXPECT_FALSE(WebServer::start(c, nullptr, nullptr));
}

}  // namespace
}  // namespace tdpwatch::exporter

// exporter/api_route.h: which endpoint a request path and query name.  Only
// exact endpoint paths are served; traversal attempts, odd keys and odd
// queries are not found or not fresh.
#include "exporter/api_route.h"

#include <gtest/gtest.h>

namespace tdpwatch::exporter {
namespace {

using Kind = Route::Kind;

Route route(std::string_view uri, std::string_view query = "") {
  return route_request(uri, query, "/metrics");
}

TEST(ApiRoute, ExactEndpoints) {
  EXPECT_EQ(route("/metrics").kind, Kind::kMetrics);
  EXPECT_EQ(route("/").kind, Kind::kLanding);
  EXPECT_EQ(route("/api/v1/vms").kind, Kind::kVms);
  EXPECT_EQ(route_request("/custom", "", "/custom").kind, Kind::kMetrics);
  EXPECT_EQ(route_request("/metrics", "", "/custom").kind, Kind::kNotFound);
  const Route p = route("/api/v1/vms/42/pages");
  EXPECT_EQ(p.kind, Kind::kPages);
  EXPECT_EQ(p.key, 42u);
  const Route a = route("/api/v1/vms/7/audit");
  EXPECT_EQ(a.kind, Kind::kAudit);
  EXPECT_EQ(a.key, 7u);
  EXPECT_FALSE(a.fresh);
}

TEST(ApiRoute, TraversalAndNearMissesAreNotFound) {
  for (const char* uri :
       {"/api/v1/vms/../x", "/api/v1/vms/1/../../etc/passwd", "//api/v1/vms", "/api/v1/vms/",
        "/metrics/", "/api/v1/vms/1/pages/", "/api/v1/vms//pages", "/api/v1/vms/1/../2/pages",
        "/api/v1/vms/../../../etc/passwd/pages", "/etc/passwd", "", "/api/v1/vms/1/audit/../pages",
        "/API/V1/VMS"}) {
    EXPECT_EQ(route(uri).kind, Kind::kNotFound) << uri;
  }
}

TEST(ApiRoute, KeysAreDecimalDigitsThatFitU64) {
  EXPECT_EQ(route("/api/v1/vms/0/pages").key, 0u);
  const Route max = route("/api/v1/vms/18446744073709551615/pages");
  EXPECT_EQ(max.kind, Kind::kPages);
  EXPECT_EQ(max.key, 18446744073709551615ull);
  for (const char* uri :
       {"/api/v1/vms/18446744073709551616/pages", "/api/v1/vms/+1/pages", "/api/v1/vms/-1/pages",
        "/api/v1/vms/1e3/pages", "/api/v1/vms/0x10/pages", "/api/v1/vms/ 1/pages",
        "/api/v1/vms/1 /audit", "/api/v1/vms/pages", "/api/v1/vms/audit"}) {
    EXPECT_EQ(route(uri).kind, Kind::kNotFound) << uri;
  }
}

TEST(ApiRoute, FreshIsTheExactParameter) {
  const auto fresh = [](std::string_view q) { return route("/api/v1/vms/1/audit", q).fresh; };
  EXPECT_TRUE(fresh("fresh=1"));
  EXPECT_TRUE(fresh("fresh=true"));
  EXPECT_TRUE(fresh("a=b&fresh=1"));
  EXPECT_TRUE(fresh("fresh=0&fresh=1")) << "the last occurrence wins";
  EXPECT_FALSE(fresh("fresh=1&fresh=0"));
  EXPECT_FALSE(fresh("nofresh=10")) << "a substring match once said yes here";
  EXPECT_FALSE(fresh("fresh=10"));
  EXPECT_FALSE(fresh("fresh"));
  EXPECT_FALSE(fresh("fresh="));
  EXPECT_FALSE(fresh("&&&=&"));
  EXPECT_FALSE(fresh(""));
}

TEST(ApiRoute, QueryValue) {
  EXPECT_FALSE(query_value("", "x").found);
  EXPECT_TRUE(query_value("x", "x").found);
  EXPECT_EQ(query_value("x", "x").value, "");
  EXPECT_EQ(query_value("a=1&x=2=3", "x").value, "2=3");
  EXPECT_FALSE(query_value("xx=1", "x").found);
}

}  // namespace
}  // namespace tdpwatch::exporter

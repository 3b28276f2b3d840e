// Small pieces under the CLI: --daemon URL parsing, and the core's shadow
// page listing that `snapshot --pages` shows on a shadow-MMU host.
#include <gtest/gtest.h>

#include "cli/http_client.h"
#include "tests/support/event_builders.h"
#include "daemon/core/model.h"
#include "daemon/core/role.h"

namespace tdpwatch::cli {
namespace {

TEST(CliUrl, HostPortPathAndIpv6) {
  auto u = parse_url("http://127.0.0.1:9977");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "9977");
  EXPECT_EQ(u->base, "");
  u = parse_url("http://[::1]:8080/tdpwatch/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->base, "/tdpwatch");
  u = parse_url("http://daemon.example");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, "80");
  for (const char* bad : {"127.0.0.1:9977", "https://127.0.0.1:9977", "http://:9977",
                          "http://h:99999", "http://h:x", "http://[::1", "http://h:"}) {
    EXPECT_FALSE(parse_url(bad)) << bad;
  }
}

TEST(CliCoreShadowPages, LiveShadowPagesAreListedZappedOnesAreNot) {
  core::Model model;
  const std::uint64_t vm = 0xffff888100000000;
  model.apply(events::vm_create(vm, 42));
  const std::uint32_t role = role::synthesize(2, 0);
  for (std::uint64_t i = 0; i < 3; ++i) {
    model.apply(events::shadow_get(vm, {0xffff888200000000 + i * 0x100, 0, i << 18, role}, true));
  }
  model.apply(events::shadow_get(vm, {0xffff888200000000, 0, 0, role}, false));  // a cache hit
  model.apply(events::shadow_zap(vm, {0xffff888200000100, 0, 1 << 18, role}));
  const std::vector<core::PageView> pages = model.shadow_pages(vm);
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(static_cast<std::int64_t>(pages.size()), model.snapshot(vm)->counts.shadow_pages);
  for (const core::PageView& p : pages) {
    EXPECT_NE(p.sp, 0xffff888200000100u) << "the zapped page is listed";
    EXPECT_EQ(p.level, 2);
    EXPECT_EQ(p.as_id, 0);
    EXPECT_EQ(p.role, role);
    EXPECT_EQ(p.pfn, 0u);
  }
  EXPECT_TRUE(model.shadow_pages(0x1234).empty());
}

}  // namespace
}  // namespace tdpwatch::cli

// The exporter's output from fixed HostSnapshots, diffed against checked-in
// golden files (golden/<fixture>.prom, .json).  No HTTP, no clocks: the
// collectable's clocks are fakes.  After an intended change, regenerate with
//   TDPW_UPDATE_GOLDEN=1 ./exporter_test
// and review the diff like code.
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <prometheus/check_names.h>

#include "exporter/leak_ledger.h"
#include "exporter/metrics.h"
#include "exporter/vms_json.h"
#include "tests/unit/exporter/fixtures.h"

namespace tdpwatch::exporter {
namespace {

MetricsCollectable fixed_collectable() {
  MetricsConfig mc;
  mc.stale_after_seconds = 10;
  mc.unix_seconds = [] { return fixtures::kNow; };
  auto ticks = std::make_shared<std::int64_t>(0);
  mc.monotonic_ns = [ticks] { return *ticks += 250'000; };  // every collector takes 250 µs
  return MetricsCollectable(nullptr, default_collectors(), std::move(mc));
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void check_golden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(TDPW_GOLDEN_DIR) + "/" + name;
  if (const char* u = std::getenv("TDPW_UPDATE_GOLDEN"); u != nullptr && *u == '1') {
    std::ofstream(path) << actual;
    GTEST_SKIP() << "rewrote " << path;
  }
  const std::string expected = read(path);
  ASSERT_FALSE(expected.empty()) << path << " missing; run with TDPW_UPDATE_GOLDEN=1";
  EXPECT_EQ(actual, expected) << "differs from " << path
                              << " (TDPW_UPDATE_GOLDEN=1 rewrites it)";
}

class Golden : public testing::TestWithParam<std::string> {};

TEST_P(Golden, Metrics) {
  for (auto& [name, snapshot] : fixtures::all()) {
    if (name != GetParam()) continue;
    check_golden(name + ".prom", serialize(fixed_collectable().render(&snapshot)));
  }
}

TEST_P(Golden, Json) {
  for (auto& [name, snapshot] : fixtures::all()) {
    if (name != GetParam()) continue;
    check_golden(name + ".json", render_vms_json(snapshot));
  }
}

INSTANTIATE_TEST_SUITE_P(Exporter, Golden,
                         testing::Values("idle_host", "busy_host", "after_leak"));

// Naming rules of the Prometheus guide, on every family the fixtures produce.
TEST(Exporter, NamesFollowConventions) {
  const HostSnapshot s = fixtures::after_leak();
  std::set<std::string> names;
  for (const auto& f : fixed_collectable().render(&s)) {
    EXPECT_TRUE(prometheus::CheckMetricName(f.name)) << f.name;
    EXPECT_EQ(f.name.rfind("tdpwatch_", 0), 0u) << f.name;
    const bool total = f.name.size() > 6 && f.name.substr(f.name.size() - 6) == "_total";
    EXPECT_EQ(f.type == prometheus::MetricType::Counter, total) << f.name;
    EXPECT_TRUE(names.insert(f.name).second) << "family twice: " << f.name;
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) {
        EXPECT_TRUE(prometheus::CheckLabelName(l.name)) << f.name << " " << l.name;
        // No kernel addresses or page frames as labels.
        EXPECT_EQ(l.value.find("0xffff"), std::string::npos) << f.name << " " << l.value;
      }
    }
  }
}

TEST(Exporter, EveryPerVmSeriesVanishesWithItsVm) {
  const HostSnapshot before = fixtures::busy_host();
  const HostSnapshot after = fixtures::after_leak();
  const std::string gone = "vm=\"" + before.vms.front().identity.vm + "\"";
  const std::string text = serialize(fixed_collectable().render(&after));
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(gone) == std::string::npos) continue;
    EXPECT_EQ(line.rfind("tdpwatch_leak_vm_", 0), 0u) << "series of a gone VM: " << line;
  }
}

TEST(Exporter, NoSnapshotIsDown) {
  const std::string text = serialize(fixed_collectable().render(nullptr));
  EXPECT_NE(text.find("tdpwatch_up 0"), std::string::npos) << text;
  EXPECT_EQ(text.find("tdpwatch_vm_"), std::string::npos) << text;
}

TEST(Exporter, StaleSnapshotIsDown) {
  HostSnapshot s = fixtures::busy_host();
  s.time_seconds = fixtures::kNow - 11;
  EXPECT_NE(serialize(fixed_collectable().render(&s)).find("tdpwatch_up 0"), std::string::npos);
  s.time_seconds = fixtures::kNow - 9;
  EXPECT_NE(serialize(fixed_collectable().render(&s)).find("tdpwatch_up 1"), std::string::npos);
}

TEST(Exporter, FailingCollectorIsReportedAndDropped) {
  struct Broken final : Collector {
    std::string_view name() const override { return "broken"; }
    Status collect(const HostSnapshot&, Families& out) const override {
      gauge(out, "tdpwatch_half_built", "never shown").add(1);
      return Error{"cannot"};
    }
  };
  std::vector<std::unique_ptr<Collector>> cs;
  cs.push_back(std::make_unique<Broken>());
  MetricsCollectable m(nullptr, std::move(cs));
  const HostSnapshot s = fixtures::idle_host();
  const std::string text = serialize(m.render(&s));
  EXPECT_EQ(text.find("tdpwatch_half_built"), std::string::npos) << text;
  EXPECT_NE(text.find("tdpwatch_scrape_collector_success{collector=\"broken\"} 0"),
            std::string::npos)
      << text;
}

TEST(Exporter, CollectReadsThePublishedSnapshot) {
  auto store = std::make_shared<SnapshotStore>();
  MetricsCollectable m(store, default_collectors());
  EXPECT_EQ(serialize(m.Collect()).find("tdpwatch_vms "), std::string::npos);
  auto s = std::make_shared<HostSnapshot>(fixtures::busy_host());
  store->publish(s);
  EXPECT_NE(serialize(m.Collect()).find("tdpwatch_vms 3"), std::string::npos);
}

TEST(LeakLedger, CountsForeverAndRetainsForTheRetention) {
  LeakLedger ledger(60);
  core::LeakRecord clean{};
  core::LeakRecord leaky{};
  leaky.linked_pages = 3;
  leaky.roots = 1;
  ledger.record(clean, {"a", 1, "x", "", "", ""}, 100);
  ledger.record(leaky, {"b", 2, "x", "", "", ""}, 100);
  HostSnapshot s;
  ledger.fill(s, 150);
  EXPECT_EQ(s.teardowns_total, 2u);
  EXPECT_EQ(s.leak_warnings_total, 1u);
  EXPECT_EQ(s.leaked_pages_total[0], 3u);
  EXPECT_EQ(s.leaked_pages_total[2], 1u);
  ASSERT_EQ(s.leaks.size(), 1u);
  EXPECT_EQ(s.leaks[0].identity.vm, "b");
  ledger.fill(s, 161);
  EXPECT_TRUE(s.leaks.empty());
  EXPECT_EQ(s.leak_warnings_total, 1u);  // counters stay
}

TEST(VmLabel, QemuNameElseCommPid) {
  EXPECT_EQ(vm_label("web-01", "qemu-system-x86", 7), "web-01");
  EXPECT_EQ(vm_label("", "firecracker", 7), "firecracker-7");
  EXPECT_EQ(vm_label("", "", 7), "pid-7");
}

}  // namespace
}  // namespace tdpwatch::exporter

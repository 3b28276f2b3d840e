// The CLI's documents (snapshot, list) and their table forms, built from the
// daemon's real JSON for the exporter's fixture snapshots: golden files pin
// the schema (cli/README.md); TDPW_UPDATE_GOLDEN=1 rewrites them.  Also the
// pages endpoint the snapshot --pages option reads.
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "cli/list_render.h"
#include "cli/snapshot_render.h"
#include "cli/vm_document.h"
#include "exporter/pages_api.h"
#include "exporter/vms_json.h"
#include "tests/unit/exporter/fixtures.h"

namespace tdpwatch::cli {
namespace {

namespace fx = exporter::fixtures;
const std::string kUrl = "http://127.0.0.1:9977";

void expect_golden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(TDPW_GOLDEN_DIR) + "/" + name;
  if (const char* u = std::getenv("TDPW_UPDATE_GOLDEN"); u != nullptr && u[0] == '1') {
    std::ofstream(path) << actual;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing golden file " << path << " (TDPW_UPDATE_GOLDEN=1 writes it)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "golden " << name << " differs";
}

nlohmann::json daemon_doc(const exporter::HostSnapshot& s) {
  return nlohmann::json::parse(exporter::render_vms_json(s));
}

TEST(CliSnapshotDocument, GoldenForEveryBusyHostVm) {
  const nlohmann::json doc = daemon_doc(fx::busy_host());
  ASSERT_EQ(doc["vms"].size(), 3u);
  for (std::size_t i = 0; i < doc["vms"].size(); ++i) {
    const ojson s = snapshot_document(doc, i, kUrl, nullptr);
    const std::string name = "snapshot-busy-" + std::to_string(i);
    expect_golden(name + ".json", s.dump(2) + "\n");
    expect_golden(name + ".txt", render_snapshot(s));
  }
}

TEST(CliSnapshotDocument, SchemaKeysAndFigures) {
  const nlohmann::json doc = daemon_doc(fx::busy_host());
  const ojson s = snapshot_document(doc, 0, kUrl, nullptr);
  std::vector<std::string> keys;
  for (auto it = s.begin(); it != s.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"schema", "daemon", "vm", "model", "kernel", "drift",
                                            "probe_counters", "reconcile", "leaks"}));
  EXPECT_EQ(s["schema"], kSnapshotSchema);
  EXPECT_EQ(s["vm"]["name"], "web-01");
  EXPECT_EQ(s["model"]["tdp_pages"]["total"], doc["vms"][0]["model"]["tdp_pages_total"]);
  EXPECT_EQ(s["model"]["page_table_pages"], 173 + 1 + 1 + 0);
  // drift is the reconciler's model - kernel for each figure it compared,
  // null for one it did not (this VM: no NX list figure from the kernel).
  const auto& k = doc["vms"][0]["kernel"];
  ASSERT_TRUE(k["tdp_pages"].is_number());
  EXPECT_EQ(s["drift"]["tdp_pages"].get<std::int64_t>(), 173 - k["tdp_pages"].get<std::int64_t>());
  EXPECT_EQ(s["drift"]["leaf_mappings"]["4k"], 0);
  EXPECT_TRUE(s["drift"]["possible_nx_huge_pages"]["tdp"].is_null());
  EXPECT_EQ(s["reconcile"]["tracking"], "full");
}

// Drift comes from the reconciler's figures only, even where the kernel part
// has a figure: a leaf figure the reconciler does not compare (shadow-MMU
// hosts) has no drift.
TEST(CliSnapshotDocument, DriftIsTheReconcilersOnly) {
  nlohmann::json doc = daemon_doc(fx::busy_host());
  doc["vms"][0]["reconcile"]["figures"] = nlohmann::json::array(
      {{{"figure", "tdp_pages"}, {"model", 10}, {"kernel", 12}, {"confirmed", false}}});
  const ojson s = snapshot_document(doc, 0, kUrl, nullptr);
  EXPECT_EQ(s["drift"]["tdp_pages"], -2);
  EXPECT_TRUE(s["kernel"]["leaf_mappings"]["4k"].is_number());
  EXPECT_TRUE(s["drift"]["leaf_mappings"]["4k"].is_null());
}

TEST(CliSnapshotDocument, ReconcilerStateIsShownAndMissingFieldsAreNull) {
  nlohmann::json doc = daemon_doc(fx::busy_host());
  ASSERT_TRUE(doc["vms"][1]["reconcile"].is_object());  // the baseline, degraded VM
  const ojson s = snapshot_document(doc, 1, kUrl, nullptr);
  EXPECT_EQ(s["reconcile"]["tracking"], "baseline");
  EXPECT_EQ(s["reconcile"]["degraded"], true);
  const std::string text = render_snapshot(s);
  EXPECT_NE(text.find("Reconcile: tracking baseline (baseline of tdp_pages, shadow_pages)  "
                      "DEGRADED"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("drift: tdp_pages model 44 kernel 46"), std::string::npos) << text;
  EXPECT_EQ(snapshot_document(doc, 0, kUrl, nullptr)["vm"]["libvirt_domain"], "web-01");

  doc["vms"][1] = {{"vm", "bare"}, {"pid", 1}};  // a daemon that says almost nothing
  const ojson bare = snapshot_document(doc, 1, kUrl, nullptr);
  EXPECT_TRUE(bare["reconcile"].is_null());
  EXPECT_TRUE(bare["kernel"]["shadow_pages"].is_null());
  EXPECT_TRUE(bare["model"]["shadow_pages"].is_null());
  // Unknown, not a silent 0: the daemon did not say.
  EXPECT_TRUE(bare["model"]["page_table_pages"].is_null());
  EXPECT_TRUE(bare["drift"]["tdp_pages"].is_null());
  EXPECT_NO_THROW((void)render_snapshot(bare));
}

TEST(CliSnapshotDocument, LeaksOfTheSameProcessAreShown) {
  nlohmann::json doc = daemon_doc(fx::after_leak());
  ASSERT_FALSE(doc["leaks"]["retained"].empty());
  const auto leaked_pid = doc["leaks"]["retained"][0]["pid"];
  EXPECT_TRUE(snapshot_document(doc, 0, kUrl, nullptr)["leaks"].empty());
  doc["vms"][0]["pid"] = leaked_pid;  // a new VM of the process that leaked
  const ojson s = snapshot_document(doc, 0, kUrl, nullptr);
  ASSERT_EQ(s["leaks"].size(), 1u);
  expect_golden("snapshot-after-leak.txt", render_snapshot(s));
}

TEST(CliListDocument, GoldenAndTable) {
  const nlohmann::json doc = daemon_doc(fx::busy_host());
  ojson list = list_document(doc, kUrl);
  EXPECT_EQ(list["schema"], kListSchema);
  ASSERT_EQ(list["vms"].size(), 3u);
  sort_vms(list["vms"], "pages");
  expect_golden("list-busy.json", list.dump(2) + "\n");
  expect_golden("list-busy.txt", render_list(list["vms"]));
}

exporter::HostSnapshot with_pages(bool included) {
  exporter::HostSnapshot s = fx::busy_host();
  s.pages_included = included;
  exporter::VmEntry& vm = s.vms[0];
  vm.tdp_page_list = {{0, 0x1234, 0x200, 0x82, 1, 0, true, true},
                      {0xffff888100001000, 0, 0, 0x83, 2, 0, false, false}};
  vm.shadow_page_list = {{0xffff888100002000, 0, 0x40000, 0x1782, 2, 0, false, false}};
  return s;
}

TEST(CliPagesEndpoint, PathParsing) {
  EXPECT_EQ(exporter::parse_pages_path("/api/v1/vms/42/pages"), 42u);
  EXPECT_FALSE(exporter::parse_pages_path("/api/v1/vms/0x2a/pages"));
  EXPECT_FALSE(exporter::parse_pages_path("/api/v1/vms//pages"));
  EXPECT_FALSE(exporter::parse_pages_path("/api/v1/vms"));
}

TEST(CliPagesEndpoint, AsksForPagesWaitsForThemAndServesThem) {
  exporter::SnapshotStore store;
  store.publish(std::make_shared<exporter::HostSnapshot>(with_pages(false)));
  const std::uint64_t key = fx::busy_host().vms[0].model.vm;
  EXPECT_FALSE(store.pages_wanted(fx::kNow));
  auto reply =
      std::async(std::launch::async, [&] { return exporter::serve_pages(store, key, 60); });
  // The handler asks for pages; the "publisher" (this thread) sees it.
  for (int i = 0; i < 1000 && !store.pages_wanted(static_cast<double>(std::time(nullptr))); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(store.pages_wanted(static_cast<double>(std::time(nullptr))));
  store.publish(std::make_shared<exporter::HostSnapshot>(with_pages(true)));
  const exporter::ApiReply r = reply.get();
  ASSERT_EQ(r.status, 200) << r.body;
  const ojson pages = pages_document(nlohmann::json::parse(r.body));
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0]["mmu"], "tdp");
  EXPECT_EQ(pages[0]["level"], 1);  // sorted by (as_id, level, gfn)
  EXPECT_EQ(pages[0]["pfn"], 0x1234);
  EXPECT_EQ(pages[0]["nx_tracked"], true);
  EXPECT_EQ(pages[2]["mmu"], "shadow");
  EXPECT_EQ(pages[2]["gfn"], 0x40000);
  expect_golden("pages.txt", render_pages(pages));

  EXPECT_EQ(exporter::serve_pages(store, 1, 60).status, 404);
}

TEST(CliPagesEndpoint, NoSnapshotWithPagesInTimeIs503) {
  exporter::SnapshotStore store;
  store.publish(std::make_shared<exporter::HostSnapshot>(with_pages(false)));
  EXPECT_EQ(exporter::serve_pages(store, fx::busy_host().vms[0].model.vm, 0.1).status, 503);
}

}  // namespace
}  // namespace tdpwatch::cli

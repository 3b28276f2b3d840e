// The daemon's poll logic (appeared / disappeared / deltas) and its --once
// JSON, driven against a fixture tree instead of the live kernel.
#include "daemon/tdpwatchd/watcher.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "daemon/setup/host_check.h"
#include "daemon/tdpwatchd/summary.h"
#include "tests/unit/truth/fixture.h"

namespace tdpwatch::tdpwatchd {
namespace {

using truth::VmId;
using truth::testing::FixtureTree;
using truth::testing::meminfo_text;

void add_qemu_vm(const FixtureTree& t, int pid, int fd, const std::string& guest,
                 std::uint64_t pages_4k) {
  const std::string p = "proc/" + std::to_string(pid) + "/";
  t.write(p + "comm", "qemu-system-x86\n");
  t.write(p + "cmdline", std::string("qemu-system-x86_64\0-name\0guest=", 31) + guest +
                             std::string(",debug-threads=on\0", 18));
  const std::string d = "debug/kvm/" + std::to_string(pid) + "-" + std::to_string(fd) + "/";
  t.write(d + "pages_4k", std::to_string(pages_4k) + "\n");
  t.write(d + "nx_lpage_splits", "0\n");
}

FixtureTree& host(FixtureTree& t) {
  t.write("proc/meminfo", meminfo_text(true, 0));
  t.write("proc/sys/kernel/osrelease", "6.18.44-fixture\n");
  t.write("sys/module/kvm/parameters/tdp_mmu", "N\n");
  t.write("sys/module/kvm/parameters/nx_huge_pages", "N\n");
  t.mkdir("sys/module/kvm_pvm");
  t.mkdir("debug/kvm");
  return t;
}

TEST(Watcher, ReportsAppearedDeltasAndDisappeared) {
  FixtureTree tree;
  host(tree);
  add_qemu_vm(tree, 500, 11, "alpha", 10);
  Watcher w(tree.paths());

  PollResult p1 = w.poll();
  EXPECT_TRUE(p1.vms_error.empty()) << p1.vms_error;
  EXPECT_EQ(p1.appeared, (std::vector<VmId>{{500, 11}}));
  ASSERT_EQ(p1.vms.size(), 1u);
  ASSERT_TRUE(p1.vms[0].identity) << p1.vms[0].identity_error;
  EXPECT_EQ(p1.vms[0].identity->qemu.name, "alpha");
  EXPECT_EQ(p1.meminfo->sec_page_tables_bytes, 0u);
  EXPECT_FALSE(p1.previous_sec_page_tables_bytes);

  tree.write("proc/meminfo", meminfo_text(true, 16));
  tree.write("debug/kvm/500-11/pages_4k", "25\n");
  add_qemu_vm(tree, 600, 12, "beta", 1);
  PollResult p2 = w.poll();
  EXPECT_EQ(p2.appeared, (std::vector<VmId>{{600, 12}}));
  EXPECT_TRUE(p2.disappeared.empty());
  ASSERT_EQ(p2.deltas.size(), 1u);
  EXPECT_EQ(p2.deltas[0].id, (VmId{500, 11}));
  EXPECT_EQ(p2.deltas[0].name, "pages_4k");
  EXPECT_EQ(p2.deltas[0].before, 10u);
  EXPECT_EQ(p2.deltas[0].after, 25u);
  EXPECT_EQ(p2.previous_sec_page_tables_bytes, 0u);
  EXPECT_EQ(p2.meminfo->sec_page_tables_bytes, 16u * 1024);

  tree.remove("debug/kvm/500-11");
  PollResult p3 = w.poll();
  EXPECT_TRUE(p3.appeared.empty());
  EXPECT_EQ(p3.disappeared, (std::vector<VmId>{{500, 11}}));
  ASSERT_EQ(p3.vms.size(), 1u);
  EXPECT_EQ(p3.vms[0].id, (VmId{600, 12}));
}

// Each poll says whether devices are behind an IOMMU (truth/iommu.h), read
// under the configured sysfs, so a device bound to vfio-pci later is seen.
TEST(Watcher, ReportsDevicesBehindAnIommu) {
  FixtureTree tree;
  host(tree);
  Watcher w(tree.paths());
  EXPECT_FALSE(w.poll().iommu.any());
  tree.mkdir("sys/kernel/iommu_groups/3/devices/0000:41:00.0");
  tree.mkdir("sys/bus/pci/drivers/vfio-pci/0000:41:00.0");
  const PollResult p = w.poll();
  EXPECT_EQ(p.iommu.vfio_pci, 1u);
  EXPECT_EQ(p.iommu.in_iommu_groups, 1u);
}

TEST(Watcher, NewVmReusingPidAndFdIsANewVm) {
  FixtureTree tree;
  host(tree);
  add_qemu_vm(tree, 500, 11, "alpha", 10);
  Watcher w(tree.paths());
  w.poll();
  // Renamed away rather than removed, so its inode number stays taken.
  std::filesystem::rename(tree.root() / "debug/kvm/500-11", tree.root() / "debug/old");
  add_qemu_vm(tree, 500, 11, "alpha-again", 3);
  PollResult p = w.poll();
  EXPECT_EQ(p.disappeared, (std::vector<VmId>{{500, 11}}));
  EXPECT_EQ(p.appeared, (std::vector<VmId>{{500, 11}}));
  EXPECT_TRUE(p.deltas.empty()) << "no delta across two different VMs";
  ASSERT_EQ(p.vms.size(), 1u);
  EXPECT_EQ(p.vms[0].identity->qemu.name, "alpha-again");
}

TEST(Watcher, VmWhoseProcessIsGoneKeepsItsStats) {
  FixtureTree tree;
  host(tree);
  tree.write("debug/kvm/700-5/pages_4k", "3\n");  // no proc/700: the fd was handed on
  PollResult p = Watcher(tree.paths()).poll();
  ASSERT_EQ(p.vms.size(), 1u);
  EXPECT_FALSE(p.vms[0].identity);
  EXPECT_NE(p.vms[0].identity_error.find("700/comm"), std::string::npos);
  EXPECT_EQ(p.vms[0].stats.values.at("pages_4k"), 3u);
}

TEST(Watcher, DebugfsMissingIsReportedNotFatal) {
  FixtureTree tree;
  host(tree);
  tree.remove("debug/kvm");
  PollResult p = Watcher(tree.paths()).poll();
  EXPECT_NE(p.vms_error.find("mount -t debugfs"), std::string::npos);
  EXPECT_TRUE(p.vms.empty());
  EXPECT_TRUE(p.meminfo);
}

TEST(Summary, FixtureHostRendersAsJson) {
  FixtureTree tree;
  host(tree);
  add_qemu_vm(tree, 500, 11, "al\"pha", 10);
  auto h = setup::check_host(tree.paths());
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_FALSE(h->live);
  const std::string json = render_json(*h, Watcher(tree.paths()).poll());
  for (const char* want :
       {"\"kernel\": \"6.18.44-fixture\"", "\"live\": false", "\"kvm_loaded\": true",
        "\"vendor_modules\": [\"kvm_pvm\"]", "\"tdp_mmu\": false",
        "\"mmu\": \"shadow MMU (tdp_mmu=N)\"", "\"debugfs\": \"ok\"",
        "\"sec_page_tables_bytes\": 0", "\"pid\": 500, \"fd\": 11", "\"qemu_name\": \"al\\\"pha\"",
        "\"stats\": {\"nx_lpage_splits\": 0, \"pages_4k\": 10}"}) {
    EXPECT_NE(json.find(want), std::string::npos) << want << "\n" << json;
  }
}

}  // namespace
}  // namespace tdpwatch::tdpwatchd

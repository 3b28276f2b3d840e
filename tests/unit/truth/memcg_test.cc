// The memory cgroup's sec_pagetables (cgroup v2) for a VMM process.
#include <gtest/gtest.h>

#include <algorithm>

#include "daemon/truth/memcg.h"
#include "tests/unit/truth/fixture.h"

namespace tdpwatch::truth::testing {
namespace {

const char* kStat =
    "anon 1048576\nfile 0\nkernel 65536\nkernel_stack 16384\npagetables 8192\n"
    "sec_pagetables 20480\npercpu 0\n";

TEST(Memcg, ReadsTheProcessCgroupAndItsProcesses) {
  FixtureTree t;
  t.write("proc/77/cgroup", "0::/machine.slice/vm-a.scope\n");
  t.write("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
  t.write("sys/fs/cgroup/machine.slice/vm-a.scope/memory.stat", kStat);
  t.write("sys/fs/cgroup/machine.slice/vm-a.scope/cgroup.procs", "77\n");
  t.write("sys/fs/cgroup/machine.slice/vm-a.scope/vcpus/cgroup.procs", "78\n");
  auto m = read_memcg_page_tables(t.paths(), 77);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->cgroup, "/machine.slice/vm-a.scope");
  EXPECT_EQ(m->sec_pagetables_bytes, 20480u);
  std::sort(m->procs.begin(), m->procs.end());
  EXPECT_EQ(m->procs, (std::vector<int>{77, 78}));
}

TEST(Memcg, HybridHierarchyUsesTheUnifiedMount) {
  FixtureTree t;
  t.write("proc/77/cgroup", "4:memory:/user\n0::/a\n");
  t.write("sys/fs/cgroup/unified/a/memory.stat", kStat);
  t.write("sys/fs/cgroup/unified/a/cgroup.procs", "77\n");
  auto m = read_memcg_page_tables(t.paths(), 77);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->sec_pagetables_bytes, 20480u);
}

TEST(Memcg, NoV2MemoryControllerSaysSo) {
  FixtureTree t;
  // This project's development hosts: memory is a v1 controller, the
  // unified hierarchy has no memory.stat.
  t.write("proc/77/cgroup", "4:memory:/process_api/x\n0::/\n");
  t.mkdir("sys/fs/cgroup/unified");
  auto m = read_memcg_page_tables(t.paths(), 77);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("memory.stat"), std::string::npos) << m.error().message;
  // And a memory.stat without the field (Linux < 6.0):
  t.write("sys/fs/cgroup/unified/memory.stat", "anon 0\nfile 0\n");
  m = read_memcg_page_tables(t.paths(), 77);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("no sec_pagetables"), std::string::npos) << m.error().message;
}

TEST(Memcg, NoV2MembershipIsAnError) {
  FixtureTree t;
  t.write("proc/77/cgroup", "4:memory:/x\n");
  EXPECT_FALSE(read_memcg_page_tables(t.paths(), 77));
  EXPECT_FALSE(read_memcg_page_tables(t.paths(), 78));  // no such process
}

}  // namespace
}  // namespace tdpwatch::truth::testing

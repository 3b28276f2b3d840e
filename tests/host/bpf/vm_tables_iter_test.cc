// Host tests of the VM tables iterator (bpf/vm_tables_iter.bpf.c, LABELS
// host): it passes this kernel's verifier and, with a real VM held by
// tdpw_test_vmm, lists that VM once with its VMM's tgid, a complete status
// when PAGE_OFFSET is given, and roots only where this host has TDP roots
// (this one runs the shadow MMU, tdp_mmu=N: none).  The walk of real TDP
// tables is proved in the nested bed (tests/nested/, `tdpwatch audit`).
#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "daemon/probes/kallsyms.h"
#include "daemon/probes/vm_tables_iter.h"
#include "daemon/truth/kvm_params.h"
#include "tests/host/support/requirements.h"
#include "tests/host/support/subprocess.h"

namespace tdpwatch::host_test {
namespace {

using namespace std::chrono_literals;

TEST(VmTablesIterHost, LoadsAndListsALiveVmOnce) {
  TDPW_REQUIRE_ROOT();
  auto iter = probes::VmTablesIter::open();
  ASSERT_TRUE(iter) << iter.error().message;
  TDPW_REQUIRE_DEV_KVM();
  Process vmm = Process::spawn({TDPW_TEST_VMM_PATH, "--mem-mib", "16", "--touch-pages", "64",
                                "--hold-ms", "-1"});
  ASSERT_TRUE(vmm.wait_for_line(Process::Stream::kOut, "vmm holding", 30s)) << vmm.err();
  const std::uint64_t po_addr = probes::page_offset_base_address("/proc/kallsyms");
  auto walked = iter->read(po_addr, 0);
  vmm.signal(SIGTERM);
  EXPECT_EQ(vmm.wait(30s), 0) << vmm.err();
  ASSERT_TRUE(walked) << walked.error().message;
  int found = 0;
  for (const probes::WalkedVm& v : *walked) {
    if (v.tgid != static_cast<std::uint32_t>(vmm.pid())) continue;
    ++found;
    EXPECT_NE(v.kvm, 0u);
    EXPECT_EQ(v.kvm >> 63, 1u) << "struct kvm * is a kernel address";
    // Without PAGE_OFFSET only a VM with a TDP root is incomplete.
    EXPECT_EQ(v.status, po_addr != 0 || v.roots.empty() ? TDPW_TABLE_COMPLETE
                                                         : TDPW_TABLE_NO_PAGE_OFFSET)
        << probes::status_text(v.status);
    // tdp_mmu=N here: no TDP root, so nothing under one either.
    const auto params = truth::read_kvm_params(truth::Paths{});
    if (params && params->tdp_mmu() == false) {
      EXPECT_TRUE(v.roots.empty());
      EXPECT_TRUE(v.tables.empty());
    }
    RecordProperty("roots", static_cast<int>(v.roots.size()));
  }
  EXPECT_EQ(found, 1) << "the VMM's VM is listed exactly once";
}

}  // namespace
}  // namespace tdpwatch::host_test

// Figures a plan cannot follow come from the kernel (figures.h,
// kernel_owned_targets): leaf mappings without VM-context hooks, the
// possible-NX list without nx_track.  Set each tick, never compared, and
// marked with their source; unknown when the kernel cannot say either.
#include <gtest/gtest.h>

#include "tests/unit/reconcile/reconcile_fixture.h"

namespace tdpwatch::reconcile::testing {
namespace {

TEST(KernelOwnedFigures, LeavesComeFromTheKernelWithoutVmContextHooks) {
  Fixture f;
  f.get(1);
  f.kernel.shadow_pages = 1;
  f.kernel.leaf_pages = {8192, 16, 0};
  f.kernel.leaves_from_kernel = true;
  f.tick();
  const auto c = f.model.snapshot(kVm)->counts;
  EXPECT_EQ(c.leaf_pages[0], 8192);
  EXPECT_EQ(c.leaf_pages[1], 16);
  EXPECT_EQ(f.st().sources.leaf_mappings, "kernel");
  // Soft-dirty clear_refs from a shell zapped every leaf: the model never saw
  // it (unattributed), the next tick takes the kernel's figures again.
  f.kernel.leaf_pages = {0, 0, 0};
  f.tick();
  EXPECT_EQ(f.model.snapshot(kVm)->counts.leaf_pages[0], 0);
  for (const Figure& fig : f.st().figures) {
    EXPECT_EQ(fig.name.rfind("leaf_mappings", 0), std::string::npos) << "compared: " << fig.name;
  }
  EXPECT_EQ(f.count_logs("drift"), 0u);
  EXPECT_EQ(f.count_logs("resync"), 0u);
}

TEST(KernelOwnedFigures, LeavesUnknownWithoutTheKernelsFigures) {
  Fixture f;
  f.get(1);
  f.kernel.leaves_from_kernel = true;  // and no leaf figure gathered
  f.tick();
  EXPECT_EQ(f.st().sources.leaf_mappings, "unknown");
}

TEST(KernelOwnedFigures, NxListFromNxLpageSplitsWhenOnlyTdpCanHoldIt) {
  Fixture f;
  f.kernel.nx_from_kernel = true;
  f.kernel.shadow_pages = 0;
  f.kernel.nx_lpage_splits = 16;
  f.model.apply(events::root_alloc(kVm, {0x1000, 100, 0, role::synthesize(4, 0)}));
  f.tick();
  EXPECT_EQ(f.model.snapshot(kVm)->counts.possible_nx_huge_pages[TDPW_MMU_TDP], 16);
  EXPECT_EQ(f.model.snapshot(kVm)->counts.possible_nx_huge_pages[TDPW_MMU_SHADOW], 0);
  EXPECT_EQ(f.st().sources.possible_nx_huge_pages, "kernel");
  // NX recovery emptied the list.
  f.kernel.nx_lpage_splits = 0;
  f.tick();
  EXPECT_EQ(f.model.snapshot(kVm)->counts.possible_nx_huge_pages[TDPW_MMU_TDP], 0);
}

TEST(KernelOwnedFigures, NxListUnknownWhenBothMmusMayHoldIt) {
  Fixture f;
  f.get(1);  // a shadow page beside the TDP MMU (a nested guest)
  f.kernel.nx_from_kernel = true;
  f.kernel.shadow_pages = 1;
  f.kernel.nx_lpage_splits = 3;
  f.tick();
  EXPECT_EQ(f.st().sources.possible_nx_huge_pages, "unknown");
}

TEST(KernelOwnedFigures, PerTypeListsWhenTheKernelKeepsThem) {
  Fixture f;  // 6.18: possible_nx_huge_pages[type].nr_pages
  f.kernel.nx_from_kernel = true;
  f.kernel.possible_nx_huge_pages = {2, 5};
  f.get(1);
  f.kernel.shadow_pages = 1;
  f.tick();
  EXPECT_EQ(f.model.snapshot(kVm)->counts.possible_nx_huge_pages[TDPW_MMU_SHADOW], 2);
  EXPECT_EQ(f.model.snapshot(kVm)->counts.possible_nx_huge_pages[TDPW_MMU_TDP], 5);
  EXPECT_EQ(f.st().sources.possible_nx_huge_pages, "kernel");
  for (const Figure& fig : f.st().figures) {
    EXPECT_EQ(fig.name.find("possible_nx"), std::string::npos) << "compared: " << fig.name;
  }
}

TEST(KernelOwnedFigures, APlanThatFollowsThemKeepsTheModelsAndComparesThem) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));  // watched from creation: no baseline
  f.get(1);
  f.kernel.shadow_pages = 1;
  f.kernel.leaf_pages = {7, 0, 0};
  f.tick();
  EXPECT_EQ(f.model.snapshot(kVm)->counts.leaf_pages[0], 0);
  EXPECT_EQ(f.st().sources.leaf_mappings, "model");
  bool compared = false;
  for (const Figure& fig : f.st().figures) compared |= fig.name == "leaf_mappings_4k";
  EXPECT_TRUE(compared);
}

}  // namespace
}  // namespace tdpwatch::reconcile::testing

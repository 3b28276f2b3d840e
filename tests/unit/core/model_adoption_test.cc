// Adoption (core::Model::adopt, daemon/core/adoption.h): a VM older than the
// daemon takes the kernel's live structure, after which it behaves as if
// watched from its creation: its unlinks find their pages, its NX untracks
// their flags, its root puts their roots, and its teardown is clean.
#include <gtest/gtest.h>

#include "tests/unit/core/model_fixture.h"

namespace tdpwatch::core::testing {
namespace {

// A 4-level root at pfn 100 with one path down to a 4K table, and a second
// 4K table beside it; the level-2 table at pfn 102 is on the NX list.
Adoption one_path() {
  Adoption a;
  a.roots.push_back({0xffff888000001000ull, 100, 0, tdpwatch::role::synthesize(4, 0), 1});
  a.tables = {{0, 1, 0, 103, false}, {0, 3, 0, 101, false}, {0, 2, 0, 102, true},
              {0, 1, 512, 104, false}};
  return a;
}

TEST(ModelAdoption, AnOlderVmTakesTheKernelsTablesAndItsBaselineGoes) {
  Model m;
  ASSERT_TRUE(m.add_implicit(kVm, kTgid));
  // The reconciler's baseline before adoption: 4 pages the model never saw.
  CountTargets t;
  t.tdp_pages = 4;
  ASSERT_TRUE(m.set_counts(kVm, t));
  ASSERT_EQ(m.snapshot(kVm)->counts.tdp_pages_total(), 4);

  EXPECT_EQ(m.adopt(kVm, one_path()), 4u);
  const VmSnapshot s = *m.snapshot(kVm);
  EXPECT_TRUE(s.adopted);
  EXPECT_EQ(s.counts.tdp_pages_total(), 4) << "the pages replace the baseline, not add to it";
  EXPECT_EQ(s.offsets.tdp_pages, 0);
  EXPECT_EQ(tdp(m, 1), 2);
  EXPECT_EQ(tdp(m, 2), 1);
  EXPECT_EQ(tdp(m, 3), 1);
  EXPECT_EQ(s.counts.possible_nx_huge_pages[TDPW_MMU_TDP], 1);
  EXPECT_EQ(s.counts.roots_valid, 1);
  EXPECT_EQ(m.pages(kVm).size(), 4u);
  // Adopting the same structure again adds nothing.
  EXPECT_EQ(m.adopt(kVm, one_path()), 0u);
  EXPECT_EQ(m.snapshot(kVm)->counts.tdp_pages_total(), 4);
}

TEST(ModelAdoption, AnAdoptedVmTearsDownCleanly) {
  Model m;  // explicit plan: link_sp/unlink_sp, nx_untrack, root_put
  ModelOptions o;
  o.nx_untrack_events = true;
  m = Model(o);
  ASSERT_TRUE(m.add_implicit(kVm, kTgid));
  m.adopt(kVm, one_path());
  // The VMM exits: KVM zaps everything, as it would for a watched VM.
  m.apply(events::nx_untrack(kVm, page(102, 0, 2), TDPW_MMU_TDP));
  for (auto [pfn, gfn, level] : {std::tuple{103, 0, 1}, {104, 512, 1}, {102, 0, 2}, {101, 0, 3}}) {
    m.apply(events::unlink_sp(kVm, page(pfn, gfn, level)));
  }
  m.apply(events::root_put(kVm, page(100, 0, 4, 0, 0xffff888000001000ull), 1));
  m.apply(events::vm_destroy(kVm, kTgid));
  ASSERT_EQ(m.teardowns().size(), 1u);
  EXPECT_TRUE(m.teardowns()[0].empty()) << summarize(m.teardowns()[0], 8);
  EXPECT_EQ(m.global_inconsistencies()[static_cast<std::size_t>(Inconsistency::kDestroyUnknownVm)],
            0u);
}

// The last mmput() of the VMM's mm can come from another task (a reader of
// /proc/PID/cmdline, tdpwatchd itself): its zaps carry that task's tgid and
// the adopted tables are in no page_owner entry.  The page names its VM.
TEST(ModelAdoption, ZapsInAnotherTaskFindTheAdoptedVmByItsPage) {
  ModelOptions o;
  o.nx_untrack_events = true;
  Model m(o);
  constexpr std::uint64_t kReaderTgid = 777;  // no VMM
  ASSERT_TRUE(m.add_implicit(kVm, kTgid));
  m.adopt(kVm, one_path());
  ASSERT_TRUE(m.add_implicit(kVm2, kTgid + 1));  // another VM: must not take them
  m.apply(events::nx_untrack(kVm, page(102, 0, 2), TDPW_MMU_TDP));
  for (auto [pfn, gfn, level] : {std::tuple{103, 0, 1}, {104, 512, 1}, {102, 0, 2}, {101, 0, 3}}) {
    m.apply(events::unlink_sp(kReaderTgid, page(pfn, gfn, level)));
  }
  EXPECT_EQ(m.unattributed_events(), 0u);
  EXPECT_EQ(m.snapshot(kVm)->counts.tdp_pages_total(), 0);
  // A page no VM holds stays unattributed, as does one without a pfn.
  m.apply(events::unlink_sp(kReaderTgid, page(999, 0, 1)));
  m.apply(events::unlink_sp(kReaderTgid, page(0, 0, 1, 0, 0xffff888000002000ull)));
  EXPECT_EQ(m.unattributed_events(), 2u);
  m.apply(events::root_put(kVm, page(100, 0, 4, 0, 0xffff888000001000ull), 1));
  m.apply(events::vm_destroy(kVm, kTgid));
  ASSERT_EQ(m.teardowns().size(), 1u);
  EXPECT_TRUE(m.teardowns()[0].empty()) << summarize(m.teardowns()[0], 8);
}

// Without adoption the same teardown would name pages the model never saw
// as unknown unlinks: this is what adoption is for.
TEST(ModelAdoption, WithoutItTheUnlinksAreOfUnknownPages) {
  Model m;
  ASSERT_TRUE(m.add_implicit(kVm, kTgid));
  m.apply(events::unlink_sp(kVm, page(103, 0, 1)));
  EXPECT_GT(total_inconsistencies(m), 0u);
}

// The SPTE-stream plan removes adopted tables by their parent SPTE.
TEST(ModelAdoption, TracepointPlanRemovesAdoptedTablesFromTheStream) {
  ModelOptions o;
  o.structure_from_spte = true;
  o.root_release_events = false;
  Model m(o);
  ASSERT_TRUE(m.add_implicit(kTgid, kTgid));
  m.adopt(kTgid, one_path());
  SpteStream s{m, kTgid};
  // The level-3 entry of the root is zapped: the whole subtree goes.
  s.change(0, 4, events::nonleaf_spte(101), 0);
  EXPECT_EQ(m.snapshot(kTgid)->counts.tdp_pages_total(), 0);
  EXPECT_EQ(total_inconsistencies(m, kTgid), 0u);
}

}  // namespace
}  // namespace tdpwatch::core::testing

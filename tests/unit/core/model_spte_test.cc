// Structure and leaf statistics derived from SPTE changes alone (the
// tracepoint-only plan), mirroring handle_changed_spte() and
// handle_removed_pt() in arch/x86/kvm/mmu/tdp_mmu.c.
#include <gtest/gtest.h>

#include "tests/unit/core/model_fixture.h"

namespace tdpwatch::core::testing {
namespace {

using spte::kFrozenSpte;
using spte::kShadowNonpresentValue;

class SpteModel : public ::testing::Test {
 protected:
  SpteModel() : model_(ModelOptions{.structure_from_spte = true}), s_{model_} {
    model_.apply(events::vm_create(kVm, kTgid));
  }
  // root (level 4) -> L3 table 100 -> L2 table 200 -> L1 table 300, gfn 0.
  void build_path() {
    s_.link(0, 4, 100);
    s_.link(0, 3, 200);
    s_.link(0, 2, 300);
  }
  Model model_;
  SpteStream s_;
};

// A non-present SPTE becoming a present non-leaf one links the child table
// (tdp_mmu_link_sp -> tdp_account_mmu_page), one level below the entry.
TEST_F(SpteModel, NonleafSpteLinksChildTable) {
  build_path();
  EXPECT_EQ(tdp(model_, 3), 1);
  EXPECT_EQ(tdp(model_, 2), 1);
  EXPECT_EQ(tdp(model_, 1), 1);
  EXPECT_EQ(model_.snapshot(kVm)->counts.tdp_pages_total(), 3);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
}

// From 6.10 non-present SPTEs carry bit 63 (SHADOW_NONPRESENT_VALUE).
TEST_F(SpteModel, NonPresentValueWithBit63) {
  s_.link(0, 4, 100, kShadowNonpresentValue);
  EXPECT_EQ(tdp(model_, 3), 1);
  s_.change(0, 4, events::nonleaf_spte(100), kShadowNonpresentValue);
  EXPECT_EQ(tdp(model_, 3), 0);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
}

// Only non-root pages count: root entries at the root level link level-3
// tables; nothing counts the root itself.
TEST_F(SpteModel, RootsAreNotCounted) {
  s_.link(0, 4, 100);
  const auto snap = *model_.snapshot(kVm);
  EXPECT_EQ(snap.counts.tdp_pages_total(), 1);
  EXPECT_EQ(snap.counts.tdp_pages[0][3], 0);
}

// kvm_update_page_stats(kvm, level, is_leaf ? 1 : -1) when leafness changes.
TEST_F(SpteModel, LeafStatsFollowKvmUpdatePageStats) {
  build_path();
  s_.map(0, 1, 0x1000);
  s_.map(1, 1, 0x1001);
  s_.map(512, 2, 0x2000);                                    // a 2M leaf
  s_.change(1u << 18, 3, 0, events::leaf_spte(0x40000, 3));  // a 1G leaf
  EXPECT_EQ(leaves(model_, 1), 2);
  EXPECT_EQ(leaves(model_, 2), 1);
  EXPECT_EQ(leaves(model_, 3), 1);
  // Same leaf, new permission bits: no change in the stats.
  s_.change(0, 1, events::leaf_spte(0x1000, 1), events::leaf_spte(0x1000, 1) | (1ull << 1));
  EXPECT_EQ(leaves(model_, 1), 2);
  s_.change(1, 1, events::leaf_spte(0x1001, 1), 0);
  EXPECT_EQ(leaves(model_, 1), 1);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
}

// Non-present to non-present (MMIO SPTEs, freezing): nothing to do.
TEST_F(SpteModel, NonPresentToNonPresentIsIgnored) {
  build_path();
  s_.change(5, 1, 0, 0x6 | (1ull << 52));  // an MMIO SPTE
  s_.change(5, 1, 0, kFrozenSpte);
  EXPECT_EQ(leaves(model_, 1), 0);
  EXPECT_EQ(model_.snapshot(kVm)->counts.tdp_pages_total(), 3);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
}

// tdp_mmu_split_huge_page(): the child arrives with 512 leaves, added by
// kvm_update_page_stats(kvm, level - 1, SPTE_ENT_PER_PAGE); the huge leaf
// leaving is the -1 of handle_changed_spte().
TEST_F(SpteModel, SplitHugePage) {
  s_.link(0, 4, 100);
  s_.link(0, 3, 200);
  s_.map(512, 2, 0x2000);
  s_.change(512, 2, events::leaf_spte(0x2000, 2), events::nonleaf_spte(300));
  EXPECT_EQ(leaves(model_, 2), 0);
  EXPECT_EQ(leaves(model_, 1), 512);
  EXPECT_EQ(tdp(model_, 1), 1);
}

// Zapping a present non-leaf SPTE removes the child table and everything
// under it at once (handle_removed_pt recursion); the kernel's own per-child
// events that follow (old -> FROZEN_SPTE) must not count twice.
TEST_F(SpteModel, RemovingATableRemovesItsSubtree) {
  build_path();
  s_.map(0, 1, 0x1000);
  s_.map(512, 2, 0x2000);
  s_.change(0, 4, events::nonleaf_spte(100), 0);  // zap the L3 table
  EXPECT_EQ(model_.snapshot(kVm)->counts.tdp_pages_total(), 0);
  // The kernel walks the removed tables: parent entries first, then children.
  s_.change(0, 3, events::nonleaf_spte(200), kFrozenSpte);
  s_.change(0, 2, events::nonleaf_spte(300), kFrozenSpte);
  s_.change(512, 2, events::leaf_spte(0x2000, 2), kFrozenSpte);
  s_.change(0, 1, events::leaf_spte(0x1000, 1), kFrozenSpte);
  const auto snap = *model_.snapshot(kVm);
  EXPECT_EQ(snap.counts.tdp_pages_total(), 0);
  EXPECT_EQ(snap.counts.leaf_pages[0], 0);
  EXPECT_EQ(snap.counts.leaf_pages[1], 0);
  EXPECT_EQ(snap.counts.unlink_sp_total, 3u);
  EXPECT_EQ(snap.inconsistencies_total, 0u);
  EXPECT_EQ(model_.tracked_pages(), 0u);
}

// Without the child events (a lossy stream) the page counts are still right,
// and the teardown reports no leak.
TEST_F(SpteModel, SubtreeRemovalSurvivesLostChildEvents) {
  build_path();
  s_.change(0, 4, events::nonleaf_spte(100), kShadowNonpresentValue);
  EXPECT_EQ(model_.snapshot(kVm)->counts.tdp_pages_total(), 0);
  model_.apply(events::vm_destroy(kVm, kTgid));
  ASSERT_EQ(model_.teardowns().size(), 1u);
  EXPECT_TRUE(model_.teardowns()[0].empty());
}

// A huge leaf replacing a table (the NX recovery / collapse path) removes it.
TEST_F(SpteModel, LeafReplacingTableRemovesIt) {
  build_path();
  s_.change(0, 2, events::nonleaf_spte(300), events::leaf_spte(0x3000, 2));
  EXPECT_EQ(tdp(model_, 1), 0);
  EXPECT_EQ(leaves(model_, 2), 1);
}

TEST_F(SpteModel, FrameReuseAfterRemoval) {
  build_path();
  s_.change(0, 2, events::nonleaf_spte(300), 0);
  s_.link(0, 2, 300);  // the same frame comes back from the page cache
  EXPECT_EQ(tdp(model_, 1), 1);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
}

struct BadSpteCase {
  const char* name;
  Inconsistency kind;
};

class SpteInconsistency : public SpteModel, public ::testing::WithParamInterface<BadSpteCase> {};

TEST_P(SpteInconsistency, IsCountedAndStateStaysSane) {
  build_path();
  const Inconsistency kind = GetParam().kind;
  switch (kind) {
    case Inconsistency::kUnlinkUnknownPage:
      s_.change(1u << 9, 2, events::nonleaf_spte(999), 0);
      break;
    case Inconsistency::kDoubleLink:
      s_.link(0, 2, 300);
      break;
    case Inconsistency::kUnknownParent:
      s_.map(1ull << 30, 1, 0x5000);  // no L1 table covers that gfn
      break;
    case Inconsistency::kLeafPfnChanged:  // the kernel BUG()s
      s_.map(0, 1, 0x1000);
      s_.change(0, 1, events::leaf_spte(0x1000, 1), events::leaf_spte(0x1001, 1));
      break;
    case Inconsistency::kBadLevel:
      s_.change(0, 7, 0, events::nonleaf_spte(5));
      break;
    default:
      FAIL();
  }
  EXPECT_EQ(count(model_, kind), 1u) << GetParam().name;
  EXPECT_EQ(model_.snapshot(kVm)->counts.tdp_pages_total(), 3) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SpteInconsistency,
    ::testing::Values(BadSpteCase{"unlink_unknown", Inconsistency::kUnlinkUnknownPage},
                      BadSpteCase{"double_link", Inconsistency::kDoubleLink},
                      BadSpteCase{"unknown_parent", Inconsistency::kUnknownParent},
                      BadSpteCase{"leaf_pfn_changed", Inconsistency::kLeafPfnChanged},
                      BadSpteCase{"bad_level", Inconsistency::kBadLevel}),
    [](const auto& p) { return std::string(p.param.name); });

// SMM (as_id 1) pages are counted apart from as_id 0 ones.
TEST_F(SpteModel, AddressSpacesAreSeparate) {
  build_path();
  SpteStream smm{model_, kVm, 1};
  smm.link(0, 4, 1100);
  EXPECT_EQ(tdp(model_, 3, 1), 1);
  EXPECT_EQ(tdp(model_, 3, 0), 1);
  smm.change(0, 4, events::nonleaf_spte(1100), 0);
  EXPECT_EQ(tdp(model_, 3, 1), 0);
  EXPECT_EQ(tdp(model_, 3, 0), 1);
}

// ABI 2: the probes count leaf statistics and fold them as
// TDPW_EV_LEAF_STATS; the records of changes of structure they still send
// are flagged TDPW_F_LEAVES_COUNTED and move no leaf a second time.
TEST_F(SpteModel, FoldedLeavesCountOnceAndFlaggedRecordsMoveOnlyStructure) {
  build_path();
  // A split at gfn 512 (L2): the probes counted -1 2M, +512 4K already.
  s_.map(512, 2, 0x4000);
  Event split = events::spte_changed(kVm, 0, 512, 2, events::leaf_spte(0x4000, 2),
                                     events::nonleaf_spte(400));
  split.flags = TDPW_F_LEAVES_COUNTED;
  model_.apply(split);
  const VmCounts before = model_.snapshot(kVm)->counts;
  EXPECT_EQ(before.leaf_pages[1], 1);  // only the unflagged map moved it
  EXPECT_EQ(before.leaf_pages[0], 0);
  EXPECT_EQ(tdp(model_, 1), 2);        // the structure did move
  model_.apply(events::leaf_stats(kVm, 512 + 7, -1, 0, 9));
  const VmCounts after = model_.snapshot(kVm)->counts;
  EXPECT_EQ(after.leaf_pages[0], 519);
  EXPECT_EQ(after.leaf_pages[1], 0);
  // Events: the unflagged ones one each, the flagged split within the fold's 9.
  EXPECT_EQ(after.spte_changed_total, before.spte_changed_total + 9);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
}

// The last fold of a VM's counters can come after its teardown: not an
// event after destroy.  A fold for a task that is no VM's counts its changes
// as unattributed.
TEST_F(SpteModel, LateFoldsAreQuietAndForeignFoldsCountTheirChanges) {
  model_.apply(events::vm_destroy(kVm, kTgid));
  model_.apply(events::leaf_stats(kVm, -40, 0, 0, 40));
  EXPECT_FALSE(model_.snapshot(kVm));
  for (std::uint64_t n : model_.global_inconsistencies()) EXPECT_EQ(n, 0u);
  const std::uint64_t kswapd = 53;
  model_.apply(events::leaf_stats(kswapd, -3, 0, 0, 5));
  EXPECT_EQ(model_.unattributed_events(), 5u);
  EXPECT_FALSE(model_.snapshot(kswapd));
}

}  // namespace
}  // namespace tdpwatch::core::testing

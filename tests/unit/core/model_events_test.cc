// Link/unlink and NX tracking from explicit events (fentry/kprobe plans),
// mirroring tdp_mmu_link_sp(), tdp_mmu_unlink_sp() and the NX track/untrack
// functions of the three kernel eras.
#include <gtest/gtest.h>

#include "tests/unit/core/model_fixture.h"

namespace tdpwatch::core::testing {
namespace {

class EventModel : public ::testing::Test {
 protected:
  explicit EventModel(ModelOptions options = {}) : model_(options), s_{model_} {
    model_.apply(events::vm_create(kVm, kTgid));
  }
  void link(const events::PageRef& p, bool nx = false, bool account_nx = false) {
    model_.apply(events::link_sp(kVm, p, nx, account_nx));
  }
  const std::int64_t& nx(int mmu_type) const {
    snap_ = *model_.snapshot(kVm);
    return snap_.counts.possible_nx_huge_pages[mmu_type];
  }
  Model model_;
  SpteStream s_;
  mutable VmSnapshot snap_;
};

const events::PageRef kL3 = page(100, 0, 3, 0, 0xffff888000100000);
const events::PageRef kL2 = page(200, 0, 2, 0, 0xffff888000200000);
const events::PageRef kL1 = page(300, 0, 1, 0, 0xffff888000300000);

// tdp_mmu_link_sp() -> tdp_account_mmu_page(): counted by level.
TEST_F(EventModel, LinkCountsByLevel) {
  link(kL3);
  link(kL2);
  link(kL1);
  EXPECT_EQ(tdp(model_, 3), 1);
  EXPECT_EQ(tdp(model_, 2), 1);
  EXPECT_EQ(tdp(model_, 1), 1);
  EXPECT_EQ(model_.snapshot(kVm)->counts.link_sp_total, 3u);
}

// tdp_mmu_link_sp() returns -EBUSY when it loses the cmpxchg: nothing linked.
TEST_F(EventModel, FailedLinkIsNotCounted) {
  model_.apply(events::link_sp(kVm, kL3, false, false, -16));
  EXPECT_EQ(tdp(model_, 3), 0);
  EXPECT_EQ(model_.snapshot(kVm)->counts.link_sp_failed_total, 1u);
}

// In this plan SPTE changes move only the leaf stats, never the structure.
TEST_F(EventModel, SpteEventsDoNotLinkInExplicitMode) {
  s_.link(0, 4, 100);
  EXPECT_EQ(tdp(model_, 3), 0);
  link(kL3);
  EXPECT_EQ(tdp(model_, 3), 1);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
}

// tdp_unaccount_mmu_page() runs in tdp_mmu_unlink_sp(), before the RCU free:
// the count drops at the unlink event; no free event is needed.
TEST_F(EventModel, AccountingDropsAtUnlink) {
  link(kL3);
  link(kL2);
  model_.apply(events::unlink_sp(kVm, kL2));
  EXPECT_EQ(tdp(model_, 2), 0);
  EXPECT_EQ(tdp(model_, 3), 1);
  EXPECT_EQ(model_.tracked_pages(), 1u);
}

// Pages may be known by sp alone (no pfn) and still be matched.
TEST_F(EventModel, PagesKnownBySpOnly) {
  events::PageRef by_sp = kL2;
  by_sp.pfn = 0;
  link(by_sp);
  model_.apply(events::unlink_sp(kVm, by_sp));
  EXPECT_EQ(tdp(model_, 2), 0);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
}

TEST_F(EventModel, DoubleLinkAndUnknownUnlinkAreCounted) {
  link(kL3);
  link(kL3);
  model_.apply(events::unlink_sp(kVm, kL2));
  EXPECT_EQ(tdp(model_, 3), 1);
  EXPECT_EQ(count(model_, Inconsistency::kDoubleLink), 1u);
  EXPECT_EQ(count(model_, Inconsistency::kUnlinkUnknownPage), 1u);
}

// 6.12 kvm_tdp_mmu_map(): track_possible_nx_huge_page() after the link.
TEST_F(EventModel, NxTrackAndUntrackPerMmuType) {
  link(kL1, /*nx=*/true);
  model_.apply(events::nx_track(kVm, kL1, TDPW_MMU_TDP));
  EXPECT_EQ(nx(TDPW_MMU_TDP), 1);
  EXPECT_EQ(nx(TDPW_MMU_SHADOW), 0);
  model_.apply(events::nx_untrack(kVm, kL1, TDPW_MMU_TDP));
  EXPECT_EQ(nx(TDPW_MMU_TDP), 0);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
}

TEST_F(EventModel, NxMisuseIsCounted) {
  link(kL1);
  model_.apply(events::nx_untrack(kVm, kL1, TDPW_MMU_TDP));  // never tracked
  model_.apply(events::nx_track(kVm, kL2, TDPW_MMU_TDP));    // unknown page
  model_.apply(events::nx_track(kVm, kL1, TDPW_MMU_TDP));
  model_.apply(events::nx_track(kVm, kL1, TDPW_MMU_TDP));  // twice
  EXPECT_EQ(count(model_, Inconsistency::kUntrackUntracked), 1u);
  EXPECT_EQ(count(model_, Inconsistency::kTrackUnknownPage), 1u);
  EXPECT_EQ(count(model_, Inconsistency::kDoubleTrack), 1u);
  EXPECT_EQ(nx(TDPW_MMU_TDP), 1);
}

// 6.1: tdp_mmu_link_sp(..., account_nx, ...) calls account_huge_nx_page()
// itself, so the link tracks the page.
TEST_F(EventModel, Era61AccountNxTracksInLink) {
  link(kL1, /*nx=*/true, /*account_nx=*/true);
  EXPECT_EQ(nx(TDPW_MMU_TDP), 1);
  // tdp_mmu_unlink_sp() untracks it (the source reports no untrack here).
  model_.apply(events::unlink_sp(kVm, kL1));
  EXPECT_EQ(nx(TDPW_MMU_TDP), 0);
  EXPECT_EQ(model_.snapshot(kVm)->counts.nx_untrack_total, 1u);
  EXPECT_EQ(model_.tracked_pages(), 0u);
}

class EventModelUntrackEvents : public EventModel {
 protected:
  EventModelUntrackEvents() : EventModel(ModelOptions{.nx_untrack_events = true}) {}
};

// When the source reports the untrack done inside tdp_mmu_unlink_sp(), the
// page leaves the NX list at that event, after the unlink, as in the kernel.
TEST_F(EventModelUntrackEvents, UnlinkWaitsForItsUntrackEvent) {
  link(kL1, true);
  model_.apply(events::nx_track(kVm, kL1, TDPW_MMU_TDP));
  model_.apply(events::unlink_sp(kVm, kL1));
  EXPECT_EQ(tdp(model_, 1), 0);
  EXPECT_EQ(nx(TDPW_MMU_TDP), 1);
  model_.apply(events::nx_untrack(kVm, kL1, TDPW_MMU_TDP));
  EXPECT_EQ(nx(TDPW_MMU_TDP), 0);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
  EXPECT_EQ(model_.tracked_pages(), 0u);
}

// 6.18 NX recovery untracks first, then zaps: the unlink has nothing to untrack.
TEST_F(EventModelUntrackEvents, Era618RecoveryUntracksBeforeZap) {
  link(kL1, true);
  model_.apply(events::nx_track(kVm, kL1, TDPW_MMU_TDP));
  model_.apply(events::nx_untrack(kVm, kL1, TDPW_MMU_TDP));
  model_.apply(events::unlink_sp(kVm, kL1));
  EXPECT_EQ(nx(TDPW_MMU_TDP), 0);
  EXPECT_EQ(model_.tracked_pages(), 0u);
  EXPECT_EQ(total_inconsistencies(model_), 0u);
}

// Shadow MMU: kvm_mmu_get_page(created) / __kvm_mmu_prepare_zap_page().
TEST_F(EventModel, ShadowPages) {
  const events::PageRef a = page(0, 0x100, 1, 0, 0xffff888000a00000);
  const events::PageRef b = page(0, 0x200, 4, 0, 0xffff888000b00000);
  model_.apply(events::shadow_get(kVm, a, true));
  model_.apply(events::shadow_get(kVm, a, false));  // cache hit
  model_.apply(events::shadow_get(kVm, b, true));
  EXPECT_EQ(model_.snapshot(kVm)->counts.shadow_pages, 2);
  model_.apply(events::nx_track(kVm, a, TDPW_MMU_SHADOW));
  EXPECT_EQ(nx(TDPW_MMU_SHADOW), 1);
  model_.apply(events::shadow_zap(kVm, a));  // unaccount_nx_huge_page() in the zap
  EXPECT_EQ(nx(TDPW_MMU_SHADOW), 0);
  model_.apply(events::shadow_zap(kVm, b, /*root_count=*/1));  // a root in use stays
  EXPECT_EQ(model_.snapshot(kVm)->counts.shadow_pages, 1);
  model_.apply(events::shadow_zap(kVm, b, 0));
  const auto snap = *model_.snapshot(kVm);
  EXPECT_EQ(snap.counts.shadow_pages, 0);
  EXPECT_EQ(snap.counts.shadow_created_total, 2u);
  EXPECT_EQ(snap.counts.shadow_zapped_total, 3u);  // as kvm->stat.mmu_shadow_zapped
  EXPECT_EQ(snap.inconsistencies_total, 0u);
}

// Roots live apart from the page counts: alloc, invalidate, put to zero.
TEST_F(EventModel, RootsLifecycle) {
  const events::PageRef root = page(50, 0, 4, 0, 0xffff888000050000);
  model_.apply(events::root_alloc(kVm, root, 2));
  model_.apply(events::root_alloc(kVm, root));  // second vCPU reuses it
  auto snap = *model_.snapshot(kVm);
  EXPECT_EQ(snap.counts.roots_valid, 1);
  EXPECT_EQ(snap.counts.tdp_pages_total(), 0);
  model_.apply(events::root_invalidate(kVm, root));
  snap = *model_.snapshot(kVm);
  EXPECT_EQ(snap.counts.roots_valid, 0);
  EXPECT_EQ(snap.counts.roots_invalid, 1);
  model_.apply(events::root_put(kVm, root));
  model_.apply(events::root_put(kVm, root));
  EXPECT_EQ(model_.snapshot(kVm)->counts.roots_invalid, 1);
  // refcount 1 -> 0: kvm_tdp_mmu_put_root() takes it off tdp_mmu_roots.
  model_.apply(events::root_put(kVm, root));
  EXPECT_EQ(model_.snapshot(kVm)->counts.roots_invalid, 0);
  model_.apply(events::root_put(kVm, root));
  EXPECT_EQ(count(model_, Inconsistency::kRootRefcountUnderflow), 1u);
  // Its RCU free comes later and is expected.
  model_.apply(events::root_free(kVm, root));
  model_.apply(events::root_free(kVm, root));
  EXPECT_EQ(count(model_, Inconsistency::kUnknownRoot), 1u);
  model_.apply(events::vm_destroy(kVm, kTgid));
  EXPECT_TRUE(model_.teardowns().back().empty());
}

// The tables of an invalidated root and of its successor cover the same
// ranges until the old root is zapped: removing the old tables must not take
// the new ones with them.
TEST(SpteTwoRoots, ZappingTheOldRootSparesTheNewOne) {
  Model m(ModelOptions{.structure_from_spte = true});
  m.apply(events::vm_create(kVm, kTgid));
  SpteStream s{m};
  const auto root_a = page(10, 0, 4), root_b = page(20, 0, 4);
  m.apply(events::root_alloc(kVm, root_a, 2));
  s.link(0, 4, 0x101);  // A's L3
  m.apply(events::root_invalidate(kVm, root_a));
  m.apply(events::root_alloc(kVm, root_b, 2));
  s.link(0, 4, 0x201);  // B's L3
  s.link(0, 3, 0x202);  // an L2 under B's L3 (or A's: the event cannot say)
  s.change(0, 4, events::nonleaf_spte(0x101), 0);  // zap A's L3
  EXPECT_EQ(tdp(m, 3), 1);
  EXPECT_EQ(tdp(m, 2), 1);
  EXPECT_EQ(total_inconsistencies(m), 0u);
}

TEST_F(EventModel, RootPutWithKernelRefcount) {
  const events::PageRef root = page(50, 0, 4);
  model_.apply(events::root_alloc(kVm, root));  // refcount unknown
  model_.apply(events::root_put(kVm, root, 2));
  EXPECT_EQ(model_.snapshot(kVm)->counts.roots_valid, 1);
  model_.apply(events::root_put(kVm, root, 1));
  EXPECT_EQ(model_.snapshot(kVm)->counts.roots_valid, 0);
}

}  // namespace
}  // namespace tdpwatch::core::testing

// Model::set_counts(): a resync after lost events, or a baseline for a VM
// first seen mid-life, sets figures the events alone cannot know.
#include <gtest/gtest.h>

#include "tests/unit/core/model_fixture.h"

namespace tdpwatch::core::testing {
namespace {

constexpr std::uint64_t kSp1 = 0xffff888000111000ull;
constexpr std::uint64_t kSp2 = 0xffff888000222000ull;

CountTargets shadow_target(std::int64_t n) {
  CountTargets t;
  t.shadow_pages = n;
  return t;
}

TEST(SetCounts, UnknownVmIsRefused) {
  Model m;
  EXPECT_FALSE(m.set_counts(kVm, shadow_target(3)));
}

TEST(SetCounts, SetsOnlyTheGivenFiguresAndEventsMoveOnFromThere) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  m.apply(events::shadow_get(kVm, page(0, 1, 1, 0, kSp1), true));
  CountTargets t;
  t.shadow_pages = 4;    // three gets were lost
  t.leaf_pages[0] = 10;  // from stat.pages[]
  ASSERT_TRUE(m.set_counts(kVm, t));
  auto s = m.snapshot(kVm);
  EXPECT_EQ(s->counts.shadow_pages, 4);
  EXPECT_EQ(s->counts.leaf_pages[0], 10);
  EXPECT_EQ(s->counts.tdp_pages_total(), 0);  // not given: untouched
  EXPECT_EQ(s->offsets.shadow_pages, 3);
  EXPECT_EQ(s->offsets.leaf_pages[0], 10);

  m.apply(events::shadow_get(kVm, page(0, 2, 1, 0, kSp2), true));
  EXPECT_EQ(m.snapshot(kVm)->counts.shadow_pages, 5);
}

// The zap of a page whose get was lost is one of the pages the offset
// stands for: it consumes the offset, no inconsistency.
TEST(SetCounts, ZapOfAnUnseenPageConsumesThePositiveOffset) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  ASSERT_TRUE(m.set_counts(kVm, shadow_target(2)));
  m.apply(events::shadow_zap(kVm, page(0, 1, 1, 0, kSp1), /*root_count=*/1));  // still a root
  EXPECT_EQ(m.snapshot(kVm)->counts.shadow_pages, 2);
  m.apply(events::shadow_zap(kVm, page(0, 1, 1, 0, kSp1)));
  m.apply(events::shadow_zap(kVm, page(0, 2, 1, 0, kSp2)));
  EXPECT_EQ(m.snapshot(kVm)->counts.shadow_pages, 0);
  EXPECT_EQ(total_inconsistencies(m), 0u);
  // With the offset used up, an unknown zap is an inconsistency again.
  m.apply(events::shadow_zap(kVm, page(0, 3, 1, 0, 0xffff888000333000ull)));
  EXPECT_EQ(count(m, Inconsistency::kShadowZapUnknown), 1u);
  EXPECT_EQ(m.snapshot(kVm)->counts.shadow_pages, 0);
}

TEST(SetCounts, UnlinkOfAnUnseenTdpPageConsumesThePositiveOffset) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  CountTargets t;
  t.tdp_pages = 1;
  ASSERT_TRUE(m.set_counts(kVm, t));
  EXPECT_EQ(tdp(m, 1), 1);  // the kernel's counter has no split: level 1, as 0
  m.apply(events::unlink_sp(kVm, page(100, 0, 3)));
  EXPECT_EQ(m.snapshot(kVm)->counts.tdp_pages_total(), 0);
  EXPECT_EQ(total_inconsistencies(m), 0u);
}

// A zap whose event was lost leaves the page in the model; the resync's
// negative offset says the kernel no longer holds it: no leak at teardown.
TEST(SetCounts, NegativeOffsetClearsTheStalePagesFromTheLeakRecord) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  m.apply(events::shadow_get(kVm, page(0, 1, 1, 0, kSp1), true));
  m.apply(events::shadow_get(kVm, page(0, 2, 1, 0, kSp2), true));
  // The zap of kSp1 was lost; the lossless counters say 1.
  ASSERT_TRUE(m.set_counts(kVm, shadow_target(1)));
  m.apply(events::shadow_zap(kVm, page(0, 2, 1, 0, kSp2)));
  EXPECT_EQ(m.snapshot(kVm)->counts.shadow_pages, 0);
  m.apply(events::vm_destroy(kVm, kTgid));
  ASSERT_EQ(m.teardowns().size(), 1u);
  EXPECT_TRUE(m.teardowns()[0].empty()) << summarize(m.teardowns()[0], 4);
  EXPECT_TRUE(m.teardowns()[0].pages.empty());
}

// A positive offset left at teardown is pages the kernel held and never gave
// back: still a leak, counted, without page detail.
TEST(SetCounts, PositiveOffsetLeftAtTeardownIsALeak) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  ASSERT_TRUE(m.set_counts(kVm, shadow_target(2)));
  m.apply(events::shadow_zap(kVm, page(0, 1, 1, 0, kSp1)));
  m.apply(events::vm_destroy(kVm, kTgid));
  ASSERT_EQ(m.teardowns().size(), 1u);
  EXPECT_EQ(m.teardowns()[0].shadow_pages, 1);
  EXPECT_TRUE(m.teardowns()[0].pages.empty());
}

}  // namespace
}  // namespace tdpwatch::core::testing

namespace tdpwatch::core::testing {
namespace {

TEST(AddImplicit, TracksAQuietVmLearnedFromTheKernel) {
  Model m;
  ASSERT_TRUE(m.add_implicit(kVm, kTgid));
  auto s = m.snapshot(kVm);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->implicit);
  EXPECT_EQ(s->tgid, kTgid);
  EXPECT_FALSE(m.add_implicit(kVm, kTgid));  // known
  // Its events land on it; its VM_CREATE, if late, adopts it.
  m.apply(events::shadow_get(kVm, page(0, 1, 1, 0, kSp1), true));
  EXPECT_EQ(m.snapshot(kVm)->counts.shadow_pages, 1);
  m.apply(events::vm_create(kVm, kTgid));
  EXPECT_FALSE(m.snapshot(kVm)->implicit);
  EXPECT_EQ(m.snapshot(kVm)->counts.shadow_pages, 1);
}

TEST(AddImplicit, RefusesAVmJustTornDown) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  m.apply(events::vm_destroy(kVm, kTgid));
  EXPECT_FALSE(m.add_implicit(kVm, kTgid));
  EXPECT_FALSE(m.snapshot(kVm));
}

}  // namespace
}  // namespace tdpwatch::core::testing

namespace tdpwatch::core::testing {
namespace {

// Tracepoint-only plans: a baselined VM's tables, linked before the daemon,
// leave through the SPTE stream (handle_removed_pt() and its recursion).
TEST(SetCounts, SpteStreamRemovalOfUnseenTablesConsumesTheOffset) {
  Model m(ModelOptions{.structure_from_spte = true, .root_release_events = false});
  ASSERT_TRUE(m.add_implicit(kVm, kTgid));
  CountTargets t;
  t.tdp_pages = 2;  // an L3 table with one L2 table under it, linked before us
  ASSERT_TRUE(m.set_counts(kVm, t));
  SpteStream s{m};
  // The L4 entry pointing at the L3 table (pfn 300) goes: the kernel then
  // walks the L3 table and removes its L2 child (pfn 200).
  s.change(0, 4, events::nonleaf_spte(300), 0);
  s.change(0, 3, events::nonleaf_spte(200), 0);
  EXPECT_EQ(m.snapshot(kVm)->counts.tdp_pages_total(), 0);
  EXPECT_EQ(count(m, Inconsistency::kUnlinkUnknownPage), 0u);
  // With the offset used up, an unknown removal is an inconsistency again.
  s.change(0, 4, events::nonleaf_spte(400), 0);
  EXPECT_EQ(count(m, Inconsistency::kUnlinkUnknownPage), 1u);
}

}  // namespace
}  // namespace tdpwatch::core::testing

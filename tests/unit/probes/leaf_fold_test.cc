// The daemon's fold of the probes' leaf statistics into TDPW_EV_LEAF_STATS
// (daemon/probes/leaf_fold.h): differences between reads, entries deleted
// and made again, and a struct kvm reused at the same address.
#include "daemon/probes/leaf_fold.h"

#include <gtest/gtest.h>

namespace tdpwatch::probes {
namespace {

constexpr std::uint64_t kKvm = 0xffff888012340000ull;
constexpr std::uint64_t kTgid = 4242;

tdpw_vm_counters entry(std::int64_t p4k, std::int64_t p2m, std::uint64_t changes,
                       std::uint64_t generation = 0) {
  tdpw_vm_counters c{};
  c.leaf_pages[0] = p4k;
  c.leaf_pages[1] = p2m;
  c.events[TDPW_EV_SPTE_CHANGED] = changes;
  c.generation = generation;
  return c;
}

TEST(LeafFold, FoldsTheGrowthSinceTheLastReadAndNothingWhenNothingMoved) {
  LeafFold f;
  std::map<std::uint64_t, tdpw_kernel_truth> truth;
  truth[kKvm].tgid = 777;
  auto out = f.fold({{kKvm, entry(10, 1, 12)}, {kTgid, entry(3, 0, 3)}}, truth, 5);
  ASSERT_EQ(out.size(), 2u);
  for (const Event& ev : out) {
    EXPECT_EQ(ev.type, TDPW_EV_LEAF_STATS);
    EXPECT_EQ(ev.ts_ns, 5u);
    EXPECT_EQ(ev.flags, 0);
  }
  // std::map order: the tgid key first.
  EXPECT_EQ(out[0].vm, kTgid);
  EXPECT_EQ(out[0].tgid, kTgid);
  EXPECT_EQ(out[1].vm, kKvm);
  EXPECT_EQ(out[1].tgid, 777u);  // kvm->userspace_pid
  EXPECT_EQ(out[1].leaf.pages[0], 10);
  EXPECT_EQ(out[1].leaf.pages[1], 1);
  EXPECT_EQ(out[1].leaf.spte_changes, 12u);

  out = f.fold({{kKvm, entry(7, 2, 20)}, {kTgid, entry(3, 0, 3)}}, truth, 6);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].leaf.pages[0], -3);
  EXPECT_EQ(out[0].leaf.pages[1], 1);
  EXPECT_EQ(out[0].leaf.spte_changes, 8u);
  EXPECT_TRUE(f.fold({{kKvm, entry(7, 2, 20)}, {kTgid, entry(3, 0, 3)}}, truth, 7).empty());
}

// Attribute-only changes (aging) move no leaf but are SPTE changes: folded,
// so the model's event totals match the probes'.
TEST(LeafFold, ChangesWithoutLeafMovementAreFoldedToo) {
  LeafFold f;
  (void)f.fold({{kKvm, entry(5, 0, 5)}}, {}, 1);
  const auto out = f.fold({{kKvm, entry(5, 0, 9)}}, {}, 2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].leaf.pages[0], 0);
  EXPECT_EQ(out[0].leaf.spte_changes, 4u);
}

TEST(LeafFold, AnEntryDeletedAndMadeAgainCountsFromZero) {
  LeafFold f;
  (void)f.fold({{kTgid, entry(100, 0, 150)}}, {}, 1);
  // Gone from the map (deleted by the daemon): forgotten.
  EXPECT_TRUE(f.fold({}, {}, 2).empty());
  auto out = f.fold({{kTgid, entry(4, 0, 4)}}, {}, 3);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].leaf.pages[0], 4);
  // Deleted and made again between two reads: its count went back.
  (void)f.fold({{kTgid, entry(50, 0, 60)}}, {}, 4);
  out = f.fold({{kTgid, entry(2, 0, 3)}}, {}, 5);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].leaf.pages[0], 2);
  EXPECT_EQ(out[0].leaf.spte_changes, 3u);
}

// A VM destroyed, and a new one whose struct kvm sits at the same address:
// the previous life's entry is never counted into the new VM, even when it
// is read after the new VM_CREATE was applied.
TEST(LeafFold, AStructKvmReusedStartsANewLifeAtItsVmCreate) {
  LeafFold f;
  (void)f.fold({{kKvm, entry(300, 4, 400, /*generation=*/11)}}, {}, 1);
  f.on_vm_create(kKvm, 99);
  // Read before the new VM_CREATE replaced the entry: the old life's.
  EXPECT_TRUE(f.fold({{kKvm, entry(310, 4, 420, 11)}}, {}, 2).empty());
  // The new entry, bigger than the old one's figures or not: counted whole.
  const auto out = f.fold({{kKvm, entry(8, 0, 9, 99)}}, {}, 3);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].leaf.pages[0], 8);
  EXPECT_EQ(out[0].leaf.spte_changes, 9u);
  const auto next = f.fold({{kKvm, entry(12, 0, 15, 99)}}, {}, 4);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].leaf.pages[0], 4);
}

TEST(LeafFold, ForgetMeansTheEntryIsNotCountedAgain) {
  LeafFold f;
  (void)f.fold({{kTgid, entry(5, 0, 5)}}, {}, 1);
  f.forget(kTgid);
  // Made again with more than before before the next read: all new.
  const auto out = f.fold({{kTgid, entry(9, 0, 9)}}, {}, 2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].leaf.pages[0], 9);
}

}  // namespace
}  // namespace tdpwatch::probes

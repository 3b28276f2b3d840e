// Which VM an event belongs to (core::Model::apply): a tgid that is no
// VMM's never becomes a VM.  The kernel's own cases: soft-dirty clear_refs
// written by a shell, kswapd aging, khugepaged collapsing, 6.1's NX
// recovery kthread, and VMs older than the daemon (keyed by struct kvm *
// while vm_of_tgid does not know their VMM).
#include <gtest/gtest.h>

#include "tests/unit/core/model_fixture.h"

namespace tdpwatch::core::testing {
namespace {

constexpr std::uint32_t kVmmTgid = 700;
constexpr std::uint32_t kShellTgid = 900;    // echo 4 > /proc/700/clear_refs
constexpr std::uint32_t kKswapdTgid = 88;    // a kernel thread

Model tracepoint_model() {
  ModelOptions o;
  o.structure_from_spte = true;
  o.root_release_events = false;
  return Model(o);
}

TEST(ModelAttribution, SpteChangesOfANonVmmTgidAreUnattributedNotAVm) {
  Model m = tracepoint_model();
  // The VMM's vCPU allocates its root, then faults a 4K page in.
  m.apply(events::root_alloc(kVmmTgid, page(100, 0, 4)));
  SpteStream vmm{m, kVmmTgid};
  vmm.link(0, 4, 101);
  vmm.link(0, 3, 102);
  vmm.link(0, 2, 103);
  vmm.map(0, 1, 5000);
  ASSERT_EQ(leaves(m, 1, kVmmTgid), 1);

  // A shell writes clear_refs: KVM zaps the leaf in the shell's context.
  SpteStream shell{m, kShellTgid};
  shell.change(0, 1, events::leaf_spte(5000, 1), 0);
  // kswapd ages another leaf.
  SpteStream kswapd{m, kKswapdTgid};
  kswapd.change(1, 1, events::leaf_spte(5001, 1), events::leaf_spte(5001, 1) & ~(1ull << 8));

  EXPECT_EQ(m.vm_keys(), std::vector<std::uint64_t>{kVmmTgid});
  EXPECT_FALSE(m.snapshot(kShellTgid));
  EXPECT_FALSE(m.snapshot(kKswapdTgid));
  EXPECT_EQ(m.unattributed_events(), 2u);
  const auto by_tgid = m.take_unattributed();
  EXPECT_EQ(by_tgid.at(kShellTgid), 1u);
  EXPECT_EQ(by_tgid.at(kKswapdTgid), 1u);
  EXPECT_TRUE(m.take_unattributed().empty());  // drained
  EXPECT_EQ(m.unattributed_events(), 2u);      // the total stays
  // The VMM's VM is untouched: its leaf is still counted (the reconciler
  // takes leaves from the kernel in such a plan).
  EXPECT_EQ(leaves(m, 1, kVmmTgid), 1);
  EXPECT_EQ(total_inconsistencies(m, kVmmTgid), 0u);
}

TEST(ModelAttribution, EveryForeignEventTypeIsUnattributed) {
  Model m = tracepoint_model();
  m.apply(events::unlink_sp(kKswapdTgid, page(200, 0, 1)));
  m.apply(events::shadow_zap(kKswapdTgid, page(0, 0, 1, 0, 0x1000)));
  m.apply(events::nx_untrack(kKswapdTgid, page(200, 0, 1), TDPW_MMU_TDP));
  m.apply(events::root_put(kKswapdTgid, page(100, 0, 4)));
  EXPECT_TRUE(m.vm_keys().empty());
  EXPECT_EQ(m.unattributed_events(), 4u);
}

TEST(ModelAttribution, OnlyAVmmsOwnEventsFoundAVm) {
  for (std::uint16_t t = TDPW_EV_VM_CREATE; t < TDPW_EV_TYPE_MAX; ++t) {
    const bool founds = t == TDPW_EV_VM_CREATE || t == TDPW_EV_ROOT_ALLOC ||
                        t == TDPW_EV_SHADOW_GET || t == TDPW_EV_LINK_SP || t == TDPW_EV_NX_TRACK;
    EXPECT_EQ(Model::founds_vm(t), founds) << "event type " << t;
  }
  Model m = tracepoint_model();
  m.apply(events::shadow_get(kVmmTgid, page(0, 0, 4, 0, 0x2000), true));
  EXPECT_TRUE(m.snapshot(kVmmTgid));
}

TEST(ModelAttribution, AKvmKeyIsAlwaysAVm) {
  Model m;
  // A hook had the struct kvm: an NX recovery zap of a VM the daemon never saw created.
  m.apply(events::unlink_sp(kVm, page(200, 0, 1)));
  EXPECT_TRUE(m.snapshot(kVm));
  EXPECT_EQ(m.unattributed_events(), 0u);
}

// A VM older than the daemon first seen through kdamond's aging (6.17+
// DAMON_STAT) takes kdamond's tgid; the VM iterator's kvm->userspace_pid
// corrects it (Model::set_tgid), and the VMM's tgid-keyed events find it.
TEST(ModelAttribution, AKvmVmFirstSeenFromAKernelThreadGetsItsVmmsTgid) {
  Model m = tracepoint_model();
  Event ev = events::unlink_sp(kVm, page(200, 0, 1));
  ev.tgid = kKswapdTgid;
  m.apply(ev);
  ASSERT_TRUE(m.snapshot(kVm));
  EXPECT_EQ(m.snapshot(kVm)->tgid, kKswapdTgid);
  EXPECT_TRUE(m.set_tgid(kVm, kVmmTgid));
  EXPECT_FALSE(m.set_tgid(kVm, kVmmTgid));  // already
  EXPECT_FALSE(m.set_tgid(kVm2, kVmmTgid));  // unknown
  EXPECT_EQ(m.snapshot(kVm)->tgid, kVmmTgid);
  m.apply(events::root_alloc(kVmmTgid, page(100, 0, 4)));
  SpteStream s{m, kVmmTgid};
  s.map(0, 1, 5000);
  EXPECT_EQ(m.vm_keys(), std::vector<std::uint64_t>{kVm});
  EXPECT_EQ(leaves(m, 1, kVm), 1);
  // kswapd's tgid no longer stands for it.
  SpteStream k{m, kKswapdTgid};
  k.map(1, 1, 5001);
  EXPECT_EQ(leaves(m, 1, kVm), 1);
  EXPECT_EQ(m.unattributed_events(), 1u);
}

TEST(ModelAttribution, TgidEventsOfAVmOlderThanTheDaemonGoToItsKvmKey) {
  Model m;
  // The VM iterator found it (struct kvm * key, VMM tgid 700).
  ASSERT_TRUE(m.add_implicit(kVm, kVmmTgid));
  // vm_of_tgid does not know it: its tracepoint events carry the tgid.
  m.apply(events::root_alloc(kVmmTgid, page(100, 0, 4)));
  SpteStream s{m, kVmmTgid};
  s.map(0, 1, 5000);
  EXPECT_EQ(m.vm_keys(), std::vector<std::uint64_t>{kVm});
  EXPECT_EQ(leaves(m, 1, kVm), 1);
  EXPECT_EQ(m.unattributed_events(), 0u);
}

TEST(ModelAttribution, AVmmWithTwoKvmVmsIsNotGuessed) {
  Model m;
  m.apply(events::vm_create(kVm, kVmmTgid));
  m.apply(events::vm_create(kVm2, kVmmTgid));
  SpteStream s{m, kVmmTgid};
  s.map(0, 1, 5000);  // which of the two?  Neither.
  EXPECT_EQ(m.unattributed_events(), 1u);
  EXPECT_EQ(leaves(m, 1, kVm), 0);
  EXPECT_EQ(leaves(m, 1, kVm2), 0);
  // After one is destroyed, the other is the tgid's only VM.
  m.apply(events::vm_destroy(kVm2, kVmmTgid));
  s.map(1, 1, 5001);
  EXPECT_EQ(leaves(m, 1, kVm), 1);
}

TEST(ModelAttribution, EventsAfterTeardownStayGlobalInconsistencies) {
  Model m = tracepoint_model();
  m.apply(events::vm_create(kVmmTgid, kVmmTgid));
  m.apply(events::vm_destroy(kVmmTgid, kVmmTgid));
  SpteStream s{m, kVmmTgid};
  s.change(0, 1, events::leaf_spte(5000, 1), 0);
  EXPECT_EQ(m.global_inconsistencies()[static_cast<std::size_t>(Inconsistency::kEventAfterDestroy)],
            1u);
  EXPECT_EQ(m.unattributed_events(), 0u);
}

// root_invalidate reports every invalid root at each invalidation: again for
// roots invalidated before, and for roots older than the daemon.
TEST(ModelRootInvalidate, RepeatsAndUnknownRootsOfAnOlderVmAreNoOps) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  m.apply(events::root_alloc(kVm, page(100, 0, 4), 1));
  m.apply(events::root_invalidate(kVm, page(100, 0, 4)));
  m.apply(events::root_invalidate(kVm, page(100, 0, 4)));
  EXPECT_EQ(m.snapshot(kVm)->counts.roots_valid, 0);
  EXPECT_EQ(m.snapshot(kVm)->counts.roots_invalid, 1);
  EXPECT_EQ(total_inconsistencies(m), 0u);

  ASSERT_TRUE(m.add_implicit(kVm2, kTgid + 1));
  m.apply(events::root_invalidate(kVm2, page(200, 0, 4)));
  EXPECT_EQ(total_inconsistencies(m, kVm2), 0u);
  // A VM watched from its creation has no root the model does not know.
  m.apply(events::root_invalidate(kVm, page(300, 0, 4)));
  EXPECT_EQ(count(m, Inconsistency::kUnknownRoot), 1u);
}

}  // namespace
}  // namespace tdpwatch::core::testing

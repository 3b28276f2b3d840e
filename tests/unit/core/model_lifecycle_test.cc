// VM lifecycle: teardown and leak records (the WARNs of
// kvm_mmu_uninit_tdp_mmu(), with names), isolation between VMs, and
// robustness against malformed streams.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tests/unit/core/model_fixture.h"

namespace tdpwatch::core::testing {
namespace {

TEST(Lifecycle, CleanTeardownIsNoLeak) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  const auto l3 = page(100, 0, 3);
  m.apply(events::link_sp(kVm, l3, false));
  m.apply(events::unlink_sp(kVm, l3));
  m.apply(events::vm_destroy(kVm, kTgid));
  ASSERT_EQ(m.teardowns().size(), 1u);
  EXPECT_TRUE(m.teardowns()[0].empty());
  EXPECT_FALSE(m.snapshot(kVm).has_value());  // its series are gone
}

// WARN_ON(atomic64_read(&kvm->arch.tdp_mmu_pages)) / the 6.1 list_empty()
// and WARN_ON(!list_empty(&kvm->arch.tdp_mmu_roots)), with every page named.
TEST(Lifecycle, LeakRecordNamesEveryLeakedPage) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  const auto root = page(50, 0, 4, 0, 0xffff888000050000);
  const auto l3 = page(100, 0, 3);
  const auto l1_smm = page(300, 1u << 9, 1, /*as_id=*/1);
  m.apply(events::root_alloc(kVm, root, 2));
  m.apply(events::link_sp(kVm, l3, false));
  m.apply(events::link_sp(kVm, l1_smm, true));
  m.apply(events::nx_track(kVm, l1_smm, TDPW_MMU_TDP));
  m.apply(events::shadow_get(kVm, page(0, 0x77, 1, 0, 0xffff888000777000), true));
  m.apply(events::vm_destroy(kVm, kTgid));

  ASSERT_EQ(m.teardowns().size(), 1u);
  const LeakRecord& leak = m.teardowns()[0];
  EXPECT_FALSE(leak.empty());
  EXPECT_EQ(leak.vm, kVm);
  EXPECT_EQ(leak.tgid, kTgid);
  EXPECT_EQ(leak.linked_pages, 2);
  EXPECT_EQ(leak.nx_tracked_pages, 1);
  EXPECT_EQ(leak.roots, 1);
  EXPECT_EQ(leak.shadow_pages, 1);
  ASSERT_EQ(leak.pages.size(), 5u);
  // Sorted by (what, as_id, level, gfn).
  EXPECT_EQ(leak.pages[0].what, LeakedPage::What::kLinked);
  EXPECT_EQ(leak.pages[0].pfn, 100u);
  EXPECT_EQ(leak.pages[0].level, 3);
  EXPECT_EQ(leak.pages[1].what, LeakedPage::What::kLinked);
  EXPECT_EQ(leak.pages[1].as_id, 1);
  EXPECT_EQ(leak.pages[1].gfn, 1u << 9);
  EXPECT_EQ(leak.pages[1].role, role::synthesize(1, 1));
  EXPECT_EQ(leak.pages[2].what, LeakedPage::What::kNxTracked);
  EXPECT_EQ(leak.pages[3].what, LeakedPage::What::kRoot);
  EXPECT_EQ(leak.pages[3].sp, 0xffff888000050000u);
  EXPECT_EQ(leak.pages[4].what, LeakedPage::What::kShadow);
  const std::string text = summarize(leak, 2);
  EXPECT_NE(text.find("2 linked"), std::string::npos) << text;
  EXPECT_NE(text.find("... 3 more"), std::string::npos) << text;
}

// Tracepoint-only plans see roots allocated (kvm_mmu_get_page without a
// parent) but never released: those roots are no leak at teardown.
TEST(Lifecycle, UnobservableRootReleaseIsNoLeak) {
  for (bool observable : {true, false}) {
    Model m(ModelOptions{.structure_from_spte = true, .root_release_events = observable});
    m.apply(events::vm_create(kVm, kTgid));
    m.apply(events::root_alloc(kVm, page(50, 0, 4, 0, 0xffff888000050000)));
    m.apply(events::vm_destroy(kVm, kTgid));
    ASSERT_EQ(m.teardowns().size(), 1u);
    EXPECT_EQ(m.teardowns()[0].roots, observable ? 1 : 0);
    EXPECT_EQ(m.teardowns()[0].empty(), !observable);
  }
}

// Inconsistencies in one VM leave the others untouched.
TEST(Lifecycle, VmsAreIsolated) {
  Model m;
  m.apply(events::vm_create(kVm, 1));
  m.apply(events::vm_create(kVm2, 2));
  m.apply(events::link_sp(kVm2, page(100, 0, 3), false));
  m.apply(events::link_sp(kVm, page(100, 0, 3), false));  // same pfn, other VM: fine
  m.apply(events::unlink_sp(kVm, page(999, 0, 2)));
  m.apply(events::spte_changed(kVm, 0, 0, 9, 0, 1));
  EXPECT_EQ(total_inconsistencies(m, kVm), 2u);
  EXPECT_EQ(total_inconsistencies(m, kVm2), 0u);
  EXPECT_EQ(tdp(m, 3, 0, kVm2), 1);
}

// The daemon started after the VM: it appears on its first event, marked.
TEST(Lifecycle, ImplicitVm) {
  Model m;
  const std::uint64_t tgid_key = 777;  // tracepoint-only plans key VMs by tgid
  m.apply(events::link_sp(tgid_key, page(100, 0, 3), false));
  auto snap = m.snapshot(tgid_key);
  ASSERT_TRUE(snap.has_value());
  EXPECT_TRUE(snap->implicit);
  EXPECT_EQ(snap->tgid, 777u);
}

TEST(Lifecycle, EventsAfterDestroyAndUnknownTypes) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  m.apply(events::vm_destroy(kVm, kTgid));
  m.apply(events::link_sp(kVm, page(100, 0, 3), false));
  m.apply(events::vm_destroy(kVm2, kTgid));
  Event bad = events::vm_create(kVm, kTgid);
  bad.type = 200;
  m.apply(bad);
  const auto& g = m.global_inconsistencies();
  EXPECT_EQ(g[static_cast<std::size_t>(Inconsistency::kEventAfterDestroy)], 1u);
  EXPECT_EQ(g[static_cast<std::size_t>(Inconsistency::kDestroyUnknownVm)], 1u);
  EXPECT_EQ(g[static_cast<std::size_t>(Inconsistency::kUnknownEventType)], 1u);
  EXPECT_TRUE(m.vm_keys().empty());
  // A new VM may reuse the struct kvm address.
  m.apply(events::vm_create(kVm, kTgid));
  m.apply(events::link_sp(kVm, page(100, 0, 3), false));
  EXPECT_EQ(tdp(m, 3), 1);
}

// KVM may allocate pages before its create uevent is read: a VM_CREATE for a
// VM first seen without one continues that life, it does not end it.
TEST(Lifecycle, LateCreateAdoptsTheImplicitVm) {
  Model m;
  const std::uint64_t tgid_key = 9118;
  m.apply(events::shadow_get(tgid_key, page(0, 0x10, 4, 0, 0xffff888000777000), true));
  m.apply(events::vm_create(tgid_key, 9118));
  EXPECT_TRUE(m.teardowns().empty());
  auto snap = m.snapshot(tgid_key);
  ASSERT_TRUE(snap.has_value());
  EXPECT_FALSE(snap->implicit);
  EXPECT_EQ(snap->counts.shadow_pages, 1);
}

TEST(Lifecycle, LostDestroyClosesTheOldLife) {
  Model m;
  m.apply(events::vm_create(kVm, kTgid));
  m.apply(events::link_sp(kVm, page(100, 0, 3), false));
  m.apply(events::vm_create(kVm, kTgid + 1));
  ASSERT_EQ(m.teardowns().size(), 1u);
  EXPECT_EQ(m.teardowns()[0].linked_pages, 1);
  EXPECT_EQ(tdp(m, 3), 0);
}

TEST(Lifecycle, InconsistencyDetailsAreBounded) {
  Model m(ModelOptions{.max_inconsistency_details = 3});
  m.apply(events::vm_create(kVm, kTgid));
  for (int i = 0; i < 10; ++i) m.apply(events::unlink_sp(kVm, page(1000 + i, 0, 1)));
  EXPECT_EQ(total_inconsistencies(m), 10u);
  const auto details = m.inconsistency_details(kVm);
  ASSERT_EQ(details.size(), 3u);
  EXPECT_EQ(details[0].kind, Inconsistency::kUnlinkUnknownPage);
  EXPECT_EQ(details[0].id, 1000u);
  EXPECT_EQ(details[0].event_index, 1u);
}

// Random bytes as events, in both modes: the model must neither crash nor
// let one VM's garbage reach another.
TEST(Lifecycle, GarbageNeverCrashes) {
  for (bool from_spte : {false, true}) {
    Model m(ModelOptions{.structure_from_spte = from_spte, .nx_untrack_events = from_spte});
    m.apply(events::vm_create(kVm2, 2));
    m.apply(events::link_sp(kVm2, page(100, 0, 3), false));
    std::mt19937_64 rng(42);
    for (int i = 0; i < 200000; ++i) {
      Event ev;
      std::uint64_t words[8];
      for (auto& w : words) w = rng();
      std::memcpy(&ev, words, sizeof(ev));
      ev.vm = kVm ^ (ev.vm & 3);  // a few VMs, never kVm2
      if (rng() % 2) ev.type = static_cast<__u16>(ev.type % TDPW_EV_TYPE_MAX);
      if (rng() % 2) ev.level = static_cast<__u8>(ev.level % 6);
      if (rng() % 2) ev.as_id = static_cast<__u8>(ev.as_id % 2);
      m.apply(ev);
    }
    EXPECT_EQ(tdp(m, 3, 0, kVm2), 1);
    EXPECT_EQ(total_inconsistencies(m, kVm2), 0u);
  }
}

}  // namespace
}  // namespace tdpwatch::core::testing

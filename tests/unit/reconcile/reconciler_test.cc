// The reconciler's decisions, against a real core::Model: drift reported once
// with the VM's identity, resync after lost events, degraded until clean,
// baseline for VMs older than the daemon.
#include "tests/unit/reconcile/reconcile_fixture.h"

namespace tdpwatch::reconcile::testing {
namespace {

TEST(Reconciler, EqualFiguresNeedNothing) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1);
  f.get(2);
  f.kernel.shadow_pages = 2;
  f.tick();
  f.tick();
  EXPECT_TRUE(f.logs.empty());
  EXPECT_EQ(f.st().tracking, Tracking::kFull);
  EXPECT_FALSE(f.st().degraded);
  EXPECT_EQ(f.rec.resyncs_total(), 0u);
  EXPECT_DOUBLE_EQ(f.rec.last_full_seconds(), f.now);
  // Kernel figure and the lossless counter, both compared.
  EXPECT_EQ(f.st().figures.size(), 5u) << "shadow_pages + 4 probe_ figures";
}

TEST(Reconciler, RealDriftIsLoggedOnceWithDetailsThenOnClear) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1);
  f.kernel.shadow_pages = 2;  // the kernel holds one page the model never saw: a bug somewhere
  for (int i = 0; i < 5; ++i) f.tick();
  EXPECT_EQ(f.count_logs("drift on shadow_pages"), 1u);
  const std::string& line = f.logs.at(0).text;
  EXPECT_EQ(f.logs.at(0).level, spdlog::level::warn);
  EXPECT_NE(line.find("vm=test pid=4242"), std::string::npos) << line;
  EXPECT_NE(line.find("model 1, kernel 2"), std::string::npos) << line;
  EXPECT_TRUE(f.st().drift.confirmed("shadow_pages"));
  EXPECT_FALSE(f.st().degraded);  // no event was lost: nothing to resync from
  f.kernel.shadow_pages = 1;
  f.tick();
  EXPECT_EQ(f.count_logs("drift on shadow_pages cleared"), 1u);
  EXPECT_FALSE(f.st().drift.confirmed("shadow_pages"));
  f.tick();
  EXPECT_EQ(f.logs.size(), 2u);
}

TEST(Reconciler, LostEventsResyncAndDegradeUntilAQuiescentCleanTick) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1);
  f.get(2, /*lost=*/true);
  f.get(3, /*lost=*/true);
  f.kernel.shadow_pages = 3;
  EXPECT_EQ(f.shadow(), 1);
  f.tick();
  EXPECT_EQ(f.shadow(), 3);
  EXPECT_TRUE(f.st().degraded);
  EXPECT_EQ(f.st().resyncs, 1u);
  EXPECT_EQ(f.rec.resyncs_total(), 1u);
  EXPECT_EQ(f.rec.degraded_vms(), 1u);
  EXPECT_EQ(f.st().events_lost, 2u);
  EXPECT_EQ(f.count_logs("2 events lost"), 1u);
  EXPECT_EQ(f.count_logs("shadow_pages 1 -> 3"), 1u);
  // Busy tick (events moved): still degraded even though the figures agree.
  f.get(4);
  f.kernel.shadow_pages = 4;
  f.tick();
  EXPECT_TRUE(f.st().degraded);
  // Quiescent and equal: clean again, said once.
  f.tick();
  EXPECT_FALSE(f.st().degraded);
  EXPECT_EQ(f.rec.degraded_vms(), 0u);
  EXPECT_EQ(f.count_logs("clean again"), 1u);
  f.tick();
  EXPECT_EQ(f.count_logs("clean again"), 1u);
  EXPECT_EQ(f.count_logs("events lost"), 1u);
  EXPECT_EQ(f.count_logs("drift"), 0u);  // a resynced VM is not drift
}

TEST(Reconciler, LostZapHealsAndTheUnseenPagesZapConsumesTheResync) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1);
  f.get(2, /*lost=*/true);  // the model never sees page 2
  f.tick();                 // resynced from the lossless counter: 2
  EXPECT_EQ(f.shadow(), 2);
  f.zap(2);  // the zap of the page it never saw
  f.zap(1, /*lost=*/true);
  f.tick();
  EXPECT_EQ(f.shadow(), 0);
  f.tick();
  EXPECT_FALSE(f.st().degraded);
  EXPECT_EQ(f.model.snapshot(kVm)->inconsistencies_total, 0u);
}

TEST(Reconciler, StillDifferentAfterResyncIsResyncedAgainWhenQuiet) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1, /*lost=*/true);
  // A resync taken while an event is in flight: the counter already has
  // page 2, whose record the model gets only after the tick.
  f.count(TDPW_EV_SHADOW_GET);
  ++f.counters.shadow_pages;
  f.tick();
  EXPECT_EQ(f.shadow(), 2);
  f.model.apply(events::shadow_get(kVm, shadow_page(2), true));  // the record arrives
  EXPECT_EQ(f.shadow(), 3);
  f.tick();  // quiet: resynced again
  EXPECT_EQ(f.shadow(), 2);
  EXPECT_EQ(f.st().resyncs, 2u);
  EXPECT_TRUE(f.st().degraded);
  f.tick();
  EXPECT_FALSE(f.st().degraded);
}

TEST(Reconciler, VmOlderThanTheDaemonTakesABaselineFromTheKernel) {
  Fixture f;
  // No VM_CREATE: the daemon started after this VM made 4 pages.
  f.zap(10);  // one of them goes: an event for a page the model never saw
  f.kernel.shadow_pages = 3;
  f.kernel.leaf_pages = {7, 0, 0};
  ASSERT_TRUE(f.model.snapshot(kVm)->implicit);
  f.tick();
  EXPECT_EQ(f.st().tracking, Tracking::kBaseline);
  EXPECT_EQ(f.st().baseline_figures,
            "shadow_pages, leaf_mappings_4k, leaf_mappings_2m, leaf_mappings_1g");
  EXPECT_EQ(f.shadow(), 3);
  EXPECT_EQ(f.model.snapshot(kVm)->counts.leaf_pages[0], 7);
  EXPECT_EQ(f.count_logs("started before the daemon"), 1u);
  // From now on, exactly: the remaining old pages go, new ones come.
  f.zap(11);
  f.zap(12);
  f.get(20);
  f.kernel.shadow_pages = 2;
  f.tick();
  f.tick();
  EXPECT_EQ(f.shadow(), 2);
  for (const Figure& fig : f.st().figures) EXPECT_EQ(fig.model, fig.kernel) << fig.name;
  EXPECT_EQ(f.count_logs("drift"), 0u);
  EXPECT_EQ(f.count_logs("started before the daemon"), 1u);
}

TEST(Reconciler, WithoutKernelFiguresAnOlderVmStaysSinceSeen) {
  Fixture f;
  f.get(1);  // implicit: no VM_CREATE
  f.tick();
  f.tick();
  EXPECT_EQ(f.st().tracking, Tracking::kSinceSeen);
  // Only the (equally relative) lossless counters are compared.
  for (const Figure& fig : f.st().figures) EXPECT_EQ(fig.name.rfind("probe_", 0), 0u) << fig.name;
  EXPECT_TRUE(f.logs.empty());
}

TEST(Reconciler, ForgetsVmsGoneFromTheModel) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1, true);
  f.tick();
  EXPECT_EQ(f.rec.degraded_vms(), 1u);
  f.model.apply(events::vm_destroy(kVm, kTgid));
  f.tick();
  EXPECT_EQ(f.rec.status(kVm), nullptr);
  EXPECT_EQ(f.rec.degraded_vms(), 0u);
  EXPECT_EQ(f.rec.resyncs_total(), 1u);  // a counter: stays
}

}  // namespace
}  // namespace tdpwatch::reconcile::testing

namespace tdpwatch::reconcile::testing {
namespace {

TEST(ReconcilerHost, FirstComparisonIsTheHostBaselineThenDriftNeedsGrace) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1);
  f.get(2);
  f.tick();
  // Incomplete (a VM the kernel lists is not in the model yet): nothing.
  f.rec.tick_host(f.model, 7, /*complete=*/false, f.now);
  EXPECT_FALSE(f.rec.host().figure);
  EXPECT_FALSE(f.rec.host().baseline);
  // 7 pages host-wide, 2 of them the VM's: 5 are no VM's (IOMMU, ...),
  // once that has held for the settle time.
  f.rec.tick_host(f.model, 7, true, f.now);
  EXPECT_FALSE(f.rec.host().baseline);
  EXPECT_FALSE(f.rec.host().figure);
  f.tick();
  f.rec.tick_host(f.model, 7, true, f.now);
  ASSERT_TRUE(f.rec.host().baseline);
  EXPECT_EQ(*f.rec.host().baseline, 5);
  EXPECT_EQ(f.rec.host().figure->model, 7);
  EXPECT_EQ(f.count_logs("host: SecPageTables 7 pages"), 1u);
  // The VM grows, SecPageTables follows: no drift.
  f.get(3);
  f.tick();
  f.rec.tick_host(f.model, 8, true, f.now);
  EXPECT_EQ(f.rec.host().figure->model, f.rec.host().figure->kernel);
  // A page the model never sees (untracked): real drift once it lasts.
  for (int i = 0; i < 4; ++i) {
    f.tick();
    f.rec.tick_host(f.model, 9, true, f.now);
  }
  EXPECT_TRUE(f.rec.host().drift.confirmed("host_sec_pagetables"));
  EXPECT_EQ(f.count_logs("host: drift on SecPageTables: model 8, kernel 9"), 1u);
}

// SecPageTables lags a new VM's pages by the per-CPU vmstat deltas: a
// baseline taken from that moment would be a false drift for ever after.
TEST(ReconcilerHost, BaselineWaitsForSecPageTablesToCatchUp) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  for (int i = 1; i <= 8; ++i) f.get(i);
  f.tick();
  // /proc/meminfo has not folded the VM's 8 pages yet: 2 host pages only.
  f.rec.tick_host(f.model, 2, true, f.now);
  f.tick(1);
  f.rec.tick_host(f.model, 2, true, f.now);
  EXPECT_FALSE(f.rec.host().baseline);
  // Folded: 10 = 8 + 2, and held still.
  f.tick(1);
  f.rec.tick_host(f.model, 10, true, f.now);
  EXPECT_FALSE(f.rec.host().baseline);
  f.tick(5);
  f.rec.tick_host(f.model, 10, true, f.now);
  ASSERT_TRUE(f.rec.host().baseline);
  EXPECT_EQ(*f.rec.host().baseline, 2);
  EXPECT_EQ(f.rec.host().figure->model, f.rec.host().figure->kernel);
  // Incomplete in between starts the wait again.
  Fixture g;
  g.model.apply(events::vm_create(kVm, kTgid));
  g.tick();
  g.rec.tick_host(g.model, 4, true, g.now);
  g.tick();
  g.rec.tick_host(g.model, 4, false, g.now);
  g.tick(1);
  g.rec.tick_host(g.model, 4, true, g.now);
  EXPECT_FALSE(g.rec.host().baseline);
}

TEST(ReconcilerHost, HeldWhileAVmIsDegraded) {
  Fixture f;
  f.model.apply(events::vm_create(kVm, kTgid));
  f.get(1);
  f.tick();
  f.rec.tick_host(f.model, 1, true, f.now);
  f.tick();
  f.rec.tick_host(f.model, 1, true, f.now);
  ASSERT_TRUE(f.rec.host().baseline);
  f.get(2, /*lost=*/true);
  for (int i = 0; i < 4; ++i) {
    // The VM keeps losing events: degraded all along.
    f.get(10 + i, /*lost=*/true);
    f.tick();
    f.rec.tick_host(f.model, 100, true, f.now);
  }
  EXPECT_TRUE(f.st().degraded);
  EXPECT_FALSE(f.rec.host().drift.confirmed("host_sec_pagetables"));
}

}  // namespace
}  // namespace tdpwatch::reconcile::testing

// The reconciler after an adoption (Reconciler::on_adopted): the lossless
// counters start at load, so a VM adopted from its live tables compares its
// probe_ figures through the adopted count; no drift.
#include <gtest/gtest.h>

#include "tests/unit/reconcile/reconcile_fixture.h"

namespace tdpwatch::reconcile::testing {
namespace {

TEST(ReconcilerAdoption, ProbeFiguresOfAnAdoptedVmCompareThroughTheAdoptedCount) {
  Fixture f;
  ASSERT_TRUE(f.model.add_implicit(kVm, kTgid));
  f.tick();  // 6.1 / 6.15+: no tdp_mmu_pages figure, so no baseline for it
  f.tick();
  core::Adoption a;
  a.tables = {{0, 3, 0, 101, false}, {0, 2, 0, 102, true}, {0, 1, 0, 103, false}};
  ASSERT_TRUE(f.model.adopt(kVm, a));
  f.rec.on_adopted(kVm, f.model.snapshot(kVm)->counts, f.counters);
  // Later: one more table linked, seen by the probes' counters too.
  f.model.apply(events::link_sp(kVm, {0xffff888000200000ull, 104, 512, tdpwatch::role::synthesize(1, 0)},
                                false));
  f.count(TDPW_EV_LINK_SP);
  f.counters.tdp_pages += 1;
  for (int i = 0; i < 4; ++i) f.tick(5);
  bool compared = false;
  for (const Figure& fig : f.st().figures) {
    if (fig.name != "probe_tdp_pages" && fig.name != "probe_possible_nx_huge_pages_tdp") continue;
    compared = true;
    EXPECT_EQ(fig.model, fig.kernel) << fig.name;
  }
  EXPECT_TRUE(compared);
  EXPECT_EQ(f.count_logs("drift"), 0u);
}

// A daemon restarted on 6.1 / 6.15+ with a VM running: until the VM is
// adopted the model cannot count its tables (no tdp_mmu_pages to start from),
// so SecPageTables minus the model is no host baseline (it would hold the
// VM's pages, and the adoption would read as host drift for ever after: seen
// under the nested Debian host's Prometheus as TdpwatchHostDrift pending).
TEST(ReconcilerAdoption, HostBaselineWaitsUntilTheVmsPageTablesAreCounted) {
  Fixture f;
  ASSERT_TRUE(f.model.add_implicit(kVm, kTgid));
  f.kernel.shadow_pages = 0;
  f.tick();
  f.tick();
  EXPECT_FALSE(f.st().page_tables_known);
  // SecPageTables: the VM's 3 tables and 2 pages that are no VM's.
  for (int i = 0; i < 5; ++i) {
    f.tick(1);
    f.rec.tick_host(f.model, 5, true, f.now);
  }
  EXPECT_FALSE(f.rec.host().baseline);
  EXPECT_FALSE(f.rec.host().figure);
  EXPECT_EQ(f.count_logs("comparison waits for vm=test"), 1u);
  core::Adoption a;
  a.tables = {{0, 3, 0, 101, false}, {0, 2, 0, 102, false}, {0, 1, 0, 103, false}};
  ASSERT_TRUE(f.model.adopt(kVm, a));
  f.rec.on_adopted(kVm, f.model.snapshot(kVm)->counts, f.counters);
  for (int i = 0; i < 6; ++i) {
    f.tick(1);
    f.rec.tick_host(f.model, 5, true, f.now);
  }
  ASSERT_TRUE(f.rec.host().baseline);
  EXPECT_EQ(*f.rec.host().baseline, 2);
  ASSERT_TRUE(f.rec.host().figure);
  EXPECT_EQ(f.rec.host().figure->model, f.rec.host().figure->kernel);
  EXPECT_FALSE(f.rec.host().drift.confirmed("host_sec_pagetables"));
}

// 6.2-6.14: the kernel's tdp_mmu_pages sets the VM's count at first sight,
// so the host comparison need not wait for the adoption.
TEST(ReconcilerAdoption, AKernelCounterMakesAVmSeenMidLifeCountedAtOnce) {
  Fixture f;
  ASSERT_TRUE(f.model.add_implicit(kVm, kTgid));
  f.kernel.tdp_pages = 3;
  f.kernel.shadow_pages = 0;
  f.tick();
  f.tick();
  EXPECT_EQ(f.st().tracking, Tracking::kBaseline);
  EXPECT_TRUE(f.st().page_tables_known);
  for (int i = 0; i < 5; ++i) {
    f.tick(1);
    f.rec.tick_host(f.model, 5, true, f.now);
  }
  ASSERT_TRUE(f.rec.host().baseline);
  EXPECT_EQ(*f.rec.host().baseline, 2);
}

}  // namespace
}  // namespace tdpwatch::reconcile::testing

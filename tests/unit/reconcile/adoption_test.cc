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

}  // namespace
}  // namespace tdpwatch::reconcile::testing

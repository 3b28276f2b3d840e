// The one rule that gathers a VM's kernel figures (daemon/tdpwatchd/
// kernel_view.h): probes' map, then the VM iterator, then debugfs for leaves;
// sums for tgid keys; leaves kept but not comparable on shadow-MMU hosts.
#include "daemon/tdpwatchd/kernel_view.h"

#include <gtest/gtest.h>

#include "daemon/reconcile/figures.h"

namespace tdpwatch::tdpwatchd {
namespace {

constexpr std::uint64_t kKvm = 0xffff888100001000;

tdpw_kernel_truth truth(std::int64_t tdp, std::int64_t pages_4k) {
  tdpw_kernel_truth t{};
  t.tdp_mmu_pages = tdp;
  t.possible_nx_huge_pages[0] = TDPW_TRUTH_ABSENT;
  t.possible_nx_huge_pages[1] = TDPW_TRUTH_ABSENT;
  t.n_used_mmu_pages = 0;
  t.pages_4k = pages_4k;
  t.pages_2m = 0;
  t.pages_1g = 0;
  t.nx_lpage_splits = TDPW_TRUTH_ABSENT;
  return t;
}

truth::VmStats stats(int pid, int fd, std::uint64_t pages_4k, std::uint64_t splits) {
  truth::VmStats s;
  s.id = {pid, fd};
  s.values = {
      {"pages_4k", pages_4k}, {"pages_2m", 0}, {"pages_1g", 0}, {"nx_lpage_splits", splits}};
  return s;
}

core::VmSnapshot vm(std::uint64_t key, std::uint32_t tgid) {
  core::VmSnapshot v;
  v.vm = key;
  v.tgid = tgid;
  return v;
}

// A fixture-free gatherer: no memcg tree (the memcg figure stays absent).
KernelViewGatherer gatherer() {
  truth::Paths p;
  p.procfs = "/nonexistent-proc";
  p.sysfs = "/nonexistent-sys";
  return KernelViewGatherer(p);
}

// The iterator reads struct kvm at this tick; the probes' map only at the
// VM's last event with a struct kvm (stale after a huge page collapse that
// only tracepoints saw): iterator first, the map where the iterator has
// nothing, debugfs for what both lack.
TEST(KernelView, IteratorWinsOverTheProbesMapAndDebugfsFillsOnlyWhatIsMissing) {
  std::map<std::uint64_t, tdpw_kernel_truth> map{{kKvm, truth(7, 100)}};
  const truth::VmStats d = stats(42, 9, 555, 3);
  KernelSources src;
  src.truth = &map;
  src.iterated = {{kKvm, 42, truth(99, 999)}};
  src.iterated[0].truth.pages_2m = TDPW_TRUTH_ABSENT;
  src.debugfs[42] = {&d};
  src.model_vms_per_tgid[42] = 1;
  auto g = gatherer();
  const reconcile::KernelView k = g.gather(src, vm(kKvm, 42));
  EXPECT_EQ(k.tdp_pages, 99);
  EXPECT_EQ(k.leaf_pages[0], 999);  // the iterator's read, not debugfs's 555
  EXPECT_EQ(k.leaf_pages[1], 0);    // absent there: debugfs
  EXPECT_EQ(k.nx_lpage_splits, 3);  // absent there: debugfs
  EXPECT_EQ(k.structure_source, "vm_iterator");
  EXPECT_EQ(k.leaf_source, "vm_iterator");
  EXPECT_TRUE(k.leaves_comparable);

  src.iterated.clear();  // no iterator (it failed to load): the probes' map
  const reconcile::KernelView p = g.gather(src, vm(kKvm, 42));
  EXPECT_EQ(p.tdp_pages, 7);
  EXPECT_EQ(p.structure_source, "probes");
}

TEST(KernelView, ATgidKeyStandsForEveryVmOfItsProcess) {
  const truth::VmStats a = stats(42, 9, 10, 1), b = stats(42, 11, 20, 2);
  KernelSources src;
  src.iterated = {{kKvm, 42, truth(TDPW_TRUTH_ABSENT, 10)},
                  {kKvm + 0x1000, 42, truth(TDPW_TRUTH_ABSENT, 20)},
                  {kKvm + 0x2000, 43, truth(TDPW_TRUTH_ABSENT, 1000)}};
  src.debugfs[42] = {&a, &b};
  src.model_vms_per_tgid[42] = 1;
  auto g = gatherer();
  const reconcile::KernelView k = g.gather(src, vm(42, 42));
  EXPECT_EQ(k.leaf_pages[0], 30);   // both VMs of pid 42, not pid 43's
  EXPECT_FALSE(k.tdp_pages);        // absent in either: absent in the sum
  EXPECT_EQ(k.nx_lpage_splits, 3);  // iterator lacks it: debugfs, summed
  EXPECT_EQ(k.leaf_source, "vm_iterator");

  // Keyed by struct kvm *, two debugfs directories of one process cannot be
  // told apart: no debugfs figure at all.
  src.iterated.clear();
  const reconcile::KernelView p = g.gather(src, vm(kKvm, 42));
  EXPECT_FALSE(p.leaf_pages[0]);
  EXPECT_FALSE(p.nx_lpage_splits);
  EXPECT_EQ(p.leaf_source, "");
}

// Shadow-MMU hosts: stat.pages[] counts shadow leaves, which the model does
// not follow.  The figures are the kernel's and are shown; they are never
// compared (no drift), resynced or baselined.
TEST(KernelView, ShadowMmuLeavesAreShownButNotCompared) {
  std::map<std::uint64_t, tdpw_kernel_truth> map{{kKvm, truth(TDPW_TRUTH_ABSENT, 500)}};
  KernelSources src;
  src.truth = &map;
  src.shadow_mmu = true;
  src.model_vms_per_tgid[42] = 1;
  auto g = gatherer();
  const reconcile::KernelView k = g.gather(src, vm(kKvm, 42));
  EXPECT_EQ(k.leaf_pages[0], 500);
  EXPECT_FALSE(k.leaves_comparable);
  core::VmCounts model;
  for (const reconcile::Figure& f : reconcile::compare(model, k, {})) {
    EXPECT_EQ(f.name.rfind("leaf_mappings_", 0), std::string::npos) << f.name;
  }
  EXPECT_FALSE(reconcile::absolute_targets(k).leaf_pages[0]);
}

// Debian's 6.19.14: the NX recovery untracks TDP pages as shadow ones, so
// the per-type counts read TDP 16, shadow -16 while the lists (and
// nx_lpage_splits) are empty.  The split is taken from nx_lpage_splits where
// the VM has no shadow page, else left unknown; consistent counts are kept.
TEST(KernelView, PerTypeNxCountsThatDoNotAddUpAreNotTheKernelsTruth) {
  auto nx_truth = [](std::int64_t shadow, std::int64_t tdp, std::int64_t splits,
                     std::int64_t shadow_pages) {
    tdpw_kernel_truth t = truth(TDPW_TRUTH_ABSENT, 0);
    t.possible_nx_huge_pages[TDPW_MMU_SHADOW] = shadow;
    t.possible_nx_huge_pages[TDPW_MMU_TDP] = tdp;
    t.nx_lpage_splits = splits;
    t.n_used_mmu_pages = shadow_pages;
    return t;
  };
  KernelSources src;
  src.model_vms_per_tgid[42] = 1;
  auto g = gatherer();

  src.iterated = {{kKvm, 42, nx_truth(-16, 16, 0, 0)}};
  reconcile::KernelView k = g.gather(src, vm(kKvm, 42));
  EXPECT_EQ(k.possible_nx_huge_pages[TDPW_MMU_SHADOW], 0);
  EXPECT_EQ(k.possible_nx_huge_pages[TDPW_MMU_TDP], 0);

  src.iterated = {{kKvm, 42, nx_truth(-2, 5, 3, 7)}};  // shadow pages exist: unknown
  k = g.gather(src, vm(kKvm, 42));
  EXPECT_FALSE(k.possible_nx_huge_pages[TDPW_MMU_SHADOW]);
  EXPECT_FALSE(k.possible_nx_huge_pages[TDPW_MMU_TDP]);

  src.iterated = {{kKvm, 42, nx_truth(2, 5, 7, 7)}};  // consistent: kept
  k = g.gather(src, vm(kKvm, 42));
  EXPECT_EQ(k.possible_nx_huge_pages[TDPW_MMU_SHADOW], 2);
  EXPECT_EQ(k.possible_nx_huge_pages[TDPW_MMU_TDP], 5);
}

// Aging and dirty logging (only A/D/W bits move) do not break quiescence.
TEST(KernelView, EventsSeenLeavesOutSpteChangesThatMoveNoFigure) {
  tdpw_vm_counters c{};
  c.events[TDPW_EV_SPTE_CHANGED] = 100;
  c.events[TDPW_EV_LINK_SP] = 3;
  c.events[TDPW_COUNT_SPTE_ATTR_ONLY] = 60;
  EXPECT_EQ(reconcile::events_seen(c), 43u);
}

}  // namespace
}  // namespace tdpwatch::tdpwatchd

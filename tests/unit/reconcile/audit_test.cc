// The audit's comparison (daemon/reconcile/audit.h): the model's pages
// against a walk of the kernel's tables, with hand-written walks.
#include <gtest/gtest.h>

#include "daemon/core/role.h"
#include "daemon/reconcile/audit.h"

namespace tdpwatch::reconcile {
namespace {

core::PageView model_page(int level, std::uint64_t gfn, std::uint64_t pfn, std::uint64_t sp = 0,
                          bool nx = false) {
  return {sp, pfn, gfn, tdpwatch::role::synthesize(level, 0), level, 0, nx, nx};
}

probes::WalkedPage table(int level, std::uint64_t gfn, std::uint64_t pfn) {
  probes::WalkedPage p;
  p.pfn = pfn;
  p.gfn = gfn;
  p.level = level;
  return p;
}

probes::WalkedVm walk_of(std::vector<probes::WalkedPage> tables, int valid_roots = 1) {
  probes::WalkedVm w;
  w.kvm = 0xffff888012340000ull;
  w.tables = std::move(tables);
  for (int i = 0; i < valid_roots; ++i) w.roots.push_back(table(4, 0, 0x100 + i));
  return w;
}

// No shadow page on either side.
AuditResult audit_tdp(const std::vector<core::PageView>& model, const core::VmCounts& counts,
                      const probes::WalkedVm& walk, const AuditScope& scope, double now) {
  return audit(model, {}, counts, walk, scope, now);
}

core::VmCounts roots(int valid, int invalid = 0) {
  core::VmCounts c;
  c.roots_valid = valid;
  c.roots_invalid = invalid;
  return c;
}

TEST(Audit, TheSameTablesAreClean) {
  const auto w = walk_of({table(3, 0, 0x200), table(2, 0, 0x300), table(1, 0, 0x400)});
  const auto r = audit_tdp({model_page(3, 0, 0x200), model_page(2, 0, 0x300), model_page(1, 0, 0x400)},
                       roots(1), w, {}, 1000);
  EXPECT_TRUE(r.clean()) << r.summary();
  EXPECT_EQ(r.kernel_tables, 3);
  EXPECT_EQ(r.summary(), "clean");
}

// A VM older than the daemon, whose tables the model never saw linked.
TEST(Audit, NamesTheTablesMissingFromTheModel) {
  std::vector<probes::WalkedPage> tables{table(3, 0, 0x200), table(2, 0, 0x300)};
  for (int i = 0; i < 100; ++i) tables.push_back(table(1, 512ull * i, 0x1000 + i));
  const auto r = audit_tdp({model_page(3, 0, 0x200), model_page(2, 0, 0x300)}, roots(1),
                       walk_of(tables), {}, 1000);
  EXPECT_FALSE(r.clean());
  EXPECT_EQ(r.missing_total, 100);
  EXPECT_EQ(r.missing_from_model.size(), AuditResult::kMaxListed);
  EXPECT_EQ(r.missing_from_model[1].gfn, 512u);
  EXPECT_EQ(r.missing_from_model[1].pfn, 0x1001u);
  EXPECT_EQ(r.unknown_total, 0);
  EXPECT_NE(r.summary().find("100 pages the kernel has are missing from the model (first: table "
                             "as_id 0 level 1 gfn 0 pfn 0x1000)"),
            std::string::npos)
      << r.summary();
}

// A leak the model would report: its page is gone from the kernel.
TEST(Audit, NamesTheModelsPagesTheKernelDoesNotHave) {
  const auto r = audit_tdp({model_page(1, 0, 0x400), model_page(1, 512, 0x401)}, roots(1),
                       walk_of({table(1, 0, 0x400)}), {}, 1000);
  EXPECT_EQ(r.unknown_total, 1);
  EXPECT_EQ(r.unknown_to_kernel.at(0).pfn, 0x401u);
}

// After a root is invalidated its tables and the new root's cover the same
// ranges: the pfn tells them apart.
TEST(Audit, SamePlaceDifferentFrameIsADifference) {
  const auto r = audit_tdp({model_page(1, 0, 0x400)}, roots(1), walk_of({table(1, 0, 0x999)}), {}, 0);
  EXPECT_EQ(r.missing_total, 1);
  EXPECT_EQ(r.unknown_total, 1);
}

// Plans that keep pages by sp (PAGE_OFFSET unknown to the probes) match by place.
TEST(Audit, APageKnownBySpMatchesByPlace) {
  const auto r = audit_tdp({model_page(1, 0, 0, 0xffff888000aa0000ull), model_page(1, 0, 0x400)},
                       roots(1), walk_of({table(1, 0, 0x400), table(1, 0, 0x500)}), {}, 0);
  EXPECT_TRUE(r.clean()) << r.summary();
}

TEST(Audit, RootsComparedOnlyWhereThePlanSeesThemReleased) {
  const auto w = walk_of({}, 2);
  EXPECT_FALSE(audit_tdp({}, roots(1), w, {}, 0).clean());
  EXPECT_NE(audit_tdp({}, roots(1), w, {}, 0).summary().find("roots valid/invalid: kernel 2/0, model 1/0"),
            std::string::npos);
  EXPECT_TRUE(audit_tdp({}, roots(1), w, AuditScope{false, true}, 0).clean());
}

TEST(Audit, PossibleNxListByPlace) {
  auto w = walk_of({table(1, 0, 0x400)});
  probes::WalkedPage nx = table(1, 0, 0x400);
  nx.value = TDPW_MMU_TDP;
  nx.sp = 0xffff888000bb0000ull;
  w.nx.push_back(nx);
  EXPECT_TRUE(audit_tdp({model_page(1, 0, 0x400, 0, true)}, roots(1), w, {}, 0).clean());
  const auto missing = audit_tdp({model_page(1, 0, 0x400)}, roots(1), w, {}, 0);
  EXPECT_EQ(missing.missing_total, 1);
  EXPECT_EQ(missing.missing_from_model.at(0).what, "nx");
  EXPECT_TRUE(audit_tdp({model_page(1, 0, 0x400)}, roots(1), w, AuditScope{true, false}, 0).clean());
}

TEST(Audit, AnIncompleteWalkIsNeverClean) {
  auto w = walk_of({}, 1);
  w.status = TDPW_TABLE_NO_PAGE_OFFSET;
  const auto r = audit_tdp({model_page(1, 0, 0x400)}, roots(1), w, {}, 0);
  EXPECT_FALSE(r.clean());
  EXPECT_EQ(r.unknown_total, 0) << "tables are not compared without them";
  EXPECT_NE(r.summary().find("incomplete walk (PAGE_OFFSET unknown"), std::string::npos)
      << r.summary();
}

// The races of a walk with the VM's events (walk_is_quiescent): only a walk
// with no event around it is adopted or audited.
TEST(WalkQuiescence, OnlyAWalkWithNoEventAroundIt) {
  EXPECT_TRUE(walk_is_quiescent(true, 10, 10, 10));
  // An event counted by this tick's map read but possibly still in the ring
  // buffer (the reconciler saw the count move since the previous tick): the
  // walk would hold it and the model would apply it again.
  EXPECT_FALSE(walk_is_quiescent(false, 11, 11, 11));
  // An event after the tick's read, before the walk: not yet applied.
  EXPECT_FALSE(walk_is_quiescent(true, 10, 11, 11));
  // An event during the walk: the walk may be torn.
  EXPECT_FALSE(walk_is_quiescent(true, 10, 10, 11));
}

// Shadow MMU hosts (tdp_mmu=N), and nested guests beside the TDP MMU.
TEST(Audit, ShadowPagesBySp) {
  auto w = walk_of({}, 0);
  probes::WalkedPage sp = table(4, 0, 0);
  sp.sp = 0xffff888000cc0000ull;
  w.shadow.push_back(sp);
  const core::PageView mine{0xffff888000cc0000ull, 0, 0, tdpwatch::role::synthesize(4, 0), 4, 0,
                            false, false};
  EXPECT_TRUE(audit({}, {mine}, roots(0), w, {}, 0).clean());
  const auto r = audit({}, {}, roots(0), w, {}, 0);
  EXPECT_EQ(r.missing_total, 1);
  EXPECT_EQ(r.missing_from_model.at(0).what, "shadow");
  EXPECT_TRUE(audit({}, {}, roots(0), w, AuditScope{true, true, false}, 0).clean());
}

}  // namespace
}  // namespace tdpwatch::reconcile

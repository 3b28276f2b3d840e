// The audit: the model's TDP MMU structure of one VM against the kernel's,
// page by page (issue "exact from the first second", part 3).  The kernel's
// side is a walk of its live tables (probes::VmTablesIter); the model's is
// core::Model::pages().  Pure logic: unit-tested with hand-written walks.
//
// What is compared, each only where the plan can see it:
//  - non-root TDP tables, by place (as_id, level, gfn) and identity (pfn; a
//    model page known only by sp matches any kernel table at its place);
//  - roots, valid and invalid, by count (the model keeps no root list), when
//    the plan sees roots released;
//  - the TDP possible-NX list, by place and identity, when the plan sees it.
// Leaves are not: the kernel keeps their counts (the reconciler compares).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/core/counts.h"
#include "daemon/core/model.h"
#include "daemon/probes/walked_vm.h"

namespace tdpwatch::reconcile {

struct AuditedPage {
  std::string what;  // "table", "nx", "shadow"
  int as_id = 0;
  int level = 0;
  std::uint64_t gfn = 0;
  std::uint64_t pfn = 0;  // 0: unknown
  std::uint64_t sp = 0;   // 0: unknown
};

struct AuditResult {
  double time = 0;          // Unix time of the walk
  double walk_seconds = 0;  // how long the walk of every VM's tables took (all VMs: one walk)
  std::string walk_status;  // probes::status_text()
  bool walk_complete = false;
  std::int64_t kernel_tables = 0, model_tables = 0;
  std::int64_t kernel_roots_valid = 0, kernel_roots_invalid = 0;
  std::int64_t model_roots_valid = 0, model_roots_invalid = 0;
  bool roots_compared = false;
  std::int64_t kernel_nx = 0, model_nx = 0;
  bool nx_compared = false;
  std::int64_t kernel_shadow = 0, model_shadow = 0;
  bool shadow_compared = false;
  // In the kernel, not in the model; in the model, not in the kernel.  The
  // totals count all; the lists keep the first kMaxListed of each.
  std::vector<AuditedPage> missing_from_model, unknown_to_kernel;
  std::int64_t missing_total = 0, unknown_total = 0;

  static constexpr std::size_t kMaxListed = 64;
  // The model equals the kernel on everything compared, and the walk saw
  // everything (an incomplete walk proves nothing either way).
  bool clean() const {
    return walk_complete && missing_total == 0 && unknown_total == 0 &&
           (!roots_compared || (kernel_roots_valid == model_roots_valid &&
                                kernel_roots_invalid == model_roots_invalid));
  }
  // "12 tables missing from the model (first: table as_id 0 level 1 gfn 0x200 pfn 0x1234),
  // roots valid 1/2" or "clean".
  std::string summary() const;
};

// Whether a walk of the kernel's tables is a quiescent point for one VM, so
// that adopting it (core::Model::adopt) or auditing against it is exact:
//  - quiet_since_previous_tick: the reconciler saw no event for the VM
//    between the previous tick's counter read and this tick's
//    (VmStatus::quiet).  Every event counted before the previous read has
//    been drained and applied since.  Without it, an event counted by this
//    tick's read but still in the ring buffer would be in the walk and then
//    applied again on top of it;
//  - at_tick, before_walk, after_walk: the VM's lossless event count at this
//    tick's read, just before the walk and just after it; an event between
//    them happened while the walk read the tables (torn).
bool walk_is_quiescent(bool quiet_since_previous_tick, std::uint64_t at_tick,
                       std::uint64_t before_walk, std::uint64_t after_walk);

struct AuditScope {
  bool roots = true;   // the plan sees roots released (ModelOptions::root_release_events)
  bool nx = true;      // the plan sees the possible-NX list
  bool shadow = true;  // the plan sees shadow pages created and zapped
};

// model_shadow: core::Model::shadow_pages(), compared by sp with the
// kernel's active_mmu_pages.
AuditResult audit(const std::vector<core::PageView>& model_pages,
                  const std::vector<core::PageView>& model_shadow, const core::VmCounts& counts,
                  const probes::WalkedVm& walk, const AuditScope& scope, double now);

}  // namespace tdpwatch::reconcile

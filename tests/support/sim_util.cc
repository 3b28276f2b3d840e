// Reporting helpers around SimKernel: era names, model options, gauge
// comparison and event descriptions.
#include <cinttypes>
#include <cstdio>
#include <iterator>

#include "tests/support/sim_kernel.h"

namespace tdpwatch::sim {

std::string_view name(Era era) {
  switch (era) {
    case Era::k6_1:
      return "6.1";
    case Era::k6_12:
      return "6.12";
    case Era::k6_18:
      return "6.18";
  }
  return "?";
}

core::ModelOptions model_options(const SimOptions& options) {
  core::ModelOptions m;
  m.structure_from_spte = !options.explicit_events;
  m.nx_untrack_events = options.nx_untrack_events;
  return m;
}

namespace {

void diff_one(std::string& out, const char* what, std::int64_t model, std::int64_t truth) {
  if (model == truth) return;
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%s%s: model %" PRId64 " kernel %" PRId64,
                out.empty() ? "" : "; ", what, model, truth);
  out += buf;
}

}  // namespace

std::string gauge_diff(const core::VmCounts& model, const core::VmCounts& truth) {
  std::string out;
  char what[64];
  for (int as = 0; as < core::kNrAddressSpaces; ++as) {
    for (int l = 0; l < core::kNrLevels; ++l) {
      std::snprintf(what, sizeof(what), "tdp_pages[as%d][L%d]", as, l + 1);
      diff_one(out, what, model.tdp_pages[as][l], truth.tdp_pages[as][l]);
    }
  }
  for (int l = 0; l < core::kNrLeafLevels; ++l) {
    std::snprintf(what, sizeof(what), "leaf_pages[L%d]", l + 1);
    diff_one(out, what, model.leaf_pages[l], truth.leaf_pages[l]);
  }
  for (int t = 0; t < core::kNrMmuTypes; ++t) {
    std::snprintf(what, sizeof(what), "possible_nx_huge_pages[%s]", t == 0 ? "shadow" : "tdp");
    diff_one(out, what, model.possible_nx_huge_pages[t], truth.possible_nx_huge_pages[t]);
  }
  diff_one(out, "roots_valid", model.roots_valid, truth.roots_valid);
  diff_one(out, "roots_invalid", model.roots_invalid, truth.roots_invalid);
  diff_one(out, "shadow_pages", model.shadow_pages, truth.shadow_pages);
  return out;
}

bool gauges_equal(const core::VmCounts& a, const core::VmCounts& b) {
  return a.tdp_pages == b.tdp_pages && a.leaf_pages == b.leaf_pages &&
         a.possible_nx_huge_pages == b.possible_nx_huge_pages && a.roots_valid == b.roots_valid &&
         a.roots_invalid == b.roots_invalid && a.shadow_pages == b.shadow_pages;
}

std::string describe(const Event& ev) {
  static constexpr const char* kNames[] = {
      "NONE",       "VM_CREATE", "VM_DESTROY", "ROOT_ALLOC", "ROOT_INVALIDATE",
      "ROOT_PUT",   "ROOT_FREE", "LINK_SP",    "UNLINK_SP",  "NX_TRACK",
      "NX_UNTRACK", "SPTE",      "SHADOW_GET", "SHADOW_ZAP", "LEAF_STATS"};
  static_assert(std::size(kNames) == TDPW_EV_TYPE_MAX);
  const char* type = ev.type < TDPW_EV_TYPE_MAX ? kNames[ev.type] : "?";
  char buf[256];
  if (ev.type == TDPW_EV_SPTE_CHANGED) {
    std::snprintf(buf, sizeof(buf), "%s vm=%" PRIx64 " as%u L%u gfn=0x%llx 0x%llx -> 0x%llx", type,
                  static_cast<std::uint64_t>(ev.vm), ev.as_id, ev.level,
                  static_cast<unsigned long long>(ev.spte.gfn),
                  static_cast<unsigned long long>(ev.spte.old_spte),
                  static_cast<unsigned long long>(ev.spte.new_spte));
  } else if (ev.type == TDPW_EV_VM_CREATE || ev.type == TDPW_EV_VM_DESTROY) {
    std::snprintf(buf, sizeof(buf), "%s vm=%" PRIx64 " tgid=%u", type,
                  static_cast<std::uint64_t>(ev.vm), ev.tgid);
  } else {
    std::snprintf(buf, sizeof(buf),
                  "%s vm=%" PRIx64
                  " as%u L%u gfn=0x%llx sp=0x%llx pfn=0x%llx role=0x%x flags=0x%x "
                  "mmu=%u value=%d",
                  type, static_cast<std::uint64_t>(ev.vm), ev.as_id, ev.level,
                  static_cast<unsigned long long>(ev.page.gfn),
                  static_cast<unsigned long long>(ev.page.sp),
                  static_cast<unsigned long long>(ev.page.pfn), ev.page.role, ev.flags, ev.mmu_type,
                  (ev.flags & TDPW_F_VALUE_VALID) ? ev.page.value : 0);
  }
  return buf;
}

}  // namespace tdpwatch::sim

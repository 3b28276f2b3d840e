#include "daemon/reconcile/audit.h"

#include <cstdio>
#include <map>
#include <tuple>

namespace tdpwatch::reconcile {
namespace {

using Place = std::tuple<int, int, std::uint64_t>;  // as_id, level, gfn

// One side's pages at each place, each matched at most once.
struct Slot {
  std::uint64_t pfn = 0, sp = 0;
  bool matched = false;
};
using Sides = std::map<Place, std::vector<Slot>>;

bool same_page(const Slot& a, const Slot& b) {
  if (a.pfn != 0 && b.pfn != 0) return a.pfn == b.pfn;
  if (a.sp != 0 && b.sp != 0) return a.sp == b.sp;
  return true;  // nothing to tell them apart: the place decides
}

// Matches kernel and model pages place by place; the unmatched ones of each
// side go to `missing` (kernel only) and `unknown` (model only).
void match(Sides& kernel, Sides& model, const char* what, AuditResult& r) {
  auto note = [&](std::vector<AuditedPage>& list, std::int64_t& total, const Place& p,
                  const Slot& s) {
    ++total;
    if (list.size() < AuditResult::kMaxListed) {
      list.push_back({what, std::get<0>(p), std::get<1>(p), std::get<2>(p), s.pfn, s.sp});
    }
  };
  // Exact identities first, so that a page known only by place does not take
  // a kernel page that another model page names exactly.
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& [place, ms] : model) {
      auto k = kernel.find(place);
      if (k == kernel.end()) continue;
      for (Slot& m : ms) {
        if (m.matched || (pass == 0 && m.pfn == 0 && m.sp == 0)) continue;
        for (Slot& ks : k->second) {
          if (ks.matched || !same_page(ks, m)) continue;
          if (pass == 0 && !((m.pfn && ks.pfn == m.pfn) || (m.sp && ks.sp == m.sp))) continue;
          ks.matched = m.matched = true;
          break;
        }
      }
    }
  }
  for (const auto& [place, ks] : kernel)
    for (const Slot& s : ks)
      if (!s.matched) note(r.missing_from_model, r.missing_total, place, s);
  for (const auto& [place, ms] : model)
    for (const Slot& s : ms)
      if (!s.matched) note(r.unknown_to_kernel, r.unknown_total, place, s);
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string describe(const AuditedPage& p) {
  return p.what + " as_id " + std::to_string(p.as_id) + " level " + std::to_string(p.level) +
         " gfn " + hex(p.gfn) + (p.pfn ? " pfn " + hex(p.pfn) : "") +
         (p.sp ? " sp " + hex(p.sp) : "");
}

}  // namespace

bool walk_is_quiescent(bool quiet_since_previous_tick, std::uint64_t at_tick,
                       std::uint64_t before_walk, std::uint64_t after_walk) {
  return quiet_since_previous_tick && before_walk == at_tick && after_walk == at_tick;
}

std::string AuditResult::summary() const {
  if (clean()) return "clean";
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  if (!walk_complete) add("incomplete walk (" + walk_status + ")");
  if (missing_total > 0) {
    add(std::to_string(missing_total) + " pages the kernel has are missing from the model (first: " +
        describe(missing_from_model.front()) + ")");
  }
  if (unknown_total > 0) {
    add(std::to_string(unknown_total) + " pages of the model the kernel does not have (first: " +
        describe(unknown_to_kernel.front()) + ")");
  }
  if (roots_compared &&
      (kernel_roots_valid != model_roots_valid || kernel_roots_invalid != model_roots_invalid)) {
    add("roots valid/invalid: kernel " + std::to_string(kernel_roots_valid) + "/" +
        std::to_string(kernel_roots_invalid) + ", model " + std::to_string(model_roots_valid) +
        "/" + std::to_string(model_roots_invalid));
  }
  return out;
}

AuditResult audit(const std::vector<core::PageView>& model_pages,
                  const std::vector<core::PageView>& model_shadow, const core::VmCounts& counts,
                  const probes::WalkedVm& walk, const AuditScope& scope, double now) {
  AuditResult r;
  r.time = now;
  r.walk_status = probes::status_text(walk.status);
  r.walk_complete = walk.status == TDPW_TABLE_COMPLETE;

  Sides kernel_tables, model_tables, kernel_nx, model_nx;
  for (const probes::WalkedPage& p : walk.tables) {
    kernel_tables[{p.as_id, p.level, p.gfn}].push_back({p.pfn, p.sp});
  }
  for (const probes::WalkedPage& p : walk.nx) {
    if (p.value == TDPW_MMU_TDP) kernel_nx[{p.as_id, p.level, p.gfn}].push_back({p.pfn, p.sp});
  }
  for (const core::PageView& p : model_pages) {
    model_tables[{p.as_id, p.level, p.gfn}].push_back({p.pfn, p.sp});
    if (p.nx_tracked) model_nx[{p.as_id, p.level, p.gfn}].push_back({p.pfn, p.sp});
  }
  r.kernel_tables = static_cast<std::int64_t>(walk.tables.size());
  r.model_tables = static_cast<std::int64_t>(model_pages.size());
  // Without the direct map's base only the roots were read: no table to compare.
  if (walk.status != TDPW_TABLE_NO_PAGE_OFFSET) match(kernel_tables, model_tables, "table", r);

  for (const probes::WalkedPage& p : walk.roots) {
    ++(p.root_invalid ? r.kernel_roots_invalid : r.kernel_roots_valid);
  }
  r.model_roots_valid = counts.roots_valid;
  r.model_roots_invalid = counts.roots_invalid;
  r.roots_compared = scope.roots;

  r.nx_compared = scope.nx;
  for (const auto& [place, v] : kernel_nx) r.kernel_nx += static_cast<std::int64_t>(v.size());
  for (const auto& [place, v] : model_nx) r.model_nx += static_cast<std::int64_t>(v.size());
  if (scope.nx) match(kernel_nx, model_nx, "nx", r);

  // Shadow pages: by sp, at their place (as_id, level, gfn).
  Sides kernel_sp, model_sp;
  for (const probes::WalkedPage& p : walk.shadow) {
    kernel_sp[{p.as_id, p.level, p.gfn}].push_back({0, p.sp});
  }
  for (const core::PageView& p : model_shadow) {
    model_sp[{p.as_id, p.level, p.gfn}].push_back({0, p.sp});
  }
  r.kernel_shadow = static_cast<std::int64_t>(walk.shadow.size());
  r.model_shadow = static_cast<std::int64_t>(model_shadow.size());
  r.shadow_compared = scope.shadow;
  if (scope.shadow) match(kernel_sp, model_sp, "shadow", r);
  return r;
}

}  // namespace tdpwatch::reconcile

#include "daemon/reconcile/figures.h"

#include <algorithm>

namespace tdpwatch::reconcile {
namespace {

const char* kMmu[] = {"shadow", "tdp"};
const char* kLeaf[] = {"4k", "2m", "1g"};

}  // namespace

std::uint64_t events_seen(const tdpw_vm_counters& c) {
  const std::uint64_t n = probe_events_total(c);
  // Aging and dirty-logging SPTE changes move no figure (tdpw_events.h).
  return n - std::min<std::uint64_t>(n, c.events[TDPW_COUNT_SPTE_ATTR_ONLY]);
}

std::uint64_t events_dropped(const tdpw_vm_counters& c) {
  return probe_events_dropped(c);
}

std::vector<Figure> compare(const core::VmCounts& m, const KernelView& k,
                            const core::CountOffsets& b) {
  std::vector<Figure> out;
  auto add = [&](const std::string& name, std::int64_t model,
                 const std::optional<std::int64_t>& kernel) {
    if (kernel) out.push_back({name, model, *kernel});
  };
  add("tdp_pages", m.tdp_pages_total(), k.tdp_pages);
  add("shadow_pages", m.shadow_pages, k.shadow_pages);
  // Figures the model takes from the kernel are set, not compared.
  for (int t = 0; !k.nx_from_kernel && t < core::kNrMmuTypes; ++t) {
    add(std::string("possible_nx_huge_pages_") + kMmu[t], m.possible_nx_huge_pages[t],
        k.possible_nx_huge_pages[t]);
  }
  for (int i = 0; k.leaves_comparable && !k.leaves_from_kernel && i < core::kNrLeafLevels; ++i) {
    add(std::string("leaf_mappings_") + kLeaf[i], m.leaf_pages[i], k.leaf_pages[i]);
  }
  add("memcg_page_tables", m.sec_page_table_pages(), k.memcg_page_table_pages);
  if (k.counters) {
    const tdpw_vm_counters& c = *k.counters;
    out.push_back({"probe_tdp_pages", m.tdp_pages_total(), c.tdp_pages + b.tdp_pages});
    out.push_back({"probe_shadow_pages", m.shadow_pages, c.shadow_pages + b.shadow_pages});
    for (int t = 0; !k.nx_from_kernel && t < core::kNrMmuTypes; ++t) {
      out.push_back({std::string("probe_possible_nx_huge_pages_") + kMmu[t],
                     m.possible_nx_huge_pages[t],
                     c.possible_nx_huge_pages[t] + b.possible_nx_huge_pages[t]});
    }
  }
  return out;
}

core::CountTargets absolute_targets(const KernelView& k) {
  core::CountTargets t;
  t.tdp_pages = k.tdp_pages;
  t.shadow_pages = k.shadow_pages;
  t.possible_nx_huge_pages = k.possible_nx_huge_pages;
  if (k.leaves_comparable) t.leaf_pages = k.leaf_pages;
  return t;
}

core::CountTargets resync_targets(const KernelView& k, const core::CountOffsets& b) {
  core::CountTargets t = absolute_targets(k);
  if (!k.counters) return t;
  const tdpw_vm_counters& c = *k.counters;
  if (!t.tdp_pages) t.tdp_pages = c.tdp_pages + b.tdp_pages;
  if (!t.shadow_pages) t.shadow_pages = c.shadow_pages + b.shadow_pages;
  for (int m = 0; m < core::kNrMmuTypes; ++m) {
    if (!t.possible_nx_huge_pages[m]) {
      t.possible_nx_huge_pages[m] = c.possible_nx_huge_pages[m] + b.possible_nx_huge_pages[m];
    }
  }
  return t;
}

bool any(const core::CountTargets& t) {
  return !names(t).empty();
}

std::string names(const core::CountTargets& t) {
  std::string out;
  auto add = [&](bool present, const std::string& name) {
    if (present) out += (out.empty() ? "" : ", ") + name;
  };
  add(t.tdp_pages.has_value(), "tdp_pages");
  add(t.shadow_pages.has_value(), "shadow_pages");
  for (int m = 0; m < core::kNrMmuTypes; ++m) {
    add(t.possible_nx_huge_pages[m].has_value(), std::string("possible_nx_huge_pages_") + kMmu[m]);
  }
  for (int i = 0; i < core::kNrLeafLevels; ++i) {
    add(t.leaf_pages[i].has_value(), std::string("leaf_mappings_") + kLeaf[i]);
  }
  return out;
}

core::CountTargets kernel_owned_targets(const KernelView& k, std::int64_t shadow_pages) {
  core::CountTargets t;
  if (k.leaves_from_kernel) t.leaf_pages = k.leaf_pages;
  if (!k.nx_from_kernel) return t;
  constexpr int kShadow = 0, kTdp = 1;
  if (k.possible_nx_huge_pages[kShadow] && k.possible_nx_huge_pages[kTdp]) {
    t.possible_nx_huge_pages = k.possible_nx_huge_pages;  // 6.18: per-type nr_pages
  } else if (k.nx_lpage_splits) {
    // stat.nx_lpage_splits counts every entry of the list(s):
    // track_possible_nx_huge_page() (6.2+) and 6.1's account_huge_nx_page()
    // increment it as they add a page.  Its split by MMU type is known when
    // only one type can hold pages: the shadow MMU alone (tdp_mmu=N), or a
    // TDP MMU VM with no shadow page (no nested guest).
    if (!k.leaves_comparable) {
      t.possible_nx_huge_pages = {*k.nx_lpage_splits, 0};
    } else if (k.shadow_pages.value_or(shadow_pages) == 0) {
      t.possible_nx_huge_pages = {0, *k.nx_lpage_splits};
    }
  }
  return t;
}

FigureSources figure_sources(const KernelView& k, const core::CountTargets& owned) {
  FigureSources s;
  if (k.leaves_from_kernel) {
    const bool all = std::all_of(owned.leaf_pages.begin(), owned.leaf_pages.end(),
                                 [](const auto& v) { return v.has_value(); });
    // Without the kernel's figures the model's leaves miss foreign zaps: not shown.
    s.leaf_mappings = all ? "kernel" : "unknown";
  }
  if (k.nx_from_kernel) {
    s.possible_nx_huge_pages = owned.possible_nx_huge_pages[0] && owned.possible_nx_huge_pages[1]
                                   ? "kernel"
                                   : "unknown";
  }
  return s;
}

core::CountOffsets baseline_offsets(const KernelView& k) {
  core::CountOffsets b;
  // No counters yet: the VM had no event since the probes were loaded (zeros).
  const tdpw_vm_counters c = k.counters.value_or(tdpw_vm_counters{});
  if (k.tdp_pages) b.tdp_pages = *k.tdp_pages - c.tdp_pages;
  if (k.shadow_pages) b.shadow_pages = *k.shadow_pages - c.shadow_pages;
  for (int m = 0; m < core::kNrMmuTypes; ++m) {
    if (k.possible_nx_huge_pages[m]) {
      b.possible_nx_huge_pages[m] = *k.possible_nx_huge_pages[m] - c.possible_nx_huge_pages[m];
    }
  }
  return b;
}

}  // namespace tdpwatch::reconcile

// Small helpers shared by the core's unit tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "tests/support/event_builders.h"
#include "daemon/core/model.h"
#include "daemon/core/role.h"
#include "daemon/core/spte.h"

namespace tdpwatch::core::testing {

inline constexpr std::uint64_t kVm = 0xffff888012340000ull;  // a struct kvm *
inline constexpr std::uint64_t kVm2 = 0xffff888056780000ull;
inline constexpr std::uint32_t kTgid = 4242;

inline events::PageRef page(std::uint64_t pfn, std::uint64_t gfn, int level, int as_id = 0,
                            std::uint64_t sp = 0) {
  return {sp, pfn, gfn, role::synthesize(level, as_id)};
}

inline std::int64_t tdp(const Model& m, int level, int as_id = 0, std::uint64_t vm = kVm) {
  return m.snapshot(vm)->counts.tdp_pages[as_id][level - 1];
}

inline std::int64_t leaves(const Model& m, int level, std::uint64_t vm = kVm) {
  return m.snapshot(vm)->counts.leaf_pages[level - 1];
}

inline std::uint64_t count(const Model& m, Inconsistency kind, std::uint64_t vm = kVm) {
  return m.snapshot(vm)->inconsistencies[static_cast<std::size_t>(kind)];
}

inline std::uint64_t total_inconsistencies(const Model& m, std::uint64_t vm = kVm) {
  return m.snapshot(vm)->inconsistencies_total;
}

// An SPTE-stream writer for one VM: spte changes at (as_id, gfn, level).
struct SpteStream {
  Model& model;
  std::uint64_t vm = kVm;
  int as_id = 0;

  void change(std::uint64_t gfn, int level, std::uint64_t old_spte, std::uint64_t new_spte) {
    model.apply(events::spte_changed(vm, as_id, gfn, level, old_spte, new_spte));
  }
  // Links the child table `pfn` under the entry (gfn, level): tdp_mmu_link_sp().
  void link(std::uint64_t gfn, int level, std::uint64_t pfn, std::uint64_t old_spte = 0) {
    change(gfn, level, old_spte, events::nonleaf_spte(pfn));
  }
  void map(std::uint64_t gfn, int level, std::uint64_t pfn) {
    change(gfn, level, 0, events::leaf_spte(pfn, level));
  }
};

}  // namespace tdpwatch::core::testing

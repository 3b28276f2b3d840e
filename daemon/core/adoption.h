// What the model adopts of a VM it did not watch from its creation: the
// kernel's live TDP MMU structure, read by a walk of its page tables
// (bpf/vm_tables_iter.bpf.c) at a quiescent point (no event for the VM since
// the previous tick, none during the walk), so that the adopted state plus
// the events that follow is the kernel's (core::Model::adopt).
#pragma once

#include <cstdint>
#include <vector>

namespace tdpwatch::core {

struct AdoptedRoot {
  std::uint64_t sp = 0;
  std::uint64_t pfn = 0;  // 0: unknown
  std::uint64_t gfn = 0;
  std::uint32_t role = 0;  // sp->role.word (level, as_id, invalid)
  int refcount = -1;       // tdp_mmu_root_count; -1: unknown
};

struct AdoptedTable {
  int as_id = 0;
  int level = 0;  // of the table (1 maps 4K pages)
  std::uint64_t gfn = 0;
  std::uint64_t pfn = 0;
  bool nx_tracked = false;  // on possible_nx_huge_pages (TDP)
};

// A shadow MMU page of kvm->arch.active_mmu_pages.
struct AdoptedShadowPage {
  std::uint64_t sp = 0;
  std::uint64_t gfn = 0;
  std::uint32_t role = 0;
  bool nx_tracked = false;  // on the shadow possible-NX list
};

struct Adoption {
  std::vector<AdoptedRoot> roots;
  std::vector<AdoptedTable> tables;  // every non-root table, any order
  std::vector<AdoptedShadowPage> shadow;
};

}  // namespace tdpwatch::core

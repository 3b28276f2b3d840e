// Private state of SimKernel, shared by sim_kernel.cc and sim_mmu.cc.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "daemon/core/spte.h"
#include "tests/support/sim_kernel.h"

namespace tdpwatch::sim {

inline constexpr std::uint64_t kSpteW = 0x2;  // writable (EPT W)
inline constexpr std::uint64_t kSpteX = 0x4;  // executable (EPT X)
inline constexpr int kEbusy = 16;

// struct kvm_mmu_page plus its page table (sp->spt).
struct detail::Table {
  std::uint64_t pfn = 0;
  std::uint64_t sp = 0;
  std::uint64_t gfn = 0;
  int level = 0;
  int as_id = 0;
  bool root = false;
  bool nx_disallowed = false;  // sp->nx_huge_page_disallowed (lpage_disallowed in 6.1)
  std::uint64_t nx_seq = 0;    // non-zero while on the possible-NX list
  // Roots only.
  int refcount = 0;
  bool invalid = false;
  bool scheduled_zap = false;  // tdp_mmu_scheduled_root_to_zap
  // Non-roots only: where the parent SPTE lives (sp->ptep).
  std::uint64_t parent_pfn = 0;
  int parent_index = -1;
  std::array<std::uint64_t, spte::kEntriesPerPage> spte{};
};

struct ShadowPage {
  std::uint64_t sp = 0;
  std::uint64_t pfn = 0;
  std::uint64_t gfn = 0;
  int level = 0;
  std::uint64_t nx_seq = 0;
};

struct detail::Vm {
  std::uint64_t key = 0;
  std::uint32_t tgid = 0;
  std::uint64_t slot = 0;
  VmConfig config;
  std::uint64_t mem_base_pfn = 0;  // host pfn of gfn 0 (1 GiB aligned)
  std::unordered_map<std::uint64_t, std::unique_ptr<Table>> tables;  // by pfn, roots too
  std::vector<std::uint64_t> roots;  // kvm->arch.tdp_mmu_roots (list_add: newest first)
  std::vector<std::array<std::uint64_t, core::kNrAddressSpaces>> vcpu_roots;  // 0: none
  // possible_nx_huge_pages, oldest first: seq -> (mmu type, pfn of a TDP table or sp
  // of a shadow page).
  std::map<std::uint64_t, std::pair<int, std::uint64_t>> nx_list;
  std::uint64_t nx_seq = 0;
  std::map<std::uint64_t, ShadowPage> shadow;  // by sp
  core::VmCounts truth;
};

// RAII around one public operation: frees are held until the outermost
// operation ends, as call_rcu() holds them past the mmu_lock section.
class SimKernel::OpScope {
 public:
  explicit OpScope(SimKernel& k) : k_(k) { ++k_.op_depth_; }
  ~OpScope() {
    if (--k_.op_depth_ == 0) k_.rcu_barrier();
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  SimKernel& k_;
};

template <typename Fn>
void SimKernel::for_each_root_yield_safe(Vm& vm, int as_id, bool only_valid, Fn&& fn) {
  const std::vector<std::uint64_t> roots = vm.roots;  // the list may lose entries meanwhile
  for (std::uint64_t pfn : roots) {
    auto it = vm.tables.find(pfn);
    if (it == vm.tables.end()) continue;
    Table& root = *it->second;
    if ((only_valid && root.invalid) || root.refcount == 0) continue;
    if (options_.iterator_root_refs) ++root.refcount;  // kvm_tdp_mmu_get_root()
    if (as_id < 0 || root.as_id == as_id) fn(root);
    if (options_.iterator_root_refs) put_root(vm, pfn);
  }
}

// Entries of table `t` whose range overlaps [start, end): [*lo, *hi).
inline void entry_range(const detail::Table& t, std::uint64_t start, std::uint64_t end, int* lo,
                        int* hi) {
  const std::uint64_t per = spte::pages_per_entry(t.level);
  const std::uint64_t span = per * spte::kEntriesPerPage;
  *lo = 0;
  *hi = 0;
  if (end <= t.gfn || start >= t.gfn + span || start >= end) return;
  const std::uint64_t s = start > t.gfn ? start - t.gfn : 0;
  const std::uint64_t e = end - t.gfn < span ? end - t.gfn : span;
  *lo = static_cast<int>(s / per);
  *hi = static_cast<int>((e + per - 1) / per);
}

}  // namespace tdpwatch::sim

// Per-VM figures, as the kernel keeps (or used to keep) them.
#pragma once

#include <array>
#include <cstdint>

namespace tdpwatch::core {

inline constexpr int kNrAddressSpaces = 2;  // KVM_MAX_NR_ADDRESS_SPACES on x86 (SMM)
inline constexpr int kNrLevels = 5;         // PG_LEVEL_4K .. PG_LEVEL_5 (index level-1)
inline constexpr int kNrLeafLevels = 3;     // 4K, 2M, 1G: kvm->stat.pages[]
inline constexpr int kNrMmuTypes = 2;       // KVM_SHADOW_MMU, KVM_TDP_MMU

struct VmCounts {
  // Linked non-root TDP page-table pages, [as_id][level-1]: the kernel's
  // tdp_mmu_pages (list length in 6.1, atomic64 in 6.2..6.14) split by place.
  std::array<std::array<std::int64_t, kNrLevels>, kNrAddressSpaces> tdp_pages{};
  // Leaf SPTEs by size, as kvm_update_page_stats() keeps stat.pages[].
  std::array<std::int64_t, kNrLeafLevels> leaf_pages{};
  // possible_nx_huge_pages[mmu_type].nr_pages (6.18 naming).
  std::array<std::int64_t, kNrMmuTypes> possible_nx_huge_pages{};
  std::int64_t roots_valid = 0;
  std::int64_t roots_invalid = 0;
  // Live shadow MMU pages (n_used_mmu_pages).
  std::int64_t shadow_pages = 0;

  // Lifetime operation counters.
  std::uint64_t link_sp_total = 0;
  std::uint64_t link_sp_failed_total = 0;
  std::uint64_t unlink_sp_total = 0;
  std::uint64_t nx_track_total = 0;
  std::uint64_t nx_untrack_total = 0;
  std::uint64_t spte_changed_total = 0;
  std::uint64_t shadow_created_total = 0;
  std::uint64_t shadow_zapped_total = 0;
  std::uint64_t events_total = 0;

  std::int64_t tdp_pages_total() const {
    std::int64_t n = 0;
    for (const auto& as : tdp_pages)
      for (std::int64_t v : as) n += v;
    return n;
  }
  // The pages SecPageTables (and a memcg's sec_pagetables) accounts for this
  // VM: non-root TDP pages and every shadow page.  TDP roots are not
  // accounted (tdp_mmu_alloc_sp() vs tdp_account_mmu_page(), tdp_mmu.c 6.12).
  std::int64_t sec_page_table_pages() const { return tdp_pages_total() + shadow_pages; }
  // Every page-table page the VM holds: the above plus its TDP roots.
  std::int64_t page_table_pages() const {
    return sec_page_table_pages() + roots_valid + roots_invalid;
  }
  bool operator==(const VmCounts&) const = default;
};

}  // namespace tdpwatch::core

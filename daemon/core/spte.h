// SPTE value decoding, as arch/x86/kvm/mmu/spte.h does it.  Pure functions:
// the accounting core derives links, unlinks and leaf statistics from SPTE
// values alone, exactly as handle_changed_spte() does.
#pragma once

#include <cstdint>

#include "bpf/tdpw_spte.h"

namespace tdpwatch::spte {

// The bits, defined once for the probes and the core (bpf/tdpw_spte.h).
inline constexpr std::uint64_t kMmuPresentMask = TDPW_SPTE_PRESENT;
inline constexpr std::uint64_t kPageSizeMask = TDPW_SPTE_HUGE;
inline constexpr std::uint64_t kBaseAddrMask = TDPW_SPTE_ADDR_MASK;
inline constexpr std::uint64_t kShadowNonpresentValue = TDPW_SHADOW_NONPRESENT_VALUE;
inline constexpr std::uint64_t kRemovedSpteLegacy = TDPW_REMOVED_SPTE_LEGACY;
inline constexpr std::uint64_t kFrozenSpte = TDPW_FROZEN_SPTE;
inline constexpr std::uint64_t kFrozenSpteV7 = TDPW_FROZEN_SPTE_V7;

inline constexpr int kLevel4K = 1;           // PG_LEVEL_4K
inline constexpr int kLevel2M = 2;           // PG_LEVEL_2M
inline constexpr int kLevel1G = 3;           // PG_LEVEL_1G
inline constexpr int kMaxLevel = 5;          // PT64_ROOT_MAX_LEVEL
inline constexpr int kEntriesPerPage = 512;  // SPTE_ENT_PER_PAGE

// is_shadow_present_pte()
constexpr bool is_present(std::uint64_t spte) {
  return (spte & kMmuPresentMask) != 0;
}
// is_large_pte()
constexpr bool is_large(std::uint64_t spte) {
  return (spte & kPageSizeMask) != 0;
}
// is_last_spte(): every present 4K entry is a leaf; above, only huge ones.
constexpr bool is_last(std::uint64_t spte, int level) {
  return level == kLevel4K || is_large(spte);
}
// is_last_spte() of a present SPTE (false for a non-present one).
constexpr bool is_leaf(int level, std::uint64_t spte) {
  return is_present(spte) && is_last(spte, level);
}
// spte_to_pfn()
constexpr std::uint64_t to_pfn(std::uint64_t spte) {
  return (spte & kBaseAddrMask) >> 12;
}
// is_removed_spte() / is_frozen_spte(): any era's value (6.1-6.10,
// 6.11-6.19, 7.x).
constexpr bool is_frozen(std::uint64_t spte) {
  return spte == kRemovedSpteLegacy || spte == kFrozenSpte || spte == kFrozenSpteV7;
}
// KVM_PAGES_PER_HPAGE(level): 4K pages mapped by one entry of a level-`level` table.
constexpr std::uint64_t pages_per_entry(int level) {
  return 1ull << (9 * (level - 1));
}

}  // namespace tdpwatch::spte

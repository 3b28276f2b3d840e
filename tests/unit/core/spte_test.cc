// SPTE decoding, against arch/x86/kvm/mmu/spte.h.
#include "daemon/core/spte.h"

#include <gtest/gtest.h>

namespace tdpwatch::spte {
namespace {

TEST(Spte, PresentIsBit11) {
  EXPECT_TRUE(is_present(1ull << 11));
  EXPECT_FALSE(is_present(0));
  // SHADOW_NONPRESENT_VALUE (6.10+) and FROZEN/REMOVED_SPTE are not present.
  EXPECT_FALSE(is_present(kShadowNonpresentValue));
  EXPECT_FALSE(is_present(kFrozenSpte));
  EXPECT_FALSE(is_present(kRemovedSpteLegacy));
}

TEST(Spte, LastSpteIsEvery4KEntryOrAHugeOne) {
  const std::uint64_t table = kMmuPresentMask | (0x1234ull << 12);
  EXPECT_TRUE(is_last(table, kLevel4K));  // is_last_spte(): level == PG_LEVEL_4K
  EXPECT_FALSE(is_last(table, kLevel2M));
  EXPECT_TRUE(is_last(table | kPageSizeMask, kLevel2M));
  EXPECT_TRUE(is_last(table | kPageSizeMask, kLevel1G));
}

TEST(Spte, PfnIsBits12To51) {
  EXPECT_EQ(to_pfn((0xfffffffffull << 12) | 0xfff | (0xfffull << 52)), 0xfffffffffull);
  EXPECT_EQ(to_pfn(kFrozenSpte), 0u);
}

TEST(Spte, FrozenInEveryEra) {
  EXPECT_TRUE(is_frozen(0x5a0));                 // REMOVED_SPTE before 6.10
  EXPECT_TRUE(is_frozen((1ull << 63) | 0x5a0));  // FROZEN_SPTE, 6.11-6.19
  EXPECT_TRUE(is_frozen((1ull << 63) | 0x1a0));  // FROZEN_SPTE, 7.x
  EXPECT_FALSE(is_present(kFrozenSpteV7));
  EXPECT_FALSE(is_frozen(0));
  EXPECT_FALSE(is_frozen(1ull << 63));  // SHADOW_NONPRESENT_VALUE alone
}

// tdpw_spte_attr_only() (bpf/tdpw_spte.h): what the probes count as moving no
// figure, so that aging does not break quiescence.
TEST(Spte, AttrOnlyChangesKeepPresenceLeafnessAndPfn) {
  const std::uint64_t leaf = kMmuPresentMask | (0x1234ull << 12);
  const std::uint64_t accessed = 1ull << 8, writable = 1ull << 1;
  EXPECT_TRUE(tdpw_spte_attr_only(1, leaf | accessed, leaf));            // aging
  EXPECT_TRUE(tdpw_spte_attr_only(2, leaf | kPageSizeMask | writable,   // write-protect
                                  leaf | kPageSizeMask));
  EXPECT_TRUE(tdpw_spte_attr_only(2, leaf | accessed, leaf));            // a table's A bit
  EXPECT_FALSE(tdpw_spte_attr_only(1, leaf, kShadowNonpresentValue));    // zap
  EXPECT_FALSE(tdpw_spte_attr_only(1, kShadowNonpresentValue, leaf));    // map
  EXPECT_FALSE(tdpw_spte_attr_only(1, leaf, leaf + (1ull << 12)));       // another pfn
  EXPECT_FALSE(tdpw_spte_attr_only(2, leaf | kPageSizeMask, leaf));      // split
  EXPECT_FALSE(tdpw_spte_attr_only(2, leaf, leaf | kPageSizeMask));      // collapse
}

// One rule for the probes and the core: what handle_changed_spte() does
// with each kind of change (bpf/tdpw_spte.h).
TEST(Spte, WhatAChangeMovesAsHandleChangedSpte) {
  const std::uint64_t np = kShadowNonpresentValue;
  const std::uint64_t leaf4k = kMmuPresentMask | (0x1000ull << 12);
  const std::uint64_t huge = kMmuPresentMask | kPageSizeMask | (0x2000ull << 12);
  const std::uint64_t table = kMmuPresentMask | (0x3000ull << 12);
  const std::uint64_t table2 = kMmuPresentMask | (0x3001ull << 12);
  struct Case {
    const char* what;
    int level;
    std::uint64_t old_spte, new_spte;
    bool structure, links, removes, anomalous;
    int leaf_change, splits;
  } cases[] = {
      {"4K map", 1, np, leaf4k, false, false, false, false, 1, 0},
      {"4K zap", 1, leaf4k, np, false, false, false, false, -1, 0},
      {"4K frozen", 1, leaf4k, kFrozenSpte, false, false, false, false, -1, 0},
      {"2M map", 2, np, huge, false, false, false, false, 1, 0},
      {"table link", 2, np, table, true, true, false, false, 0, 0},
      {"table zap", 3, table, np, true, false, true, false, 0, 0},
      {"split", 2, huge, table, true, true, false, false, -1, 1},
      {"collapse", 2, table, huge, true, false, true, false, 1, 0},
      {"table replaced (WARN)", 2, table, table2, true, true, true, false, 0, 0},
      {"table A bit", 2, table | (1ull << 8), table, false, false, false, false, 0, 0},
      {"leaf remapped (BUG)", 1, leaf4k, leaf4k + (1ull << 12), false, false, false, true, 0, 0},
      {"512G leaf", 4, np, huge, false, false, false, true, 0, 0},
      {"level 6", 6, np, leaf4k, true, true, false, true, 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(tdpw_spte_moves_structure(c.level, c.old_spte, c.new_spte) != 0, c.structure);
    EXPECT_EQ(tdpw_spte_links_table(c.level, c.old_spte, c.new_spte) != 0, c.links);
    EXPECT_EQ(tdpw_spte_removes_table(c.level, c.old_spte, c.new_spte) != 0, c.removes);
    EXPECT_EQ(tdpw_spte_anomalous(c.level, c.old_spte, c.new_spte) != 0, c.anomalous);
    EXPECT_EQ(tdpw_spte_leaf_change(c.level, c.old_spte, c.new_spte), c.leaf_change);
    EXPECT_EQ(tdpw_spte_splits_huge_page(c.level, c.old_spte, c.new_spte), c.splits);
  }
}

TEST(Spte, PagesPerEntry) {
  EXPECT_EQ(pages_per_entry(1), 1u);
  EXPECT_EQ(pages_per_entry(2), 512u);
  EXPECT_EQ(pages_per_entry(3), 512u * 512u);
}

}  // namespace
}  // namespace tdpwatch::spte

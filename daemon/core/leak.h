// What the kernel's teardown WARN would have said, with names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "counts.h"

namespace tdpwatch::core {

struct LeakedPage {
  enum class What : std::uint8_t { kLinked, kNxTracked, kRoot, kShadow };
  What what;
  std::uint64_t sp;   // 0 if never known
  std::uint64_t pfn;  // 0 if never known
  std::uint64_t gfn;
  std::uint32_t role;
  int level;
  int as_id;
  int mmu_type;  // for kNxTracked
};

struct LeakRecord {
  std::uint64_t vm;
  std::uint32_t tgid;
  std::uint64_t event_index;      // the teardown event
  std::int64_t linked_pages = 0;  // non-root TDP pages still linked (the 6.1/6.12 WARN)
  std::int64_t nx_tracked_pages = 0;
  std::int64_t roots = 0;  // roots never freed (the tdp_mmu_roots WARN)
  std::int64_t shadow_pages = 0;
  VmCounts counts_at_teardown;
  std::vector<LeakedPage> pages;  // every leaked page, sorted by (what, as_id, level, gfn)

  bool empty() const {
    return linked_pages == 0 && nx_tracked_pages == 0 && roots == 0 && shadow_pages == 0;
  }
};

std::string_view name(LeakedPage::What what);

// "vm 0xffff... tgid 42: 3 linked, 1 NX-tracked, 0 roots, 0 shadow; first: gfn 0x... L1 ..."
std::string summarize(const LeakRecord& leak, std::size_t max_pages);

}  // namespace tdpwatch::core

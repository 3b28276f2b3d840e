// One VM's TDP MMU structure as bpf/vm_tables_iter.bpf.c walked it
// (probes::VmTablesIter): plain data, so that the audit (daemon/reconcile/)
// and its unit tests need no libbpf.
#pragma once

#include <linux/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/core/abi.h"
#include "tdpw_table_iter.h"

namespace tdpwatch::probes {

struct WalkedPage {
  std::uint64_t sp = 0;   // struct kvm_mmu_page *: roots and NX entries; 0 for walked tables
  std::uint64_t pfn = 0;  // 0: unknown (PAGE_OFFSET unknown)
  std::uint64_t gfn = 0;
  std::uint32_t role = 0;  // roots and NX entries
  int level = 0;
  int as_id = 0;
  int value = 0;  // roots: refcount; NX entries: enum tdpw_mmu_type; shadow: root_count
  bool root_invalid = false;
  bool nx_tracked = false;  // shadow pages: on the shadow possible-NX list
};

struct WalkedVm {
  std::uint64_t kvm = 0;
  std::uint32_t tgid = 0;
  tdpw_table_status status = TDPW_TABLE_COMPLETE;
  std::uint64_t page_offset = 0;  // the direct map's base the walk used; 0: unknown
  std::vector<WalkedPage> roots;
  std::vector<WalkedPage> tables;  // non-root TDP tables
  std::vector<WalkedPage> nx;      // possible-NX list entries (TDP and shadow)
  std::vector<WalkedPage> shadow;  // shadow MMU pages (active_mmu_pages)
};

// "complete", "PAGE_OFFSET unknown: roots only", ...
std::string status_text(tdpw_table_status status);

}  // namespace tdpwatch::probes

// Host page-table figures from <procfs>/meminfo.
//
// SecPageTables is NR_SECONDARY_PAGETABLE: every page of KVM's TDP MMU and
// shadow MMU page tables is charged there (since Linux 6.0), so it is the
// host-wide truth the accounting model must agree with.  PageTables is the
// host's own (primary) page tables, kept for context.
//
// Since Linux 6.11 the IOMMU's page tables are charged to
// NR_SECONDARY_PAGETABLE too (__iommu_alloc_account() in
// drivers/iommu/iommu-pages.h adds every page to NR_IOMMU_PAGES and to
// NR_SECONDARY_PAGETABLE): a host with DMA-translated or VFIO devices has
// SecPageTables that no VM accounts for, and that grows when a device is
// passed through.  <procfs>/vmstat's nr_iommu_pages says how much: read
// beside meminfo, so that the host comparison takes KVM's part only.
#pragma once

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string_view>

#include "daemon/common/result.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::truth {

struct MemInfo {
  std::uint64_t sec_page_tables_bytes = 0;
  std::uint64_t page_tables_bytes = 0;
  // vmstat nr_iommu_pages, in bytes; nullopt before 6.11 (none charged).
  std::optional<std::uint64_t> iommu_page_tables_bytes;
  // SecPageTables less the IOMMU's part: KVM's MMU pages.
  std::uint64_t kvm_sec_page_tables_bytes() const {
    const std::uint64_t iommu = iommu_page_tables_bytes.value_or(0);
    return sec_page_tables_bytes > iommu ? sec_page_tables_bytes - iommu : 0;
  }
};

// The nr_iommu_pages line of vmstat text, in pages; nullopt without one.
std::optional<std::uint64_t> parse_vmstat_iommu_pages(std::string_view text);

// A meminfo without a SecPageTables line (kernel < 6.0) fails with this
// errno_value, so callers can tell "this kernel cannot say" from "could not
// read": the kernel's own ENODATA, "no data available".
inline constexpr int kNoSecPageTables = ENODATA;

// Parses meminfo text; `source` names it in error messages.
Result<MemInfo> parse_meminfo(std::string_view text, std::string_view source);

// Reads and parses <procfs>/meminfo, and nr_iommu_pages from <procfs>/vmstat
// (a vmstat that cannot be read leaves it unknown).
Result<MemInfo> read_meminfo(const Paths& paths);

}  // namespace tdpwatch::truth

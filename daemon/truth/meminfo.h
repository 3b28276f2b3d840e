// Host page-table figures from <procfs>/meminfo.
//
// SecPageTables is NR_SECONDARY_PAGETABLE: every page of KVM's TDP MMU and
// shadow MMU page tables is charged there (since Linux 6.0), so it is the
// host-wide truth the accounting model must agree with.  PageTables is the
// host's own (primary) page tables, kept for context.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string_view>

#include "daemon/common/result.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::truth {

struct MemInfo {
  std::uint64_t sec_page_tables_bytes = 0;
  std::uint64_t page_tables_bytes = 0;
};

// A meminfo without a SecPageTables line (kernel < 6.0) fails with this
// errno_value, so callers can tell "this kernel cannot say" from "could not
// read": the kernel's own ENODATA, "no data available".
inline constexpr int kNoSecPageTables = ENODATA;

// Parses meminfo text; `source` names it in error messages.
Result<MemInfo> parse_meminfo(std::string_view text, std::string_view source);

// Reads and parses <procfs>/meminfo.
Result<MemInfo> read_meminfo(const Paths& paths);

}  // namespace tdpwatch::truth

// The /proc readers host tests share.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace tdpwatch::host_test {

// The value of "Key:\tvalue" in /proc/<pid>/status (leading blanks trimmed);
// nullopt when the process or the key is missing.
std::optional<std::string> proc_status_field(pid_t pid, const std::string& key);

// /proc/meminfo SecPageTables in bytes.  fold_vmstat first writes
// /proc/sys/vm/stat_refresh, so per-CPU vmstat deltas are folded in (without
// it the figure lags up to about a second).
std::optional<std::int64_t> sec_page_tables_bytes(bool fold_vmstat);

}  // namespace tdpwatch::host_test

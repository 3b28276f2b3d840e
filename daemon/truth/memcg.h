// A VM's page tables as its memory cgroup counts them: cgroup v2
// memory.stat `sec_pagetables` (NR_SECONDARY_PAGETABLE, Linux 6.0+), the
// non-root TDP and shadow MMU pages charged to the cgroup of the process that
// allocated them.  A per-VM kernel figure when that process's cgroup holds no
// other process (memory.stat counts the cgroup's descendants too).
//
// cgroup v2 only: under cgroup v1 (or a hybrid hierarchy whose memory
// controller is v1, as on this project's development hosts) memory.stat has
// no sec_pagetables, and the reader says so.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::truth {

struct MemcgPageTables {
  std::string cgroup;  // path below the cgroup2 mount ("/machine.slice/...")
  std::uint64_t sec_pagetables_bytes = 0;
  std::vector<int> procs;  // every process of the cgroup and its descendants
};

// The cgroup2 mount: <sysfs>/fs/cgroup (unified), else <sysfs>/fs/cgroup/unified (hybrid).
std::string cgroup2_root(const Paths& paths);

// For process `pid`: its cgroup v2 path (<procfs>/<pid>/cgroup "0::..."),
// that cgroup's memory.stat sec_pagetables, and its processes.
Result<MemcgPageTables> read_memcg_page_tables(const Paths& paths, int pid);

}  // namespace tdpwatch::truth

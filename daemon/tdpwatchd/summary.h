// The --once output: one JSON document describing the host and every VM the
// poll saw, for humans and for tests (which match on its keys).
//
//   {"host": {"kernel": ..., "kvm_loaded": ..., "tdp_mmu": ..., "mmu": ...,
//             "vendor_modules": [...], "debugfs": "ok" | problem,
//             "sec_page_tables_bytes": N | null, "page_tables_bytes": N | null, ...},
//    "vms": [{"pid": N, "fd": N, "comm": ..., "qemu_name": ... | null,
//             "stats": {"pages_4k": N, ...}, "unavailable": {"exits": "EPERM", ...}}]}
#pragma once

#include <string>

#include "daemon/tdpwatchd/host_check.h"
#include "daemon/tdpwatchd/watcher.h"

namespace tdpwatch::tdpwatchd {

std::string render_json(const HostReport& host, const PollResult& poll);

}  // namespace tdpwatch::tdpwatchd

// The --once output: one JSON document describing the host and every VM the
// poll saw, for humans and for tests (which match on its keys).
//
//   {"host": {"kernel": ..., "kvm_loaded": ..., "dev_kvm": bool | null (fixture tree),
//             "kvm_unavailable": why no VM can exist | null, "tdp_mmu": ..., "mmu": ...,
//             "vendor_modules": [...], "debugfs": "ok" | problem,
//             "sec_page_tables_bytes": N | null, "page_tables_bytes": N | null, ...},
//    "vms": [{"pid": N, "fd": N, "comm": ..., "qemu_name": ... | null,
//             "stats": {"pages_4k": N, ...}, "unavailable": {"exits": "EPERM", ...}}]}
#pragma once

#include <string>

#include "daemon/setup/host_check.h"
#include "daemon/tdpwatchd/watcher.h"

namespace tdpwatch::tdpwatchd {

// `extra`: further top-level members (already indented, no trailing comma),
// e.g. model_json.h's "probes" and "model"; empty for none.
std::string render_json(const setup::HostReport& host, const PollResult& poll,
                        const std::string& extra = {});

}  // namespace tdpwatch::tdpwatchd

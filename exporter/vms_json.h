// The JSON API's document (GET /api/v1/vms), from a HostSnapshot:
//
//   {"time": T, "version": ..., "events_processed": N, "events_lost": N,
//    "sec_page_tables_bytes": N | null,
//    "ringbuf": {"size_bytes": N, "used_bytes": N | null, "used_peak_bytes": N | null},
//    "reconcile": {"last_full": T, "resyncs_total": N, "host_drift_pages": N | null,
//                  "host_drift_confirmed": bool} | null,
//    "vms": [{"vm": ..., "pid": N, "comm": ..., "uuid": ..., "debugfs": ...,
//             "key": N, "implicit": bool,
//             "model": {"tdp_pages": [[L1..L5] per as_id], "tdp_pages_total": N,
//                       "roots_valid": N, "roots_invalid": N,
//                       "possible_nx_huge_pages": {"shadow": N, "tdp": N},
//                       "leaf_mappings": {"4k": N, "2m": N, "1g": N}, "shadow_pages": N,
//                       "counters": {"link_sp": N, ...}, "inconsistencies": {kind: N}},
//             "kernel": {"tdp_pages": N | null, ..., "source": {"structure": "probes" |
//             "vm_iterator" | "", "leaves": ... | "debugfs"}}, "probe_counters": {"events": N,
//             "lost": N, "tdp_pages": N,
//                                "shadow_pages": N} | null,
//             "reconcile": {"tracking": "full" | "since_seen" | "baseline",
//                           "baseline_figures": "shadow_pages, ...", "degraded": bool,
//                           "resyncs": N, "figures": [{"figure": ..., "model": N,
//                           "kernel": N, "confirmed": bool}]} | null}],
//    "leaks": {"warnings_total": N, "teardowns_total": N, "pages_total": {what: N},
//              "retained": [{"vm": ..., "pid": N, "time": T, "linked_pages": N, ...,
//                            "pages": [{"what": ..., "gfn": N, "level": N, "role": N,
//                                       "as_id": N, "mmu_type": N}]}]}}
//
// The VM key (a kernel address) is given here, for the local CLI, and never
// as a metric label.
#pragma once

#include <string>

#include "exporter/host_snapshot.h"

namespace tdpwatch::exporter {

std::string render_vms_json(const HostSnapshot& snapshot);

}  // namespace tdpwatch::exporter

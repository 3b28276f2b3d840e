// The probe side of the --once / --status-file JSON:
//
//   "probes": {"plan": [{"hook": ..., "variant": ... | null, "target": ...}],
//              "vm_lifecycle": "hooks" | "uevents", "events_processed": N,
//              "events_lost": N, "malformed": N, "vms_created": N,
//              "vms_destroyed": N, "leaky_teardowns": N, "record_errors": N},
//   "model": {"shadow_pages_total": N, "tdp_pages_total": N,
//             "page_table_bytes_total": N, "inconsistencies_global": N,
//             "vms": [{"vm": N, "tgid": N, "implicit": bool, "shadow_pages": N,
//                      "tdp_pages": N, "tdp_pages_by_level": [L1..L5],
//                      "leaf_pages": {"4k": N, "2m": N, "1g": N},
//                      "possible_nx_huge_pages": [shadow, tdp], "roots_valid": N,
//                      "inconsistencies": N, "counters": {...} | null,
//                      "kernel": {"tdp_pages": N | null, ..., "source": {...}} | null,
//                      "drift": {"<figure>": model - kernel, ...} | null}]}
//
// "counters" are the probes' lossless per-VM counters (vm_counters, summed
// over CPUs): "events", "dropped", "shadow_pages", "tdp_pages".  "kernel" and
// "drift" are the reconciler's (null before its first tick on the VM).
#pragma once

#include <string>

#include "daemon/core/model.h"
#include "daemon/probes/attach_plan.h"
#include "daemon/probes/event_loop.h"
#include "daemon/reconcile/reconciler.h"

namespace tdpwatch::tdpwatchd {

// Two JSON members ("probes" and "model"), indented for the top-level object,
// without a trailing comma or newline.
std::string render_probes_json(const probes::AttachPlan& plan, const probes::EventLoop& loop,
                               const core::Model& model, const reconcile::Reconciler* rec);

}  // namespace tdpwatch::tdpwatchd

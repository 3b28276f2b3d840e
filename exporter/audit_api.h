// GET /api/v1/vms/<key>/audit: one VM's last audit (the model's TDP tables
// against a walk of the kernel's live ones, daemon/reconcile/audit.h), for
// `tdpwatch audit`.  With ?fresh=1 the handler asks for an audit now
// (SnapshotStore::request_audit) and waits, up to the wait given, for a
// snapshot whose audit of the VM is newer than the request.
//
//   {"key": N, "vm": ..., "pid": N, "fresh": bool,
//    "audit": null | {"time": T, "clean": bool, "summary": "...", "walk": {"status": "...",
//      "complete": bool, "seconds": S}, "tables": {"kernel": N, "model": N},
//      "roots": null | {"kernel": {"valid": N, "invalid": N}, "model": {...}},
//      "nx": null | {"kernel": N, "model": N}, "shadow": null | {"kernel": N, "model": N},
//      "missing_from_model": {"total": N, "pages": [page...]},
//      "unknown_to_kernel": {"total": N, "pages": [page...]}}}
//   page: {"what": "table"|"nx", "as_id": N, "level": N, "gfn": N, "pfn": N, "sp": N}
//
// "fresh": false when no audit newer than the request came in time (a VM
// never quiet, or audits unavailable): the last one, or null.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "exporter/host_snapshot.h"
#include "exporter/pages_api.h"
#include "exporter/snapshot_store.h"

namespace tdpwatch::exporter {

std::string render_audit_json(const VmEntry& vm, bool fresh);

ApiReply serve_audit(const SnapshotStore& store, std::uint64_t key, bool fresh,
                     double wait_seconds);

}  // namespace tdpwatch::exporter

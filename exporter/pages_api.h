// GET /api/v1/vms/<key>/pages: one VM's tracked pages, for `tdpwatch snapshot
// --pages`.  <key> is the VM key of /api/v1/vms, in decimal.
//
//   {"key": N, "vm": ..., "pid": N, "time": T,
//    "pages": [{"mmu": "tdp"|"shadow", "gfn": N, "level": N, "role": N, "as_id": N,
//               "sp": N, "pfn": N, "nx_disallowed": bool, "nx_tracked": bool}]}
//
// TDP pages first, then shadow pages, each sorted by (as_id, level, gfn).
// sp and pfn are 0 where the stream never told them.
//
// Snapshots carry pages only on demand (HostSnapshot::pages_included): the
// handler asks the publisher for them (SnapshotStore::want_pages_until) and
// waits for a snapshot that has them, up to WebConfig::pages_wait_seconds.
// The model is never touched from this thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "exporter/api_route.h"  // parse_pages_path
#include "exporter/host_snapshot.h"
#include "exporter/snapshot_store.h"

namespace tdpwatch::exporter {

// The current time as Unix time, as the daemon stamps snapshots.
double unix_now();

std::string render_pages_json(const VmEntry& vm, double time_seconds);

struct ApiReply {
  int status = 200;  // 200, 404 (no such VM), 503 (no snapshot with pages in time)
  std::string body;  // JSON for 200, one text line otherwise
};

// Keeps pages flowing this long after the last request, so that repeated
// calls (a script polling) are answered from the current snapshot at once.
inline constexpr double kPagesDemandSeconds = 60.0;

ApiReply serve_pages(const SnapshotStore& store, std::uint64_t key, double wait_seconds);

}  // namespace tdpwatch::exporter

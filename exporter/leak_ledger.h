// The leak side of the snapshot: totals since the daemon started (counters
// that never go down) and each leaky teardown kept for `retention` after the
// VM is gone, so an alert rule can still see it (the VM's other series vanish
// at teardown).
//
// Thread safety: none; the event-loop thread records and fills snapshots.
#pragma once

#include <cstdint>
#include <deque>

#include "exporter/host_snapshot.h"

namespace tdpwatch::exporter {

class LeakLedger {
 public:
  explicit LeakLedger(double retention_seconds) : retention_(retention_seconds) {}
  // A new retention (SIGHUP), applied at the next fill().
  void set_retention(double retention_seconds) { retention_ = retention_seconds; }

  // One VM_DESTROY's record, clean or not, at Unix time `now`.
  void record(const core::LeakRecord& record, VmIdentity identity, double now);

  // Drops retained leaks older than the retention, then copies the totals
  // and the retained leaks into `out`.
  void fill(HostSnapshot& out, double now);

 private:
  double retention_;
  std::uint64_t teardowns_ = 0;
  std::uint64_t warnings_ = 0;
  std::array<std::uint64_t, 4> pages_{};
  std::deque<LeakEntry> retained_;
};

}  // namespace tdpwatch::exporter

// The shared event ABI (bpf/tdpw_events.h) seen from C++: one include point,
// so every userspace file gets the same __u64 definitions first.
#pragma once

#include <linux/types.h>

#include <cstdint>

#include "tdpw_events.h"

namespace tdpwatch {

using Event = ::tdpw_event;

// Every event the probes counted for a VM key (events[0] is a sub-count of
// SPTE_CHANGED, not an event type: tdpw_events.h).
inline std::uint64_t probe_events_total(const tdpw_vm_counters& c) {
  std::uint64_t n = 0;
  for (int t = TDPW_EV_NONE + 1; t < TDPW_EV_TYPE_MAX; ++t) n += c.events[t];
  return n;
}
// Of which the ring buffer refused.
inline std::uint64_t probe_events_dropped(const tdpw_vm_counters& c) {
  std::uint64_t n = 0;
  for (int t = TDPW_EV_NONE + 1; t < TDPW_EV_TYPE_MAX; ++t) n += c.dropped[t];
  return n;
}

}  // namespace tdpwatch

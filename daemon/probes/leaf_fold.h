// The probes count leaf statistics per VM key in vm_counters.leaf_pages
// (bpf/handlers/spte_changed.bpf.h) instead of sending each leaf change
// through the ring.  LeafFold turns the growth of those cumulative counters
// between two reads into one TDPW_EV_LEAF_STATS event per VM key, for the
// model and the recording alike.
//
// Ordering: an event of a VM must follow its VM_CREATE in the model, so the
// caller drains the ring after reading the counters and before applying the
// fold (every change counted was made after its VM's VM_CREATE was
// submitted).  Leaf figures are plain sums, so their order against the
// structural records does not matter: at a quiescent point (no counter
// moved since the previous read) the model has every change.
//
// Thread safety: none (the event loop's thread).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include "daemon/core/abi.h"

namespace tdpwatch::probes {

class LeafFold {
 public:
  // The events for every key whose leaf_pages or SPTE_CHANGED count moved
  // since the previous call.  A key absent from `counters` was deleted (its
  // VM torn down, or a task that is no VM's): forgotten.  `truth` gives a
  // struct kvm key's VMM tgid (kvm->userspace_pid) when it has one.
  std::vector<Event> fold(const std::map<std::uint64_t, tdpw_vm_counters>& counters,
                          const std::map<std::uint64_t, tdpw_kernel_truth>& truth,
                          std::uint64_t now_ns);
  // The key's map entry is being deleted: what it held is not counted again.
  void forget(std::uint64_t key);
  // The probes' VM_CREATE for `key`, stamped `ts_ns`, was applied: its
  // entry (tdpw_vm_counters.generation == ts_ns) is the only one to fold
  // for that key; an older one still in the map is the previous life's.
  void on_vm_create(std::uint64_t key, std::uint64_t ts_ns);

 private:
  struct Folded {
    std::array<std::int64_t, 3> leaf_pages{};
    std::uint64_t spte_changes = 0;
    std::uint64_t generation = 0;
  };
  std::unordered_map<std::uint64_t, Folded> folded_;
  std::unordered_map<std::uint64_t, std::uint64_t> expected_generation_;
};

}  // namespace tdpwatch::probes

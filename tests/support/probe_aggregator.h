// What the probes (ABI 2) and the daemon's event loop make of a kernel event
// stream: leaf-only SPTE changes counted per VM key as the BPF handler does
// (bpf/handlers/spte_changed.bpf.h, with bpf/tdpw_spte.h's rules), records
// only for changes of structure (flagged TDPW_F_LEAVES_COUNTED), a fresh
// counters entry at each VM_CREATE, and the counts folded into
// TDPW_EV_LEAF_STATS by the daemon's own probes::LeafFold.  For property
// tests: a model fed this must agree with the kernel as one fed every SPTE
// change does.
//
// Thread safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "daemon/core/abi.h"
#include "daemon/probes/leaf_fold.h"
#include "tests/support/sim_random.h"

namespace tdpwatch::sim {

class ProbeAggregator {
 public:
  explicit ProbeAggregator(std::uint64_t seed) : rng_(seed) {}

  // The events the model gets for one operation's `kernel_events`.  One
  // fold at a random point, with counts read at or after that point (as the
  // loop reads the counters before it drains, never past a VM_CREATE it has
  // not drained), and one at the end: a quiescent point.  Then the entries
  // of VMs destroyed in it are deleted, as the loop's teardown does.
  std::vector<Event> pass(const std::vector<Event>& kernel_events);

  // SPTE_CHANGED events that did not cross the ring, so far.
  std::uint64_t leaf_only_changes() const { return leaf_only_; }

 private:
  void count(const Event& ev);  // the BPF side
  bool crosses_ring(const Event& ev) const;
  void fold_into(std::vector<Event>& out,
                 const std::map<std::uint64_t, tdpw_vm_counters>& counters);

  Rng rng_;
  std::map<std::uint64_t, tdpw_vm_counters> counters_;
  std::map<std::uint64_t, tdpw_kernel_truth> no_truth_;
  probes::LeafFold fold_;
  std::uint64_t clock_ = 0;  // bpf_ktime_get_ns() of VM_CREATEs
  std::uint64_t leaf_only_ = 0;
};

}  // namespace tdpwatch::sim

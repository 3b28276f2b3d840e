// The kernel's own figures of every live VM, read on demand through a BPF
// task_file iterator (bpf/vm_truth_iter.bpf.c): for each process holding a
// KVM VM file, the struct kvm * and what it says now (tdp_mmu_pages where the
// kernel has it, n_used_mmu_pages, NX list sizes, stat.pages[],
// nx_lpage_splits).  Works with any attach plan, and for VMs that were quiet
// since the daemon started.
//
// Ownership: owns its skeleton and iterator link.  Move-only.  Thread safety:
// none (the event loop's thread).
#pragma once

#include <linux/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/core/abi.h"
#include "tdpw_vm_iter.h"

namespace tdpwatch::probes {

struct IteratedVm {
  std::uint64_t kvm = 0;   // struct kvm *
  std::uint32_t tgid = 0;  // the process holding the VM file (first one seen)
  tdpw_kernel_truth truth{};
};

class VmTruthIter {
 public:
  static Result<VmTruthIter> open();
  ~VmTruthIter();
  VmTruthIter(VmTruthIter&&) noexcept;
  VmTruthIter& operator=(VmTruthIter&&) noexcept;

  // Every live VM once (a VM whose fd is held by several processes, or
  // twice by one, is listed once), sorted by kvm.
  Result<std::vector<IteratedVm>> read() const;

 private:
  struct State;
  explicit VmTruthIter(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace tdpwatch::probes

// Every live VM's TDP MMU structure as the kernel holds it now, read on
// demand through a BPF task_file iterator (bpf/vm_tables_iter.bpf.c): its
// roots, the non-root tables found by walking down from them, and the pages
// on its possible-NX list(s).  What the audit compares the model with
// (daemon/reconcile/audit.h).
//
// The walk takes no lock: a table zapped during it may be listed or not, and
// a walk can be torn.  Consistency is the caller's (a quiescent point: no
// event for the VM around the walk; or two walks that agree).
//
// Ownership: owns its skeleton and iterator link.  Move-only.  Thread safety:
// none (the event loop's thread).
#pragma once

#include <linux/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/core/abi.h"
#include "daemon/probes/walked_vm.h"

namespace tdpwatch::probes {

class VmTablesIter {
 public:
  static Result<VmTablesIter> open();
  ~VmTablesIter();
  VmTablesIter(VmTablesIter&&) noexcept;
  VmTablesIter& operator=(VmTablesIter&&) noexcept;

  // Every live VM once, sorted by kvm.  page_offset_base_addr: the address
  // of page_offset_base (kallsyms.h), 0 if unknown; page_offset_hint:
  // PAGE_OFFSET if learned otherwise, 0 if not.  Without either, roots only.
  Result<std::vector<WalkedVm>> read(std::uint64_t page_offset_base_addr,
                                     std::uint64_t page_offset_hint) const;

 private:
  struct State;
  explicit VmTablesIter(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace tdpwatch::probes

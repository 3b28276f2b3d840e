// What a task that changed SPTEs without being a VMM is: the `cause` of
// unattributed SPTE events (tdpwatch_unattributed_events_total).  Reads
// <procfs>/<tgid>/stat and comm, which need no ptrace access.
#pragma once

#include <optional>
#include <string>

#include "daemon/truth/paths.h"

namespace tdpwatch::truth {

struct TaskKind {
  bool kernel_thread = false;  // PF_KTHREAD in stat's flags
  std::string comm;            // /proc/<tgid>/comm, without the newline
};

// nullopt when the task is gone (or its stat cannot be read).
std::optional<TaskKind> read_task_kind(const Paths& paths, int tgid);

// A bounded label for it: a kernel thread's comm without its instance
// suffix ("kswapd0" -> "kswapd", "kworker/u8:2" -> "kworker",
// "kcompactd0" -> "kcompactd", "khugepaged", "ksmd",
// "kvm-nx-lpage-recovery-1234" -> "kvm-nx-lpage-recovery"); "process" for
// any user process (comm is not bounded); "exited" when nullopt.
std::string unattributed_cause(const std::optional<TaskKind>& kind);

}  // namespace tdpwatch::truth

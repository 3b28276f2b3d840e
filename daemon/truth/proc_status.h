// <procfs>/<pid>/status: the two fields tdpwatch reads, in one place.
#pragma once

#include <optional>

#include "daemon/truth/paths.h"

namespace tdpwatch::truth {

struct ProcStatus {
  int tgid = 0;    // Tgid: the process a thread belongs to (0 if the line is missing)
  char state = 0;  // State: R, S, D, Z, X, ... (0 if missing)

  // Dead or a zombie: do_exit() has released its files (and so its VMs).
  bool exited() const { return state == 'Z' || state == 'X' || state == 0; }
};

// nullopt when there is no such process (or its status cannot be read).
std::optional<ProcStatus> read_proc_status(const Paths& paths, int pid);

}  // namespace tdpwatch::truth

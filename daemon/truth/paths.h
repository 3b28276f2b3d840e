// Where the readers find the kernel's files.  Every path the truth readers
// touch lives under one of these roots, so tests (and the daemon's --path.*
// flags) can point them at a fixture tree instead of the live kernel.
#pragma once

#include <string>

namespace tdpwatch::truth {

struct Paths {
  std::string procfs = "/proc";
  std::string sysfs = "/sys";
  std::string debugfs = "/sys/kernel/debug";

  // True when every root is the live kernel's: only then may the daemon
  // insist on root, /dev/kvm, or mount debugfs itself.
  bool is_default() const {
    const Paths d;
    return procfs == d.procfs && sysfs == d.sysfs && debugfs == d.debugfs;
  }
};

}  // namespace tdpwatch::truth

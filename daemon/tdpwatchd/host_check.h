// What this host offers tdpwatchd, checked once at start: KVM loaded, which
// MMU and vendor backend, /dev/kvm, debugfs.
//
// On the live kernel (default --path.* roots) a missing piece is fatal, with
// one clear error: the daemon must watch real KVM or not start.  With any
// root pointing elsewhere (a fixture tree) the same problems are warnings.
#pragma once

#include <string>

#include "daemon/common/result.h"
#include "daemon/truth/kvm_params.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::tdpwatchd {

struct HostReport {
  bool live = true;            // default roots: the running kernel
  std::string kernel_release;  // <procfs>/sys/kernel/osrelease, empty if unreadable
  truth::KvmParams kvm;
  bool dev_kvm = false;          // /dev/kvm is a character device (live only)
  bool mounted_debugfs = false;  // we mounted it during the check
  std::string debugfs_problem;   // empty when <debugfs>/kvm is usable
};

// Runs the checks, mounting debugfs when live, root and not mounted.
Result<HostReport> check_host(const truth::Paths& paths);

// Logs the report (info): kernel, KVM, vendor, MMU, debugfs.
void log_host(const HostReport& report);

}  // namespace tdpwatch::tdpwatchd

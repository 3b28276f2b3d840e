// What this host offers tdpwatchd: KVM loaded, which MMU and vendor backend,
// /dev/kvm, debugfs.  Checked at start, and again while tdpwatchd waits for
// KVM to appear.
//
// A host without KVM, or with KVM but no /dev/kvm (built in with no usable
// vendor backend, a VM without nested virtualisation, a container without the
// device), is not an error: no VM can exist there, so tdpwatchd says so,
// serves its metrics, and attaches its probes as soon as KVM is loaded (the
// device may come later, with a vendor module).  Only not being root is fatal
// on the live kernel, and an unusable debugfs once KVM is usable.  With any
// --path.* root pointing elsewhere (a fixture tree) problems are warnings.
#pragma once

#include <string>

#include "daemon/common/result.h"
#include "daemon/truth/kvm_params.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::setup {

// The character device VMMs open to create VMs (KVM_CREATE_VM).
inline constexpr const char* kDevKvm = "/dev/kvm";

struct HostReport {
  bool live = true;            // default roots: the running kernel
  std::string kernel_release;  // <procfs>/sys/kernel/osrelease, empty if unreadable
  truth::KvmParams kvm;
  bool dev_kvm = false;          // /dev/kvm is a character device (live only)
  bool mounted_debugfs = false;  // we mounted it during the check
  std::string debugfs_problem;   // empty when <debugfs>/kvm is usable
  // Why no VM can exist on this host (one line), or empty when KVM is loaded
  // and /dev/kvm is there.  Always empty on a fixture tree.
  std::string kvm_unavailable;

  bool kvm_ready() const { return kvm_unavailable.empty(); }
};

// Runs the checks, mounting debugfs when live, root, KVM loaded and nothing
// mounted.  Fails only for what no waiting can mend: not root, <sysfs>/module
// unreadable, or (KVM being there) an unusable debugfs.
Result<HostReport> check_host(const truth::Paths& paths);

// Why no VM can exist here, from <sysfs>/module and /dev/kvm; empty when KVM
// is usable.  For `tdpwatchd features` and `tdpwatch check`.
std::string kvm_unavailable_reason(const truth::KvmParams& kvm, bool dev_kvm);
bool dev_kvm_present();

// Logs the report (info): kernel, KVM, vendor, MMU, debugfs; a host without
// usable KVM is one warning line.
void log_host(const HostReport& report);

}  // namespace tdpwatch::setup

#include "daemon/setup/host_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "daemon/truth/kvm_debugfs.h"
#include "daemon/truth/sysfile.h"

namespace tdpwatch::setup {
namespace {

bool is_char_device(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

std::string param(const truth::KernelModule& m, const std::string& name) {
  const auto it = m.parameters.find(name);
  return it == m.parameters.end() ? "?" : it->second;
}

// Mounts debugfs at the default place if nothing is mounted there (root only:
// the caller has checked).  A failed mount is reported by check_kvm_debugfs.
void mount_debugfs_if_needed(const truth::Paths& paths, HostReport& report) {
  if (truth::is_debugfs_mount(paths.debugfs)) return;
  if (auto m = truth::mount_debugfs(paths.debugfs); m) {
    report.mounted_debugfs = true;
    spdlog::info("debugfs was not mounted: mounted it at {}", paths.debugfs);
  } else {
    spdlog::warn("{}", m.error().message);
  }
}

}  // namespace

bool dev_kvm_present() {
  return is_char_device(kDevKvm);
}

std::string kvm_unavailable_reason(const truth::KvmParams& kvm, bool dev_kvm) {
  if (!kvm.kvm) {
    return "KVM is not loaded (no module kvm): no VM can exist on this host until kvm_intel "
           "or kvm_amd is loaded (modprobe)";
  }
  if (dev_kvm) return "";
  // kvm_init() registers the misc device only after the vendor module's
  // hardware setup succeeded (virt/kvm/kvm_main.c).
  return std::string("no /dev/kvm although KVM is loaded (") +
         (kvm.kvm->builtin ? "built in" : "module") +
         "): no usable vendor backend (VMX/SVM absent or disabled, e.g. a VM without nested "
         "virtualisation) or a container without the device; no VM can exist on this host";
}

Result<HostReport> check_host(const truth::Paths& paths) {
  HostReport r;
  r.live = paths.is_default();
  if (r.live && ::geteuid() != 0) {
    return Error{
        "tdpwatchd must run as root: KVM's statistics live in debugfs, which only root "
        "can read"};
  }
  if (auto rel = truth::read_file(paths.procfs + "/sys/kernel/osrelease")) {
    r.kernel_release = std::string(truth::trim(*rel));
  }
  auto kvm = truth::read_kvm_params(paths);
  if (!kvm) return kvm.error();
  r.kvm = std::move(*kvm);
  r.dev_kvm = r.live && dev_kvm_present();
  if (r.live) r.kvm_unavailable = kvm_unavailable_reason(r.kvm, r.dev_kvm);
  if (r.live && r.kvm.kvm) mount_debugfs_if_needed(paths, r);
  if (auto d = truth::check_kvm_debugfs(paths); !d) r.debugfs_problem = d.error().message;

  if (r.live) {
    // Without KVM there is no <debugfs>/kvm to read yet: checked again when
    // KVM appears.
    if (r.kvm_ready() && !r.debugfs_problem.empty()) return Error{r.debugfs_problem};
  } else {
    spdlog::warn(
        "--path.* point away from the live kernel: reading a fixture tree, host checks "
        "are warnings only");
    if (!r.kvm.kvm) spdlog::warn("no {}/module/kvm: KVM not loaded there", paths.sysfs);
    if (!r.debugfs_problem.empty()) spdlog::warn("{}", r.debugfs_problem);
  }
  return r;
}

void log_host(const HostReport& r) {
  spdlog::info("tdpwatchd: kernel figures from debugfs and /proc/meminfo");
  spdlog::info("kernel {}{}", r.kernel_release.empty() ? "unknown" : r.kernel_release,
               r.live ? "" : " (fixture tree)");
  if (!r.kvm_ready()) spdlog::warn("{}", r.kvm_unavailable);
  if (!r.kvm.kvm) return;
  const truth::KernelModule& kvm = *r.kvm.kvm;
  spdlog::info("KVM: loaded ({}), /dev/kvm {}", kvm.builtin ? "built in" : "module",
               r.live ? (r.dev_kvm ? "present" : "missing") : "not checked");
  if (r.kvm.vendors.empty()) spdlog::warn("KVM vendor backend: none of kvm_intel/kvm_amd/kvm_pvm");
  for (const auto& v : r.kvm.vendors) {
    spdlog::info("KVM vendor backend: {} ({})", v.name, v.builtin ? "built in" : "module");
  }
  spdlog::info("this host runs the {}; nx_huge_pages={}", r.kvm.mmu_description(),
               param(kvm, "nx_huge_pages"));
  for (const auto& [name, value] : kvm.parameters) spdlog::debug("kvm.{}={}", name, value);
  if (r.kvm_ready() || !r.live) {
    spdlog::info("debugfs: {}", r.debugfs_problem.empty() ? "ok" : r.debugfs_problem);
  }
}

}  // namespace tdpwatch::setup

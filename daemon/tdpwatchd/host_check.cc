#include "daemon/tdpwatchd/host_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "daemon/truth/kvm_debugfs.h"
#include "daemon/truth/sysfile.h"

namespace tdpwatch::tdpwatchd {
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

// The first fatal problem on a live host, or empty.
std::string live_problem(const HostReport& r) {
  if (!r.kvm.kvm) {
    return "KVM is not loaded (no /sys/module/kvm): load kvm_intel or kvm_amd (modprobe) first";
  }
  if (!r.dev_kvm) {
    return "no /dev/kvm although KVM is loaded: no usable vendor backend, or a container "
           "without the device";
  }
  return r.debugfs_problem;
}

}  // namespace

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
  r.dev_kvm = r.live && is_char_device("/dev/kvm");
  if (r.live && r.kvm.kvm) mount_debugfs_if_needed(paths, r);
  if (auto d = truth::check_kvm_debugfs(paths); !d) r.debugfs_problem = d.error().message;

  if (r.live) {
    if (std::string problem = live_problem(r); !problem.empty()) return Error{problem};
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
  if (!r.kvm.kvm) {
    spdlog::warn("KVM: not loaded");
    return;
  }
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
  spdlog::info("debugfs: {}", r.debugfs_problem.empty() ? "ok" : r.debugfs_problem);
}

}  // namespace tdpwatch::tdpwatchd

// Which KVM this host runs, from <sysfs>/module/: whether kvm is there, its
// parameters (tdp_mmu, nx_huge_pages, ...), and which vendor backend
// (kvm_intel, kvm_amd, kvm_pvm) is present.  Used to say, for example,
// "this host runs the shadow MMU (tdp_mmu=N)".
//
// tdp_mmu is the effective setting: the kernel sets it at vendor-module load
// to tdp_mmu_allowed && tdp_enabled (EPT/NPT on), so "N" means every VM on
// this host uses the shadow MMU.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::truth {

struct KernelModule {
  std::string name;
  // Built into the kernel rather than loaded (no <sysfs>/module/<name>/initstate).
  bool builtin = false;
  std::map<std::string, std::string> parameters;  // name → trimmed value
  std::vector<std::string> unreadable;            // parameters that could not be read
};

struct KvmParams {
  std::optional<KernelModule> kvm;    // nullopt: KVM is not loaded
  std::vector<KernelModule> vendors;  // those of kVendorModules present, in that order

  // tdp_mmu as the kernel reports it; nullopt if kvm or the parameter is absent.
  std::optional<bool> tdp_mmu() const;
  // "TDP MMU (tdp_mmu=Y)", "shadow MMU (tdp_mmu=N)" or "unknown MMU (...)".
  std::string mmu_description() const;
};

inline constexpr const char* kVendorModules[] = {"kvm_intel", "kvm_amd", "kvm_pvm"};

// Fails only when <sysfs>/module cannot be listed (sysfs not mounted, wrong
// --path.sysfs); a host without KVM is a value with kvm == nullopt.
Result<KvmParams> read_kvm_params(const Paths& paths);

}  // namespace tdpwatch::truth

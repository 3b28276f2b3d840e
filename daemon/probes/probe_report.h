// What the feature probe found (feature_probe.h): plain data, so the attach
// plan and its unit tests need neither libbpf nor a kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/probes/era.h"
#include "daemon/probes/hooks.h"

namespace tdpwatch::probes {

// Where KVM's types and functions are described.
enum class KvmBtf : std::uint8_t {
  kVmlinux,  // KVM built in: vmlinux BTF
  kModule,   // <btf_dir>/kvm (kvm.ko), split over vmlinux
  kNone,     // KVM not loaded, or its module has no BTF
};

std::string_view name(KvmBtf where);

struct KernelFacts {
  std::string release;  // uname -r
  KvmBtf kvm_btf = KvmBtf::kNone;
  bool kprobes = false;  // a kprobe PMU exists (CONFIG_KPROBES)
  KvmArchShape arch;     // struct kvm_arch as BTF has it
  tdpw_kernel_era era = TDPW_ERA_UNKNOWN;
};

// The outcome of probing one (hook, variant).
struct VariantProbe {
  Hook hook{};
  Variant variant{};
  bool ok = false;
  std::string target;  // the function or tracepoint tried ("" if none was found)
  int err = 0;         // errno of the failed step (0 when ok)
  std::string stage;   // where it failed: "btf", "load", "attach", "pmu"; "" when ok
  std::string reason;  // e.g. "EPERM at load (fentry refused by this kernel)"
};

struct ProbeReport {
  KernelFacts kernel;
  std::vector<VariantProbe> probes;  // every (hook, variant) of the table, in order

  const VariantProbe* find(Hook hook, Variant variant) const;
};

// The kernel-function name a function hook attaches to on this kernel: the
// first of kernel_targets(hook) present in BTF (nullopt: none is).
// For tracepoint hooks, the tracepoint name.
std::optional<std::string> resolved_target(const ProbeReport& report, Hook hook);

}  // namespace tdpwatch::probes

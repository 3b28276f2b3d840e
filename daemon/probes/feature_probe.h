// Can each (hook, variant) of bpf/HOOKS.md run on this kernel?  Decided by
// trying, as libbpf-tools' fentry_can_attach() does: a minimal program
// ("return 0") of the variant's type is loaded against the hook's kernel
// function or tracepoint, found in the vmlinux BTF or the kvm module's BTF,
// and then attached, and detached at once.  A symbol in BTF proves nothing:
// fentry can be refused (EPERM), a function inlined, kprobes compiled out.
//
// Ownership: a FeatureProbe owns the parsed kernel BTF.  Results are computed
// once (first report()) and cached.  Thread safety: none.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/probes/era.h"
#include "daemon/probes/probe_report.h"

namespace tdpwatch::probes {

struct ProbeOptions {
  std::string btf_dir = "/sys/kernel/btf";  // vmlinux and module BTF
  std::string sysfs = "/sys";               // bus/event_source/devices/kprobe
};

class FeatureProbe {
 public:
  // Fails when the kernel has no BTF (/sys/kernel/btf/vmlinux missing):
  // "kernel has no BTF (CONFIG_DEBUG_INFO_BTF): tdpwatch needs it".
  static Result<FeatureProbe> create(ProbeOptions options = {});
  ~FeatureProbe();
  FeatureProbe(FeatureProbe&&) noexcept;
  FeatureProbe& operator=(FeatureProbe&&) noexcept;

  // Probes every (hook, variant) on first call; later calls return the cache.
  const ProbeReport& report();

 private:
  struct Impl;
  explicit FeatureProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::optional<ProbeReport> cache_;
};

}  // namespace tdpwatch::probes

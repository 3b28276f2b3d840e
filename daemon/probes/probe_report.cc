#include "daemon/probes/probe_report.h"

namespace tdpwatch::probes {

std::string_view name(KvmBtf where) {
  switch (where) {
    case KvmBtf::kVmlinux:
      return "vmlinux (KVM built in)";
    case KvmBtf::kModule:
      return "kvm module";
    case KvmBtf::kNone:
      break;
  }
  return "none";
}

const VariantProbe* ProbeReport::find(Hook hook, Variant variant) const {
  for (const auto& p : probes) {
    if (p.hook == hook && p.variant == variant) return &p;
  }
  return nullptr;
}

std::optional<std::string> resolved_target(const ProbeReport& report, Hook hook) {
  for (const auto& p : report.probes) {
    if (p.hook == hook && !p.target.empty()) return p.target;
  }
  return std::nullopt;
}

}  // namespace tdpwatch::probes

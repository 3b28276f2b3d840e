#include "exporter/host_snapshot.h"

namespace tdpwatch::exporter {

const VmEntry* find_vm(const HostSnapshot& s, std::uint64_t key) {
  for (const VmEntry& v : s.vms)
    if (v.model.vm == key) return &v;
  return nullptr;
}

std::string vm_label(const std::string& qemu_name, const std::string& comm, std::uint32_t pid,
                     const std::string& libvirt_domain) {
  if (!qemu_name.empty()) return qemu_name;
  if (!libvirt_domain.empty()) return libvirt_domain;
  return (comm.empty() ? std::string("pid") : comm) + "-" + std::to_string(pid);
}

const char* mmu_type_name(int mmu_type) {
  return mmu_type == 0 ? "shadow" : "tdp";
}

const char* leaf_size_name(int index) {
  static constexpr const char* kNames[] = {"4k", "2m", "1g"};
  return index >= 0 && index < 3 ? kNames[index] : "?";
}

const char* what_name(core::LeakedPage::What what) {
  switch (what) {
    case core::LeakedPage::What::kLinked:
      return "linked";
    case core::LeakedPage::What::kNxTracked:
      return "nx_tracked";
    case core::LeakedPage::What::kRoot:
      return "root";
    case core::LeakedPage::What::kShadow:
      return "shadow";
  }
  return "?";
}

}  // namespace tdpwatch::exporter

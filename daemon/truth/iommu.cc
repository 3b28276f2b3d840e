#include "daemon/truth/iommu.h"

#include <cctype>
#include <filesystem>
#include <string>
#include <system_error>

namespace tdpwatch::truth {
namespace {

namespace fs = std::filesystem;

// A PCI address as sysfs names a device: DDDD:BB:DD.F (hex).  vfio-pci's
// directory also holds bind, unbind, new_id, remove_id, uevent, module.
bool is_pci_address(const std::string& s) {
  if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 4 || i == 7 || i == 10) continue;
    if (std::isxdigit(static_cast<unsigned char>(s[i])) == 0) return false;
  }
  return true;
}

template <typename Fn>
void each_entry(const fs::path& dir, Fn&& fn) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return;
  for (const fs::directory_entry& e : it) fn(e);
}

}  // namespace

IommuDevices read_iommu_devices(const Paths& paths) {
  IommuDevices out;
  each_entry(fs::path(paths.sysfs) / "bus/pci/drivers/vfio-pci", [&](const fs::directory_entry& e) {
    if (is_pci_address(e.path().filename().string())) ++out.vfio_pci;
  });
  each_entry(fs::path(paths.sysfs) / "kernel/iommu_groups", [&](const fs::directory_entry& group) {
    each_entry(group.path() / "devices", [&](const fs::directory_entry&) { ++out.in_iommu_groups; });
  });
  return out;
}

}  // namespace tdpwatch::truth

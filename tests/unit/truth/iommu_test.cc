#include "daemon/truth/iommu.h"

#include <gtest/gtest.h>

#include "tests/unit/truth/fixture.h"

namespace tdpwatch::truth {
namespace {

using testing::FixtureTree;

// No IOMMU, no vfio-pci: nothing but KVM can be in SecPageTables.
TEST(IommuDevices, NoneWithoutEitherDirectory) {
  FixtureTree t;
  t.mkdir("sys/bus/pci/drivers");
  const IommuDevices d = read_iommu_devices(t.paths());
  EXPECT_EQ(d.vfio_pci, 0u);
  EXPECT_EQ(d.in_iommu_groups, 0u);
  EXPECT_FALSE(d.any());
}

// vfio-pci's directory as sysfs shows it: one entry per bound device (a PCI
// address) beside the driver's own files.
TEST(IommuDevices, CountsDevicesBoundToVfioPci) {
  FixtureTree t;
  for (const char* f : {"bind", "unbind", "new_id", "remove_id", "uevent"}) {
    t.write(std::string("sys/bus/pci/drivers/vfio-pci/") + f, "");
  }
  t.mkdir("sys/bus/pci/drivers/vfio-pci/module");
  t.mkdir("sys/bus/pci/drivers/vfio-pci/0000:41:00.0");
  t.mkdir("sys/bus/pci/drivers/vfio-pci/0000:41:00.1");
  const IommuDevices d = read_iommu_devices(t.paths());
  EXPECT_EQ(d.vfio_pci, 2u);
  EXPECT_EQ(d.in_iommu_groups, 0u);
  EXPECT_TRUE(d.any());
}

// IOMMU groups: empty groups do not count, devices in any group do.
TEST(IommuDevices, CountsDevicesInIommuGroups) {
  FixtureTree t;
  t.mkdir("sys/kernel/iommu_groups/0/devices");
  t.write("sys/kernel/iommu_groups/0/type", "DMA-FQ\n");
  EXPECT_FALSE(read_iommu_devices(t.paths()).any());
  t.mkdir("sys/kernel/iommu_groups/7/devices/0000:00:1f.0");
  t.mkdir("sys/kernel/iommu_groups/7/devices/0000:00:1f.3");
  t.mkdir("sys/kernel/iommu_groups/12/devices/0000:41:00.0");
  const IommuDevices d = read_iommu_devices(t.paths());
  EXPECT_EQ(d.in_iommu_groups, 3u);
  EXPECT_TRUE(d.any());
}

// --path.sysfs is respected: the host's own /sys is never read.
TEST(IommuDevices, ReadsUnderTheConfiguredSysfs) {
  FixtureTree t;
  Paths p = t.paths();
  p.sysfs = (t.root() / "elsewhere").string();
  t.mkdir("elsewhere/bus/pci/drivers/vfio-pci/0000:41:00.0");
  EXPECT_EQ(read_iommu_devices(p).vfio_pci, 1u);
  p.sysfs = (t.root() / "missing").string();
  EXPECT_FALSE(read_iommu_devices(p).any());
}

}  // namespace
}  // namespace tdpwatch::truth

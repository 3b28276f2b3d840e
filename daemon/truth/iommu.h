// Devices behind an IOMMU, from <sysfs>: whether /proc/meminfo SecPageTables
// can hold IOMMU page tables on this host.
//
// Since Linux 6.11 (commit "iommu: observability of the IOMMU allocations",
// Pasha Tatashin) every IOMMU page-table page is allocated through
// drivers/iommu/iommu-pages.h: iommu_alloc_pages_node() ->
// __iommu_alloc_account(), which does mod_node_page_state(NR_IOMMU_PAGES) and
// mod_lruvec_page_state(NR_SECONDARY_PAGETABLE) ("iommu: account IOMMU
// allocated page tables as secondary pagetables", same series).  Later
// kernels moved the allocator into iommu-pages.c (struct ioptdesc,
// iommu_alloc_pages_node_sz(), then iommu_alloc_pages_node_lg2()) and kept
// both counters (mod_node_page_state(), lruvec_stat_mod_folio()).  So on a host whose devices are translated by an IOMMU
// (a device bound to vfio-pci for a guest, or any device in an IOMMU group
// with a DMA domain), SecPageTables is KVM's MMU pages plus the IOMMU's, and
// grows when a VM's memory is mapped for a passed-through device (vfio
// type1 / iommufd map the guest's RAM).  Before 6.11 those pages were plain
// kernel allocations and SecPageTables (6.0+, kvm_account_pgtable_pages())
// was KVM's alone.
//
// The kernel counters tell the size (vmstat nr_iommu_pages, meminfo.h); this
// tells why it is there.
#pragma once

#include <cstdint>

#include "daemon/truth/paths.h"

namespace tdpwatch::truth {

struct IommuDevices {
  // PCI devices bound to vfio-pci: <sysfs>/bus/pci/drivers/vfio-pci/<DDDD:BB:DD.F>.
  std::uint32_t vfio_pci = 0;
  // Devices in an IOMMU group: <sysfs>/kernel/iommu_groups/<n>/devices/<dev>
  // (none without an IOMMU, or with it off).
  std::uint32_t in_iommu_groups = 0;

  bool any() const { return vfio_pci != 0 || in_iommu_groups != 0; }
};

// Reads both directories; one that does not exist (no vfio-pci driver
// loaded, no IOMMU) counts 0.  Never fails.
IommuDevices read_iommu_devices(const Paths& paths);

}  // namespace tdpwatch::truth

// The kernel era of TDP MMU accounting (docs/kernel-eras.md §1),
// decided from the shape of struct kvm_arch in the kernel's BTF, never from
// the version number (distributions backport).
#pragma once

#include <linux/types.h>

#include <cstdint>
#include <string_view>

#include "tdpw_events.h"

namespace tdpwatch::probes {

// What struct kvm_arch says about the two records that changed across eras.
struct KvmArchShape {
  enum class TdpMmuPages : std::uint8_t {
    kUnknown,  // no struct kvm_arch in BTF at all
    kList,     // struct list_head tdp_mmu_pages (6.1)
    kAtomic,   // atomic64_t tdp_mmu_pages (6.2 .. 6.14, or 6.15+ with CONFIG_KVM_PROVE_MMU)
    kAbsent,   // no member (6.15+ production builds)
  };
  enum class NxPages : std::uint8_t {
    kUnknown,
    kLpageDisallowed,  // lpage_disallowed_mmu_pages list (6.1)
    kList,             // possible_nx_huge_pages list_head (6.2 .. 6.14)
    kPerMmuType,       // possible_nx_huge_pages[KVM_NR_MMU_TYPES] (6.15+)
    kAbsent,
  };
  TdpMmuPages tdp_mmu_pages = TdpMmuPages::kUnknown;
  NxPages nx_pages = NxPages::kUnknown;
};

std::string_view name(KvmArchShape::TdpMmuPages v);  // "list", "atomic64", "absent", "unknown"
std::string_view name(KvmArchShape::NxPages v);      // "lpage_disallowed_mmu_pages", ...
std::string_view era_name(tdpw_kernel_era era);      // "6.1", "6.2-6.14", "6.15+", "unknown"

// The era, with the per-mmu-type NX lists deciding 6.15+ (a PROVE_MMU build
// keeps the atomic counter there).  TDPW_ERA_UNKNOWN when the shape fits no era.
tdpw_kernel_era era_from_shape(const KvmArchShape& shape);

}  // namespace tdpwatch::probes

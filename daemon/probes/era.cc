#include "daemon/probes/era.h"

namespace tdpwatch::probes {

std::string_view name(KvmArchShape::TdpMmuPages v) {
  switch (v) {
    case KvmArchShape::TdpMmuPages::kList:
      return "list";
    case KvmArchShape::TdpMmuPages::kAtomic:
      return "atomic64";
    case KvmArchShape::TdpMmuPages::kAbsent:
      return "absent";
    case KvmArchShape::TdpMmuPages::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view name(KvmArchShape::NxPages v) {
  switch (v) {
    case KvmArchShape::NxPages::kLpageDisallowed:
      return "lpage_disallowed_mmu_pages";
    case KvmArchShape::NxPages::kList:
      return "possible_nx_huge_pages";
    case KvmArchShape::NxPages::kPerMmuType:
      return "possible_nx_huge_pages[mmu_type]";
    case KvmArchShape::NxPages::kAbsent:
      return "absent";
    case KvmArchShape::NxPages::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view era_name(tdpw_kernel_era era) {
  switch (era) {
    case TDPW_ERA_6_1:
      return "6.1";
    case TDPW_ERA_6_2:
      return "6.2-6.14";
    case TDPW_ERA_6_15:
      return "6.15+";
    default:
      return "unknown";
  }
}

tdpw_kernel_era era_from_shape(const KvmArchShape& s) {
  using T = KvmArchShape::TdpMmuPages;
  using N = KvmArchShape::NxPages;
  if (s.nx_pages == N::kPerMmuType) return TDPW_ERA_6_15;
  if (s.tdp_mmu_pages == T::kList || s.nx_pages == N::kLpageDisallowed) return TDPW_ERA_6_1;
  if (s.tdp_mmu_pages == T::kAtomic && s.nx_pages == N::kList) return TDPW_ERA_6_2;
  return TDPW_ERA_UNKNOWN;
}

}  // namespace tdpwatch::probes

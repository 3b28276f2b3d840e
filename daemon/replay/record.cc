#include "daemon/replay/record.h"

#include "daemon/replay/crc32c.h"

namespace tdpwatch::replay {
namespace {

// PG_LEVEL_512G: the highest level a 5-level TDP page table has.  Events
// without a level (VM create/destroy) carry 0.
constexpr unsigned kMaxLevel = 5;
constexpr unsigned kMaxAsId = 1;  // KVM_ADDRESS_SPACE_NUM == 2 (SMM)

}  // namespace

std::uint32_t record_crc(const Event& ev) {
  Event copy = ev;
  copy.crc = 0;
  return crc32c(&copy, sizeof(copy));
}

std::string record_problem(const Event& ev, std::uint32_t abi_version) {
  const unsigned type_max = abi_version == 1 ? TDPW_EV_TYPE_MAX_V1 : TDPW_EV_TYPE_MAX;
  const unsigned flags_all = abi_version == 1 ? TDPW_F_ALL_V1 : TDPW_F_ALL;
  if (ev.type == TDPW_EV_NONE || ev.type >= type_max) {
    return "unknown event type " + std::to_string(ev.type);
  }
  if ((ev.flags & ~flags_all) != 0) {
    return "unknown flag bits " + hex32(ev.flags & ~flags_all & 0xFFu);
  }
  if (ev.type == TDPW_EV_LEAF_STATS && (ev.flags != 0 || ev.level != 0 || ev.as_id != 0)) {
    return "leaf statistics with flags, level or as_id";
  }
  if (ev.level > kMaxLevel) {
    return "level " + std::to_string(ev.level) + " out of range (0.." + std::to_string(kMaxLevel) +
           ")";
  }
  if (ev.as_id > kMaxAsId) return "as_id " + std::to_string(ev.as_id) + " out of range (0..1)";
  if (ev.mmu_type >= TDPW_NR_MMU_TYPES) {
    return "mmu_type " + std::to_string(ev.mmu_type) + " out of range (0..1)";
  }
  if (ev.type == TDPW_EV_SPTE_CHANGED && ev.spte.reserved != 0) {
    return "nonzero spte.reserved";
  }
  return {};
}

}  // namespace tdpwatch::replay

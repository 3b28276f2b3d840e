#include "tests/support/sim_random.h"

#include <cinttypes>
#include <cstdio>

#include "daemon/core/spte.h"

namespace tdpwatch::sim {

namespace {

template <typename... Args>
std::string format(const char* fmt, Args... args) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), fmt, args...);
  return buf;
}

constexpr std::uint64_t k2M = spte::pages_per_entry(spte::kLevel2M);  // 512 pages
constexpr std::uint64_t k1G = spte::pages_per_entry(spte::kLevel1G);  // 2^18 pages

}  // namespace

RandomDriver::RandomDriver(SimKernel& kernel, std::uint64_t seed, DriverConfig config)
    : k_(kernel), rng_(seed), config_(config) {}

std::uint64_t RandomDriver::pick_vm() {
  auto it = vms_.begin();
  std::advance(it, static_cast<long>(rng_.below(vms_.size())));
  return it->first;
}

std::uint64_t RandomDriver::pick_gfn(const VmInfo& info) {
  const std::uint64_t hot = info.hot[rng_.below(info.hot.size())];
  const std::uint64_t r = rng_.below(100);
  if (r < 70) return hot + rng_.below(k2M);
  if (r < 85) return (hot & ~(k1G - 1)) + rng_.below(k1G);
  return rng_.below(config_.mem_pages);
}

std::string RandomDriver::step() {
  if (vms_.empty()) return create_vm();
  const std::uint64_t r = rng_.below(1000);
  if (r < 15 && static_cast<int>(vms_.size()) < config_.max_vms) return create_vm();
  const std::uint64_t vm = pick_vm();
  if (r < 20) return destroy_vm(vm);
  if (r < 25) return fault(vm);
  if (r < 600) return fault(vm);
  if (r < 700) return range_op(vm, static_cast<int>(rng_.below(5)));
  if (r < 760) {
    const std::vector<TableInfo> tables = k_.tables(vm);
    if (tables.empty()) return fault(vm);
    const TableInfo& t = tables[rng_.below(tables.size())];
    k_.zap_sp(vm, t.pfn);
    return format("zap_sp vm=%" PRIx64 " as%d L%d gfn=0x%" PRIx64 " pfn=0x%" PRIx64, vm, t.as_id,
                  t.level, t.gfn, t.pfn);
  }
  if (r < 800) {
    const int count = 1 + static_cast<int>(rng_.below(4));
    const int done = k_.recover_nx(vm, count);
    return format("recover_nx vm=%" PRIx64 " count=%d done=%d", vm, count, done);
  }
  if (r < 880) return root_op(vm, static_cast<int>(rng_.below(9)));
  return shadow_op(vm, static_cast<int>(rng_.below(4)));
}

std::string RandomDriver::create_vm() {
  VmConfig config;
  config.nr_vcpus = 1 + static_cast<int>(rng_.below(3));
  config.nx_huge_pages = rng_.chance(60);
  config.root_level = rng_.chance(15) ? 5 : 4;
  const std::uint64_t vm = k_.create_vm(config);
  VmInfo& info = vms_[vm];
  info.nx = config.nx_huge_pages;
  info.smm = rng_.chance(40);
  for (int i = 0; i < config_.hot_regions; ++i) {
    info.hot.push_back(rng_.below(config_.mem_pages / k2M) * k2M);
  }
  return format("create_vm vm=%" PRIx64 " vcpus=%d nx=%d smm=%d root_level=%d", vm, config.nr_vcpus,
                info.nx, info.smm, config.root_level);
}

std::string RandomDriver::destroy_vm(std::uint64_t vm) {
  const bool release = rng_.chance(70);
  k_.destroy_vm(vm, release);
  vms_.erase(vm);
  return format("destroy_vm vm=%" PRIx64 " release=%d", vm, release);
}

std::vector<std::string> RandomDriver::destroy_all() {
  std::vector<std::string> out;
  while (!vms_.empty()) out.push_back(destroy_vm(vms_.begin()->first));
  return out;
}

std::string RandomDriver::fault(std::uint64_t vm) {
  const VmInfo& info = vms_.at(vm);
  Fault f;
  f.vcpu = static_cast<int>(rng_.below(static_cast<std::uint64_t>(k_.nr_vcpus(vm))));
  f.as_id = info.smm && rng_.chance(10) ? 1 : 0;
  f.gfn = pick_gfn(info);
  f.writable = rng_.chance(80);
  const std::uint64_t kind = rng_.below(100);
  const char* what = "4k";
  if (kind < 55) {
    f.req_level = rng_.chance(50) ? 2 : 1;
    f.exec = rng_.chance(10) && !(info.nx && f.req_level > 1);
  } else if (kind < 70) {
    what = "2m";
    f.gfn &= ~(k2M - 1);
    f.goal_level = f.req_level = 2;
    f.exec = !info.nx && rng_.chance(30);
  } else if (kind < 74) {
    what = "1g";
    f.gfn &= ~(k1G - 1);
    f.goal_level = f.req_level = 3;
    f.exec = !info.nx && rng_.chance(30);
  } else if (kind < 92) {
    what = "exec";  // an instruction fetch where a huge page would fit
    f.req_level = rng_.chance(70) ? 2 : 3;
    f.exec = true;
    f.huge_page_disallowed = info.nx;
  } else {
    what = "4k-race";
    f.lose_link_race = true;
  }
  k_.map(vm, f);
  return format("map/%s vm=%" PRIx64 " vcpu=%d as%d gfn=0x%" PRIx64
                " goal=%d req=%d nx=%d exec=%d w=%d race=%d",
                what, vm, f.vcpu, f.as_id, f.gfn, f.goal_level, f.req_level, f.huge_page_disallowed,
                f.exec, f.writable, f.lose_link_race);
}

std::string RandomDriver::range_op(std::uint64_t vm, int kind) {
  const VmInfo& info = vms_.at(vm);
  static constexpr std::uint64_t kLengths[] = {1, 64, 512, 4096, 1ull << 18, 1ull << 19};
  const std::uint64_t len = kLengths[rng_.below(6)];
  std::uint64_t start = pick_gfn(info);
  if (rng_.chance(50)) start &= ~(k2M - 1);
  const std::uint64_t end = start + len;
  const int as_id = info.smm && rng_.chance(20) ? 1 : 0;
  switch (kind) {
    case 0: {
      const int target = rng_.chance(70) ? 1 : 2;
      const bool shared = rng_.chance(50);
      k_.split_huge_pages(vm, as_id, start, end, target, shared);
      return format("split vm=%" PRIx64 " as%d [0x%" PRIx64 ",0x%" PRIx64 ") target=%d shared=%d",
                    vm, as_id, start, end, target, shared);
    }
    case 1:
      k_.zap_leafs(vm, -1, start, end);
      return format("zap_leafs vm=%" PRIx64 " [0x%" PRIx64 ",0x%" PRIx64 ")", vm, start, end);
    case 2:
      k_.zap_leafs(vm, as_id, start, end, true);
      return format("unmap_gfn_range vm=%" PRIx64 " as%d [0x%" PRIx64 ",0x%" PRIx64 ")", vm, as_id,
                    start, end);
    case 3: {
      const int max_level = rng_.chance(70) ? 2 : 3;
      k_.zap_collapsible(vm, as_id, start, end, max_level);
      return format("zap_collapsible vm=%" PRIx64 " as%d [0x%" PRIx64 ",0x%" PRIx64 ") max=%d", vm,
                    as_id, start, end, max_level);
    }
    default:
      k_.clear_dirty(vm, as_id, start, end);
      return format("clear_dirty vm=%" PRIx64 " as%d [0x%" PRIx64 ",0x%" PRIx64 ")", vm, as_id,
                    start, end);
  }
}

std::string RandomDriver::root_op(std::uint64_t vm, int kind) {
  const VmInfo& info = vms_.at(vm);
  const int vcpu = static_cast<int>(rng_.below(static_cast<std::uint64_t>(k_.nr_vcpus(vm))));
  switch (kind) {
    case 0:
    case 1:
      k_.invalidate_all_roots(vm);
      if (config_.zap_with_invalidate) k_.zap_invalidated_roots(vm);
      return format("invalidate_all_roots vm=%" PRIx64, vm);
    case 2:
    case 3:
      k_.zap_invalidated_roots(vm);
      return format("zap_invalidated_roots vm=%" PRIx64, vm);
    case 4:
    case 5: {
      const int as_id = info.smm && rng_.chance(30) ? 1 : 0;
      k_.vcpu_load_root(vm, vcpu, as_id);
      return format("vcpu_load_root vm=%" PRIx64 " vcpu=%d as%d", vm, vcpu, as_id);
    }
    case 6:
    case 7:
      k_.vcpu_unload(vm, vcpu);
      return format("vcpu_unload vm=%" PRIx64 " vcpu=%d", vm, vcpu);
    default:
      k_.zap_all(vm);
      return format("zap_all vm=%" PRIx64, vm);
  }
}

std::string RandomDriver::shadow_op(std::uint64_t vm, int kind) {
  const VmInfo& info = vms_.at(vm);
  const std::vector<std::uint64_t> pages = k_.shadow_pages(vm);
  if (kind == 0 || pages.empty()) {
    const int level = 1 + static_cast<int>(rng_.below(4));
    const std::uint64_t gfn = pick_gfn(info) & ~(spte::pages_per_entry(level + 1) - 1);
    const bool nx = rng_.chance(40);
    const std::uint64_t sp = k_.shadow_get(vm, gfn, level, nx);
    return format("shadow_get vm=%" PRIx64 " L%d gfn=0x%" PRIx64 " nx=%d sp=0x%" PRIx64, vm, level,
                  gfn, nx, sp);
  }
  const std::uint64_t sp = pages[rng_.below(pages.size())];
  if (kind == 1) {
    k_.shadow_lookup(vm, sp);
    return format("shadow_lookup vm=%" PRIx64 " sp=0x%" PRIx64, vm, sp);
  }
  k_.shadow_zap(vm, sp);
  return format("shadow_zap vm=%" PRIx64 " sp=0x%" PRIx64, vm, sp);
}

}  // namespace tdpwatch::sim

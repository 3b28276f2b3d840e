#include "tests/support/realistic_stream.h"

#include <algorithm>

#include "daemon/core/spte.h"
#include "tests/support/sim_random.h"

namespace tdpwatch::sim {

namespace {

constexpr std::uint64_t k2M = spte::pages_per_entry(spte::kLevel2M);
constexpr std::uint64_t k1G = spte::pages_per_entry(spte::kLevel1G);

struct Guest {
  std::uint64_t vm = 0;
  std::uint64_t regions = 0;  // 2M regions of guest memory
  int vcpus = 1;
  bool nx = false;
  bool smm = false;
  bool hugetlb_1g = false;  // memory above 1 GiB backed by 1 GiB pages
  std::uint64_t next_region = 0;
};

class Scenario {
 public:
  Scenario(const StreamConfig& config, std::vector<Event>* sink)
      : k_(config.sim, sink), rng_(config.seed), scale_(config.scale) {}

  void run() {
    static constexpr std::uint64_t kMiB[] = {256, 512, 1024, 2048};
    for (std::size_t i = 0; i < std::size(kMiB); ++i) add_guest(kMiB[i], i);
    boot_and_run();
    migrate(guests_.back());
    memslot_update(guests_.front());
    for (Guest& g : guests_) {
      if (g.nx) recover_nx(g);
    }
    for (std::size_t i = 0; i < guests_.size(); ++i) k_.destroy_vm(guests_[i].vm, i != 1);
  }

 private:
  void add_guest(std::uint64_t mib, std::size_t index) {
    Guest g;
    const auto mem = static_cast<std::uint64_t>(static_cast<double>(mib) * scale_);
    g.regions = std::max<std::uint64_t>(4, mem / 2);
    g.vcpus = 1 + static_cast<int>(index % 4);
    g.nx = index % 2 == 0;
    g.smm = index == 1;
    g.hugetlb_1g = index == 3 && g.regions >= 2 * (k1G / k2M);
    VmConfig config;
    config.nr_vcpus = g.vcpus;
    config.nx_huge_pages = g.nx;
    g.vm = k_.create_vm(config);
    for (int v = 0; v < g.vcpus; ++v) k_.vcpu_load_root(g.vm, v, 0);
    if (g.smm) {  // SMRAM at 0xa0000 in the SMM address space
      for (std::uint64_t gfn = 0xa0; gfn < 0xc0; ++gfn) map4k(g, gfn, 1, true);
    }
    guests_.push_back(g);
  }

  void map4k(const Guest& g, std::uint64_t gfn, int as_id, bool writable) {
    Fault f;
    f.vcpu = static_cast<int>(rng_.below(static_cast<std::uint64_t>(g.vcpus)));
    f.as_id = as_id;
    f.gfn = gfn;
    f.writable = writable;
    f.exec = rng_.chance(5);
    k_.map(g.vm, f);
  }

  void map_huge(const Guest& g, std::uint64_t gfn, int level) {
    Fault f;
    f.vcpu = static_cast<int>(rng_.below(static_cast<std::uint64_t>(g.vcpus)));
    f.gfn = gfn;
    f.goal_level = f.req_level = level;
    f.exec = !g.nx;
    k_.map(g.vm, f);
  }

  // One 2M region's worth of guest activity.
  void touch_region(Guest& g, std::uint64_t r) {
    const std::uint64_t base = r * k2M;
    if (g.hugetlb_1g && base >= k1G) {
      if (base % k1G == 0) map_huge(g, base, spte::kLevel1G);
      return;
    }
    if (rng_.chance(25)) {  // THP-backed
      map_huge(g, base, spte::kLevel2M);
      if (g.nx && rng_.chance(8)) {  // code runs from it: NX split
        Fault f;
        f.gfn = base + rng_.below(k2M);
        f.req_level = spte::kLevel2M;
        f.exec = true;
        f.huge_page_disallowed = true;
        k_.map(g.vm, f);
      }
      return;
    }
    for (std::uint64_t i = 0; i < k2M; ++i) {
      if (rng_.chance(85)) map4k(g, base + i, 0, rng_.chance(90));
    }
  }

  void boot_and_run() {
    bool busy = true;
    std::uint64_t turns = 0;
    while (busy) {
      busy = false;
      for (Guest& g : guests_) {
        for (int n = 0; n < 8 && g.next_region < g.regions; ++n) touch_region(g, g.next_region++);
        busy |= g.next_region < g.regions;
        if (turns % 8 == 7 && g.next_region > 1) host_invalidation(g);
        if (turns % 32 == 31 && g.nx) recover_nx(g);
      }
      if (turns == 2) nested_guest(guests_[1], true);
      ++turns;
    }
    if (shadow_.empty()) nested_guest(guests_[1], true);
    nested_guest(guests_[1], false);
  }

  // An mmu notifier invalidation (THP split, migration, KSM), then refaults.
  void host_invalidation(const Guest& g) {
    const std::uint64_t start = rng_.below(g.next_region) * k2M;
    k_.zap_leafs(g.vm, 0, start, start + k2M, true);
    for (std::uint64_t i = 0; i < k2M; i += 2) map4k(g, start + i, 0, true);
  }

  // The NX recovery worker: 1/60 of the list per run, as nx_huge_pages_recovery_ratio.
  void recover_nx(const Guest& g) {
    const std::int64_t tracked = k_.truth(g.vm).possible_nx_huge_pages[TDPW_MMU_TDP];
    if (tracked > 0) k_.recover_nx(g.vm, static_cast<int>((tracked + 59) / 60));
  }

  void nested_guest(const Guest& g, bool start) {
    if (start) {
      for (int i = 0; i < 16; ++i) {
        shadow_.push_back(k_.shadow_get(g.vm, rng_.below(g.regions) * k2M, 1 + i % 3, i % 4 == 0));
      }
      for (int i = 0; i < 8; ++i) k_.shadow_lookup(g.vm, shadow_[rng_.below(shadow_.size())]);
    } else {
      for (int i = 0; i < 8; ++i) k_.shadow_zap(g.vm, shadow_[static_cast<std::size_t>(i)]);
    }
  }

  // Live migration: dirty logging with eager page splitting, one
  // write-protect round and the guest re-dirtying pages, then collapse.
  void migrate(const Guest& g) {
    const std::uint64_t end = g.regions * k2M;
    k_.split_huge_pages(g.vm, 0, 0, end, spte::kLevel4K, true);
    k_.clear_dirty(g.vm, 0, 0, end);
    for (std::uint64_t n = 0; n < end / 20; ++n) map4k(g, rng_.below(end), 0, true);
    k_.zap_collapsible(g.vm, 0, 0, end, spte::kLevel2M);
    for (std::uint64_t r = 0; r < g.regions; ++r) {
      if (rng_.chance(30)) map_huge(g, r * k2M, spte::kLevel2M);
    }
  }

  // A memslot update: every root invalidated, vCPUs reload, the guest
  // refaults its working set, the invalidated roots are zapped.
  void memslot_update(const Guest& g) {
    k_.invalidate_all_roots(g.vm);
    for (int v = 0; v < g.vcpus; ++v) k_.vcpu_load_root(g.vm, v, 0);
    const std::uint64_t end = g.regions * k2M;
    for (std::uint64_t n = 0; n < end / 10; ++n) map4k(g, rng_.below(end), 0, true);
    k_.zap_invalidated_roots(g.vm);
  }

  SimKernel k_;
  Rng rng_;
  double scale_;
  std::vector<Guest> guests_;
  std::vector<std::uint64_t> shadow_;
};

}  // namespace

std::vector<Event> realistic_stream(const StreamConfig& config) {
  std::vector<Event> events;
  events.reserve(static_cast<std::size_t>(2.5e6 * std::min(config.scale, 1.0)));
  Scenario(config, &events).run();
  return events;
}

std::vector<Event> big_vm_stream(const StreamConfig& config, int gib) {
  std::vector<Event> events;
  SimKernel k(config.sim, &events);
  VmConfig vm_config;
  vm_config.nr_vcpus = 4;
  vm_config.nx_huge_pages = false;
  const std::uint64_t vm = k.create_vm(vm_config);
  for (int v = 0; v < vm_config.nr_vcpus; ++v) k.vcpu_load_root(vm, v, 0);
  const std::uint64_t end = static_cast<std::uint64_t>(gib) * k1G;
  for (std::uint64_t gfn = 0; gfn < end; gfn += k1G) {
    Fault f;
    f.vcpu = static_cast<int>((gfn / k1G) % 4);
    f.gfn = gfn;
    f.goal_level = f.req_level = spte::kLevel1G;
    k.map(vm, f);
  }
  k.split_huge_pages(vm, 0, 0, end, spte::kLevel4K, true);
  k.clear_dirty(vm, 0, 0, std::min(end, k1G));
  return events;
}

}  // namespace tdpwatch::sim

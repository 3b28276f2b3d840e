// Shared by the reconciler's unit tests: a real core::Model fed with events,
// the kernel's side written by hand, and the reports captured.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/support/event_builders.h"
#include "daemon/core/role.h"
#include "daemon/reconcile/reconciler.h"

namespace tdpwatch::reconcile::testing {

inline constexpr std::uint64_t kVm = 0xffff888012340000ull;
inline constexpr std::uint32_t kTgid = 4242;

inline events::PageRef shadow_page(int n) {
  return {0xffff888000100000ull + static_cast<std::uint64_t>(n) * 0x1000, 0,
          static_cast<std::uint64_t>(n), role::synthesize(1, 0)};
}

struct Logged {
  spdlog::level::level_enum level;
  std::string text;
};

struct Fixture {
  core::Model model;
  std::vector<Logged> logs;
  Reconciler rec;
  tdpw_vm_counters counters{};
  KernelView kernel;
  double now = 1000;

  explicit Fixture(DriftOptions drift = {10, 2})
      : rec(Reconciler::Options{drift}, [this](spdlog::level::level_enum l, const std::string& t) {
          logs.push_back({l, t});
        }) {}

  // The probes saw an event of `type` (counted, and dropped if `lost`).
  void count(int type, bool lost = false) {
    ++counters.events[type];
    if (lost) ++counters.dropped[type];
  }
  void get(int n, bool lost = false) {
    count(TDPW_EV_SHADOW_GET, lost);
    ++counters.shadow_pages;
    if (!lost) model.apply(events::shadow_get(kVm, shadow_page(n), true));
  }
  void zap(int n, bool lost = false) {
    count(TDPW_EV_SHADOW_ZAP, lost);
    --counters.shadow_pages;
    if (!lost) model.apply(events::shadow_zap(kVm, shadow_page(n)));
  }
  // One tick, `seconds` after the previous one; the kernel's n_used_mmu_pages
  // follows the lossless counters unless `shadow` says otherwise.
  void tick(double seconds = 5) {
    now += seconds;
    VmInput in;
    in.vm = kVm;
    in.who = "vm=test pid=4242";
    in.kernel = kernel;
    in.kernel.counters = counters;
    rec.tick(model, {in}, now);
  }
  std::int64_t shadow() const { return model.snapshot(kVm)->counts.shadow_pages; }
  const VmStatus& st() const { return *rec.status(kVm); }
  std::size_t count_logs(const std::string& needle) const {
    std::size_t n = 0;
    for (const Logged& l : logs) n += l.text.find(needle) != std::string::npos;
    return n;
  }
};

}  // namespace tdpwatch::reconcile::testing

// The attach-strategy chain's last link.  The feature probe proves that a
// minimal program of each variant attaches; it cannot prove that tdpwatch's
// full program passes this kernel's verifier (Debian 6.12 refused
// get_page__tp_btf, tests/nested/README.md finding 1, and one refused
// program fails the whole object).  So when the full load fails, each served
// hook's programs are loaded alone, without attaching, to find the ones this
// kernel refuses; those variants are marked failed in the report (stage
// "verify") and the plan is made again, which moves each such hook to its next
// variant, as if the feature probe had refused it.
//
// Pure logic over a loader callable, so the chain is unit-tested without a
// kernel (tests/unit/probes/load_fallback_test.cc); the daemon passes
// LoadedProbes::load.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/probes/attach_plan.h"
#include "daemon/probes/probe_report.h"

namespace tdpwatch::probes {

template <class Loaded>
struct FallbackLoad {
  AttachPlan plan;  // the plan that loaded
  Loaded loaded;
  // One line per variant the chain gave up on: "get_page: tp_btf failed to
  // load (...); plan made again".
  std::vector<std::string> fallbacks;
};

// `plan` with only `hook` served: what loads that hook's programs alone.
AttachPlan only_hook(const AttachPlan& plan, Hook hook);

// Marks (hook, variant) as failed in `report`, stage "verify".
void mark_refused(ProbeReport& report, Hook hook, Variant variant, const std::string& why);

// TryLoad: (const AttachPlan&, bool attach) -> Result<Loaded>.  Each round
// removes at least one variant, so it ends; max_rounds bounds the loads.
template <class Loaded, class TryLoad>
Result<FallbackLoad<Loaded>> load_with_fallback(ProbeReport report, const PlanSwitches& switches,
                                                TryLoad&& try_load, int max_rounds = 8) {
  std::vector<std::string> fallbacks;
  for (int round = 0; round < max_rounds; ++round) {
    auto plan = make_plan(report, switches);
    if (!plan) return plan.error();
    if (plan->served_count() == 0) {
      return Error{"no hook can attach on this kernel (see `tdpwatchd features`)"};
    }
    Result<Loaded> full = try_load(*plan, true);
    if (full) return FallbackLoad<Loaded>{std::move(*plan), std::move(*full), std::move(fallbacks)};

    std::vector<std::pair<const HookPlan*, std::string>> refused;
    for (const HookPlan& hp : plan->hooks) {
      if (!hp.chosen) continue;
      Result<Loaded> alone = try_load(only_hook(*plan, hp.hook), false);
      if (!alone) refused.emplace_back(&hp, alone.error().message);
    }
    if (refused.empty()) {
      // Every hook loads alone: the failure is not one variant's (attach, a
      // map, memory).  Nothing to fall back from.
      return Error{full.error().message + " (each hook's programs load alone, so no variant "
                                          "is to blame; --log.level=debug shows libbpf's log)"};
    }
    for (const auto& [hp, why] : refused) {
      fallbacks.push_back(std::string(name(hp->hook)) + ": " + std::string(name(*hp->chosen)) +
                          " failed to load (" + why + "); plan made again");
      mark_refused(report, hp->hook, *hp->chosen, why);
    }
  }
  return Error{"the probes did not load after " + std::to_string(max_rounds) + " fallback rounds"};
}

}  // namespace tdpwatch::probes

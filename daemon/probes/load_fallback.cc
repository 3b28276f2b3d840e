#include "daemon/probes/load_fallback.h"

namespace tdpwatch::probes {

AttachPlan only_hook(const AttachPlan& plan, Hook hook) {
  AttachPlan one = plan;
  for (HookPlan& hp : one.hooks) {
    if (hp.hook != hook) hp.chosen.reset();
  }
  return one;
}

void mark_refused(ProbeReport& report, Hook hook, Variant variant, const std::string& why) {
  for (VariantProbe& p : report.probes) {
    if (p.hook == hook && p.variant == variant) {
      p.ok = false;
      p.stage = "verify";
      p.reason = "the full program failed to load: " + why;
    }
  }
}

}  // namespace tdpwatch::probes

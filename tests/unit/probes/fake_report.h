// Fake probe reports for the attach plan's unit tests: a kernel described by
// which (hook, variant) attach.  Shared by attach_plan_test and
// load_fallback_test.
#pragma once

#include <set>
#include <string>
#include <utility>

#include "daemon/probes/probe_report.h"

namespace tdpwatch::probes::fake {

using V = Variant;
using H = Hook;
using Attaching = std::set<std::pair<H, V>>;

inline constexpr const char* kFentryRefused = "EPERM at load (fentry/fexit refused by this kernel)";
inline constexpr const char* kNoKprobes = "kprobes not supported (no kprobe PMU: CONFIG_KPROBES unset)";

// A kernel described by which (hook, variant) attach; trampolines fail with
// EPERM, kprobes with "not supported", tracepoints with ENOENT.
inline ProbeReport fake_report(const Attaching& attaching) {
  ProbeReport r;
  r.kernel.release = "6.18.0-test";
  r.kernel.kvm_btf = KvmBtf::kVmlinux;
  r.kernel.era = TDPW_ERA_6_15;
  for (H h : all_hooks()) {
    for (V v : variants(h)) {
      VariantProbe p;
      p.hook = h;
      p.variant = v;
      p.target = std::string(kernel_targets(h)[0]);
      p.ok = attaching.count({h, v}) != 0;
      if (!p.ok) {
        const bool kp = v == V::kKprobe || v == V::kKretprobe;
        p.stage = kp ? "pmu" : "load";
        p.err = kp ? 95 : 1;
        p.reason = kp                                  ? kNoKprobes
                   : v == V::kFentry || v == V::kFexit ? kFentryRefused
                                                       : "ENOENT at attach";
      }
      r.probes.push_back(p);
    }
  }
  return r;
}

inline Attaching with(Attaching base, const Attaching& more) {
  base.insert(more.begin(), more.end());
  return base;
}
inline Attaching tracepoints(V v) {
  return {{H::kGetPage, v}, {H::kZapPage, v}, {H::kSpteChanged, v}};
}
inline Attaching all_of(V wanted) {
  Attaching out;
  for (H h : all_hooks()) {
    for (V v : variants(h)) {
      if (v == wanted) out.insert({h, v});
    }
  }
  return out;
}

}  // namespace tdpwatch::probes::fake

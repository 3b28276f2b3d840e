// The exporter itself: what it is, which probe variant serves each hook, and
// what went through the ring buffer.  Pre-initialised: every hook has a
// series even when unserved (value 0), ebpf_exporter-style.
#include "exporter/collector.h"

namespace tdpwatch::exporter {
namespace {

class SelfCollector final : public Collector {
 public:
  std::string_view name() const override { return "exporter"; }

  Status collect(const HostSnapshot& s, Families& out) const override {
    gauge(out, "tdpwatch_build_info",
          "tdpwatch's version and the kernel release it runs on (value 1)")
        .add({{"version", s.version}, {"kernel", s.kernel_release}}, 1);
    gauge(out, "tdpwatch_kvm_loaded", "1 when KVM is loaded on this host (<sysfs>/module/kvm)")
        .add(s.kvm.loaded ? 1 : 0);
    if (s.kvm.device) {
      gauge(out, "tdpwatch_kvm_device_present",
            "1 when /dev/kvm exists; 0: no VM can exist on this host, and tdpwatchd waits for "
            "the device to attach its probes")
          .add(*s.kvm.device ? 1 : 0);
    }
    auto attached = gauge(out, "tdpwatch_probe_attached",
                          "Attach plan: 1 for the variant serving each hook (variant=\"spte_stream\": "
                          "served by the SPTE stream, variant=\"none_needed\": this kernel lacks "
                          "the path), or variant=\"none\" and 0 when no variant could attach: a "
                          "degraded plan (bpf/HOOKS.md)");
    for (const HookAttachment& h : s.plan) {
      attached.add({{"hook", h.hook}, {"variant", h.variant.empty() ? "none" : h.variant}},
                   h.variant.empty() ? 0 : 1);
    }
    if (!s.lifecycle.empty()) {
      gauge(out, "tdpwatch_probe_vm_lifecycle_info",
            "How VM creation and teardown are learned: hooks (probes) or uevents (value 1)")
          .add({{"source", s.lifecycle}}, 1);
    }
    counter(out, "tdpwatch_events_processed_total",
            "Probe events read from the ring buffer and applied to the model")
        .add(num(s.events_processed));
    counter(out, "tdpwatch_events_lost_total",
            "Probe events the ring buffer refused (full), summed over VMs still tracked by the "
            "probes")
        .add(num(s.events_lost));
    counter(out, "tdpwatch_events_malformed_total",
            "Ring buffer samples of the wrong size (an ABI mismatch), dropped")
        .add(num(s.events_malformed));
    if (!s.lifecycle.empty()) {
      gauge(out, "tdpwatch_probe_foreign_sptes_attributed",
            "1 when every VM-context hook is attached (or not needed on this kernel): SPTE "
            "changes made outside a VM's threads (reclaim, compaction, khugepaged, KSM, "
            "soft-dirty) reach their VM; 0: they are counted in "
            "tdpwatch_unattributed_events_total and leaf figures come from the kernel")
          .add(s.foreign_sptes_attributed ? 1 : 0);
    }
    if (!s.unattributed_events_by_cause.empty()) {
      auto unattributed = counter(
          out, "tdpwatch_unattributed_events_total",
          "Probe events of tasks that are no VM's VMM (kernel threads such as kswapd, kcompactd, "
          "khugepaged, ksmd; processes writing clear_refs), by cause: counted, applied to no VM. "
          "Expected without VM-context hooks; with them, a path the hooks miss");
      for (const auto& [cause, n] : s.unattributed_events_by_cause) {
        unattributed.add({{"cause", cause}}, num(n));
      }
    }
    if (s.ringbuf_bytes != 0) {
      gauge(out, "tdpwatch_ringbuf_size_bytes", "Size of the probes' ring buffer")
          .add(num(s.ringbuf_bytes));
    }
    if (s.ringbuf_used_bytes) {
      gauge(out, "tdpwatch_ringbuf_used_bytes",
            "Ring buffer bytes written by the probes and not yet read, sampled before the "
            "event loop's last drain (producer minus consumer position)")
          .add(num(*s.ringbuf_used_bytes));
    }
    if (s.ringbuf_used_peak_bytes) {
      gauge(out, "tdpwatch_ringbuf_used_peak_bytes",
            "The largest tdpwatch_ringbuf_used_bytes sample since the daemon started (at "
            "tdpwatch_ringbuf_size_bytes, events are being lost)")
          .add(num(*s.ringbuf_used_peak_bytes));
    }
    gauge(out, "tdpwatch_vms", "VMs tracked now").add(num(s.vms.size()));
    gauge(out, "tdpwatch_snapshot_timestamp_seconds",
          "When the state exported here was taken from the model, as Unix time")
        .add(s.time_seconds);
    return {};
  }
};

}  // namespace

std::unique_ptr<Collector> make_self_collector() {
  return std::make_unique<SelfCollector>();
}

}  // namespace tdpwatch::exporter

#include "daemon/tdpwatchd/reconcile_tick.h"

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

namespace tdpwatch::tdpwatchd {

ReconcileTick::PlanReach ReconcileTick::PlanReach::of(const probes::AttachPlan& plan) {
  PlanReach r;
  r.keys_are_kvm = plan.lifecycle == probes::Lifecycle::kHooks;
  r.foreign_sptes_attributed = plan.foreign_sptes_attributed;
  r.nx_list_seen = plan.served(probes::Hook::kNxTrack) && plan.served(probes::Hook::kNxUntrack);
  return r;
}

ReconcileTick::ReconcileTick(truth::Paths paths, double grace_seconds, PlanReach reach,
                             bool shadow_mmu)
    : gatherer_(paths),
      rec_(reconcile::Reconciler::Options{{grace_seconds, 2}}),
      keys_are_kvm_(reach.keys_are_kvm),
      reach_(reach),
      shadow_mmu_(shadow_mmu) {
  auto iter = probes::VmTruthIter::open();
  if (iter) {
    iter_.emplace(std::move(*iter));
  } else {
    spdlog::warn("{}: the reconciler has only the probes' own kernel reads and debugfs",
                 iter.error().message);
  }
}

void ReconcileTick::discover(core::Model& model, const std::vector<probes::IteratedVm>& iterated) {
  std::set<std::uint64_t> unknown;
  for (const probes::IteratedVm& i : iterated) {
    const std::uint64_t key = keys_are_kvm_ ? i.kvm : i.tgid;
    if (model.snapshot(key)) continue;
    // Twice in a row: not a VM whose first events are on their way.
    if (unknown_.count(key) != 0 && model.add_implicit(key, i.tgid)) {
      if (keys_are_kvm_) {
        spdlog::info("VM pid={} kvm={:#x}: older than the daemon and quiet since; tracking it",
                     i.tgid, i.kvm);
      } else {
        spdlog::info("VMs of pid={}: older than the daemon and quiet since; tracking them", i.tgid);
      }
      continue;
    }
    unknown.insert(key);
  }
  unknown_ = std::move(unknown);
}

void ReconcileTick::run(core::Model& model, const probes::EventLoop& loop, const PollResult& poll,
                        SnapshotBuilder& names) {
  std::vector<probes::IteratedVm> iterated;
  bool read_ok = false;
  if (iter_) {
    if (auto r = iter_->read()) {
      iterated = std::move(*r);
      read_ok = true;
    } else if (!iter_error_logged_) {
      iter_error_logged_ = true;
      spdlog::warn("{}", r.error().message);
    }
  }
  discover(model, iterated);
  const std::vector<core::VmSnapshot> vms = model.snapshot_all();
  KernelSources sources;
  sources.truth = &loop.truth();
  sources.counters = &loop.counters();
  sources.iterated = std::move(iterated);
  sources.shadow_mmu = shadow_mmu_;
  sources.foreign_sptes_attributed = reach_.foreign_sptes_attributed;
  sources.nx_list_seen = reach_.nx_list_seen;
  for (const core::VmSnapshot& v : vms) ++sources.model_vms_per_tgid[v.tgid];
  for (const VmView& v : poll.vms) {
    const int tgid = v.identity && v.identity->tgid != 0 ? v.identity->tgid : v.id.pid;
    sources.debugfs[static_cast<std::uint32_t>(tgid)].push_back(&v.stats);
  }

  std::vector<reconcile::VmInput> inputs;
  inputs.reserve(vms.size());
  for (const core::VmSnapshot& v : vms) {
    reconcile::VmInput in;
    in.vm = v.vm;
    const exporter::VmIdentity& id = names.identity(v.vm, v.tgid);
    in.who = "VM vm=" + id.vm + " pid=" + std::to_string(id.pid) +
             (TDPW_VM_KEY_IS_KVM_PTR(v.vm) ? fmt::format(" kvm={:#x}", v.vm) : std::string());
    in.kernel = gatherer_.gather(sources, v);
    inputs.push_back(std::move(in));
  }
  const double now = unix_now();
  rec_.tick(model, inputs, now);
  std::optional<std::int64_t> sec;
  if (poll.meminfo) sec = static_cast<std::int64_t>(poll.meminfo->sec_page_tables_bytes / 4096);
  rec_.tick_host(model, sec, iter_ && read_ok && unknown_.empty(), now);
}

void ReconcileTick::review_teardown(core::LeakRecord& leak, const probes::LoadedProbes& probes) {
  std::optional<tdpw_vm_counters> counters;
  if (auto all = probes.vm_counters()) {
    if (auto it = all->find(leak.vm); it != all->end()) counters = it->second;
  }
  rec_.review_teardown(leak, counters);
}

}  // namespace tdpwatch::tdpwatchd

#include "daemon/tdpwatchd/reconcile_tick.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <tuple>

#include <spdlog/spdlog.h>


namespace tdpwatch::tdpwatchd {

ReconcileTick::PlanReach ReconcileTick::PlanReach::of(const probes::AttachPlan& plan) {
  PlanReach r;
  r.keys_are_kvm = plan.lifecycle == probes::Lifecycle::kHooks;
  r.foreign_sptes_attributed = plan.foreign_sptes_attributed;
  r.nx_list_seen = plan.served(probes::Hook::kNxTrack) && plan.served(probes::Hook::kNxUntrack);
  r.shadow_pages_seen = plan.served(probes::Hook::kGetPage) && plan.served(probes::Hook::kZapPage);
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
    if (auto known = model.snapshot(key)) {
      // A VM first seen through an event of another task (an mmu notifier
      // in kdamond or kswapd, the NX recovery worker) took that task's tgid;
      // its VMM is kvm->userspace_pid.
      if (keys_are_kvm_ && i.tgid != 0 && known->tgid != i.tgid && model.set_tgid(key, i.tgid)) {
        spdlog::info("VM kvm={:#x}: first seen from pid {} (not its VMM); its VMM is pid {}",
                     i.kvm, known->tgid, i.tgid);
      }
      continue;
    }
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
  // KVM's part of SecPageTables: the IOMMU's page tables (6.11+) are no VM's.
  if (poll.meminfo) sec = static_cast<std::int64_t>(poll.meminfo->kvm_sec_page_tables_bytes() / 4096);
  rec_.tick_host(model, sec, iter_ && read_ok && unknown_.empty(), now);
  // A VM first seen mid-life is adopted at its first quiescent tick (the
  // tick changed no VM's implicit/adopted state: `vms` still says it).
  const bool adoption_due =
      adopt_ && std::any_of(vms.begin(), vms.end(), [](const core::VmSnapshot& v) {
        return v.implicit && !v.adopted;
      });
  if (tables_ && (adoption_due || audit_requested_ ||
                  (audit_interval_ > 0 && now - last_audit_ >= audit_interval_))) {
    run_audits(model, loop, names, now);
  }
}

void ReconcileTick::enable_audits(probes::LoadedProbes& probes, double interval_seconds,
                                  bool adopt) {
  auto t = probes::VmTablesIter::open();
  if (!t) {
    spdlog::warn("{}: no audits of the VMs' tables (tdpwatch audit answers 'unavailable')",
                 t.error().message);
    return;
  }
  tables_.emplace(std::move(*t));
  probes_ = &probes;
  audit_interval_ = interval_seconds;
  adopt_ = adopt;
}

const reconcile::AuditResult* ReconcileTick::audit(std::uint64_t vm) const {
  const auto it = audits_.find(vm);
  return it != audits_.end() ? &it->second : nullptr;
}

namespace {

// The walk as the model takes it (core::Adoption): a table is on the TDP
// possible-NX list if a list entry names its place and frame.
core::Adoption adoption_of(const probes::WalkedVm& w) {
  core::Adoption a;
  for (const probes::WalkedPage& r : w.roots) {
    a.roots.push_back({r.sp, r.pfn, r.gfn, r.role, r.value});
  }
  std::set<std::tuple<int, int, std::uint64_t>> nx;  // as_id, level, gfn
  for (const probes::WalkedPage& n : w.nx) {
    if (n.value == TDPW_MMU_TDP) nx.insert({n.as_id, n.level, n.gfn});
  }
  for (const probes::WalkedPage& t : w.tables) {
    a.tables.push_back({t.as_id, t.level, t.gfn, t.pfn, nx.count({t.as_id, t.level, t.gfn}) != 0});
  }
  for (const probes::WalkedPage& s : w.shadow) a.shadow.push_back({s.sp, s.gfn, s.role, s.nx_tracked});
  return a;
}

std::uint64_t events_of(const std::map<std::uint64_t, tdpw_vm_counters>& all, std::uint64_t vm) {
  const auto it = all.find(vm);
  return it != all.end() ? reconcile::events_seen(it->second) : 0;
}

}  // namespace

// One walk of every VM; each model VM quiescent over it (see below) is
// adopted if it was first seen mid-life, and compared with its walk (a VM
// keyed by tgid with all of its process's walks).
void ReconcileTick::run_audits(core::Model& model, const probes::EventLoop& loop,
                               SnapshotBuilder& names, double now) {
  auto before = probes_->vm_counters();
  const auto walk_start = std::chrono::steady_clock::now();
  auto walked = tables_->read(probes_->page_offset_base_addr(), probes_->learned_page_offset());
  const double walk_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - walk_start).count();
  auto after = probes_->vm_counters();
  if (!walked || !before || !after) {
    spdlog::warn("audit: {}", !walked ? walked.error().message
                              : !before ? before.error().message
                                        : after.error().message);
    last_audit_ = now;
    return;
  }
  // A walk that found PAGE_OFFSET (from a vCPU's root) teaches the probes,
  // so events name tables by pfn from now on, not by sp alone.
  for (const probes::WalkedVm& w : *walked) {
    if (w.page_offset != 0 && probes_->learned_page_offset() == 0) {
      spdlog::info("audit: learned the direct map's base from VM {:#x}'s tables", w.kvm);
      probes_->teach_page_offset(w.page_offset);
    }
  }
  const bool requested = audit_requested_;
  bool all_audited = true;
  const reconcile::AuditScope scope{model.options().root_release_events, reach_.nx_list_seen,
                                    reach_.shadow_pages_seen};
  for (const core::VmSnapshot& v : model.snapshot_all()) {
    // Quiescent: no event between the previous tick's counters and this
    // tick's (all of them drained and applied since), none since, none
    // during the walk.  Then the walk plus the events to come is the kernel.
    const reconcile::VmStatus* st = rec_.status(v.vm);
    if (!reconcile::walk_is_quiescent(st != nullptr && st->quiet, events_of(loop.counters(), v.vm),
                                      events_of(*before, v.vm), events_of(*after, v.vm))) {
      all_audited = false;
      continue;
    }
    probes::WalkedVm walk;
    int found = 0;
    for (const probes::WalkedVm& w : *walked) {
      const bool mine = TDPW_VM_KEY_IS_KVM_PTR(v.vm) ? w.kvm == v.vm : w.tgid == v.vm;
      if (!mine) continue;
      if (found++ == 0) {
        walk = w;
      } else {
        walk.roots.insert(walk.roots.end(), w.roots.begin(), w.roots.end());
        walk.tables.insert(walk.tables.end(), w.tables.begin(), w.tables.end());
        walk.nx.insert(walk.nx.end(), w.nx.begin(), w.nx.end());
        walk.shadow.insert(walk.shadow.end(), w.shadow.begin(), w.shadow.end());
        if (w.status != TDPW_TABLE_COMPLETE) walk.status = w.status;
      }
    }
    if (found == 0) continue;  // gone since (its teardown is on its way)
    const exporter::VmIdentity& id = names.identity(v.vm, v.tgid);
    const std::string who = "VM vm=" + id.vm + " pid=" + std::to_string(id.pid);
    core::VmCounts counts = v.counts;
    if (adopt_ && v.implicit && !v.adopted && walk.status == TDPW_TABLE_COMPLETE) {
      const std::size_t added = model.adopt(v.vm, adoption_of(walk)).value_or(0);
      counts = model.snapshot(v.vm)->counts;
      std::optional<tdpw_vm_counters> c;
      if (const auto it = after->find(v.vm); it != after->end()) c = it->second;
      rec_.on_adopted(v.vm, counts, c);
      spdlog::info(
          "{}: older than the daemon: adopted from the kernel's live tables ({} TDP tables and {} "
          "shadow pages, {} of them new to the model; {} roots; {} on the possible-NX lists)",
          who, walk.tables.size(), walk.shadow.size(), added, walk.roots.size(), walk.nx.size());
    }
    reconcile::AuditResult r =
        reconcile::audit(model.pages(v.vm), model.shadow_pages(v.vm), counts, walk, scope, now);
    r.walk_seconds = walk_seconds;
    const std::string summary = r.summary();
    auto& logged = audit_logged_[v.vm];
    if (summary != logged) {
      if (r.clean()) {
        spdlog::info("audit: {}: model == kernel page by page ({} tables, {} roots; walk {})", who,
                     r.kernel_tables, r.kernel_roots_valid + r.kernel_roots_invalid, r.walk_status);
      } else {
        spdlog::warn("audit: {}: {} (walk {})", who, summary, r.walk_status);
      }
      logged = summary;
    }
    audits_[v.vm] = std::move(r);
  }
  // Forget VMs gone from the model.
  std::erase_if(audits_, [&](const auto& kv) { return !model.snapshot(kv.first); });
  std::erase_if(audit_logged_, [&](const auto& kv) { return !model.snapshot(kv.first); });
  last_audit_ = now;
  // A request stays until every VM could be audited, for at most 10 s (a VM
  // that is never quiet keeps its last audit).
  if (requested && audit_requested_at_ == 0) audit_requested_at_ = now;
  if (!requested || all_audited || now - audit_requested_at_ > 10) audit_requested_ = false;
}

void ReconcileTick::review_teardown(core::LeakRecord& leak, const probes::LoadedProbes& probes) {
  std::optional<tdpw_vm_counters> counters;
  if (auto all = probes.vm_counters()) {
    if (auto it = all->find(leak.vm); it != all->end()) counters = it->second;
  }
  rec_.review_teardown(leak, counters);
}

}  // namespace tdpwatch::tdpwatchd

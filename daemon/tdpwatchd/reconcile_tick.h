// The daemon's side of the reconciler (daemon/reconcile/): at each --interval
// tick, gathers what the kernel says about every VM of the model and runs
// the reconciler; at each teardown, lets it judge VMs that lost events.
//
// The kernel's figures of each VM: kernel_view.h (one precedence rule).
//
// Host-wide, SecPageTables is compared with every VM's pages once every VM
// the iterator lists is in the model (Reconciler::tick_host).
//
// VMs the iterator lists on two consecutive ticks that the model does not
// know (older than the daemon, and quiet since) are added to the model as
// implicit VMs (core::Model::add_implicit), keyed as their events will be:
// by struct kvm * when VM lifecycle hooks are attached, else by tgid, so that
// they get a baseline.
//
// Audits (daemon/reconcile/audit.h): every --audit.interval, and when asked
// (request_audit), the VM tables iterator walks every VM's live tables and
// each VM quiet over the walk (no event since the previous tick, none during
// it) is compared with the model page by page; a finding is logged once
// (again when it changes) and kept for the snapshot.
//
// Thread safety: none (the event loop's thread).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <set>

#include "daemon/core/leak.h"
#include "daemon/core/model.h"
#include "daemon/probes/event_loop.h"
#include "daemon/probes/loader.h"
#include "daemon/probes/vm_tables_iter.h"
#include "daemon/probes/vm_truth_iter.h"
#include "daemon/reconcile/audit.h"
#include "daemon/reconcile/reconciler.h"
#include "daemon/tdpwatchd/kernel_view.h"
#include "daemon/tdpwatchd/snapshot_builder.h"
#include "daemon/tdpwatchd/watcher.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::tdpwatchd {

class ReconcileTick {
 public:
  // What the plan reaches: whether it keys VMs by struct kvm * (lifecycle
  // hooks), attributes foreign SPTE changes (VM-context hooks), sees the
  // possible-NX list (nx_track and nx_untrack).
  struct PlanReach {
    bool keys_are_kvm = false;
    bool foreign_sptes_attributed = false;
    bool nx_list_seen = false;
    bool shadow_pages_seen = false;  // get_page and zap_page served
    static PlanReach of(const probes::AttachPlan& plan);
  };
  // shadow_mmu: the host runs the shadow MMU (tdp_mmu=N), whose leaves
  // stat.pages[] counts too while the model follows TDP leaves only, so leaf
  // mappings are not compared.
  ReconcileTick(truth::Paths paths, double grace_seconds, PlanReach reach, bool shadow_mmu);

  void discover(core::Model& model, const std::vector<probes::IteratedVm>& iterated);

  void run(core::Model& model, const probes::EventLoop& loop, const PollResult& poll,
           SnapshotBuilder& names);
  // EventLoop's review_teardown: with the VM's lossless counters read now.
  void review_teardown(core::LeakRecord& leak, const probes::LoadedProbes& probes);

  // Audits: the probes (fresh counters around the walk, PAGE_OFFSET as
  // they know it), and the period (0: on request only).  adopt: take VMs
  // older than the daemon from their walk (core::Model::adopt).
  void enable_audits(probes::LoadedProbes& probes, double interval_seconds, bool adopt);
  // The next tick audits every quiet VM, whatever the period.
  void request_audit() { audit_requested_ = true; audit_requested_at_ = 0; }
  // The last audit of a VM (nullptr: none yet).
  const reconcile::AuditResult* audit(std::uint64_t vm) const;

  const reconcile::Reconciler& reconciler() const { return rec_; }

 private:
  KernelViewGatherer gatherer_;
  reconcile::Reconciler rec_;
  std::optional<probes::VmTruthIter> iter_;
  bool keys_are_kvm_;
  PlanReach reach_;
  bool shadow_mmu_;
  std::set<std::uint64_t> unknown_;  // iterated last tick, not in the model (by key)
  bool iter_error_logged_ = false;

  void run_audits(core::Model& model, const probes::EventLoop& loop, SnapshotBuilder& names,
                  double now);
  std::optional<probes::VmTablesIter> tables_;
  probes::LoadedProbes* probes_ = nullptr;
  double audit_interval_ = 0;
  bool adopt_ = true;
  double last_audit_ = 0;
  bool audit_requested_ = false;
  double audit_requested_at_ = 0;  // first tick that tried it (0: not yet)
  std::map<std::uint64_t, reconcile::AuditResult> audits_;  // by VM key
  std::map<std::uint64_t, std::string> audit_logged_;       // the last summary logged
};

}  // namespace tdpwatch::tdpwatchd

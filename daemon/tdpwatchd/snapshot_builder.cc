#include "daemon/tdpwatchd/snapshot_builder.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "daemon/probes/hooks.h"
#include "daemon/truth/proc_identity.h"

namespace tdpwatch::tdpwatchd {
namespace {

// The reconciler's view of the VM: its state, the figures it compared, and
// the kernel's figures it gathered (kernel_view.h), the only ones shown.
void fill_reconcile(const reconcile::Reconciler& rec, std::uint64_t vm, exporter::VmEntry& e) {
  const reconcile::VmStatus* st = rec.status(vm);
  if (st == nullptr) return;
  exporter::VmReconcile& r = e.reconcile;
  r.tracking = reconcile::name(st->tracking);
  r.baseline_figures = st->baseline_figures;
  r.degraded = st->degraded;
  r.resyncs = st->resyncs;
  r.leaf_source = st->sources.leaf_mappings;
  r.nx_source = st->sources.possible_nx_huge_pages;
  for (const reconcile::Figure& f : st->figures) {
    r.figures.push_back({f.name, f.model, f.kernel, st->drift.confirmed(f.name)});
  }
  // The kernel's figures as the reconciler gathered and judged them.
  const reconcile::KernelView& kv = st->kernel;
  exporter::KernelFigures& k = e.kernel;
  k.tdp_pages = kv.tdp_pages;
  k.shadow_pages = kv.shadow_pages;
  k.possible_nx_huge_pages = kv.possible_nx_huge_pages;
  k.leaf_pages = kv.leaf_pages;
  k.nx_lpage_splits = kv.nx_lpage_splits;
  if (kv.memcg_page_table_pages) k.memcg_page_table_bytes = *kv.memcg_page_table_pages * 4096;
  k.structure_source = kv.structure_source;
  k.leaf_source = kv.leaf_source;
}

exporter::VmAudit audit_entry(const reconcile::AuditResult& r) {
  exporter::VmAudit a;
  a.time = r.time;
  a.walk_seconds = r.walk_seconds;
  a.walk_status = r.walk_status;
  a.walk_complete = r.walk_complete;
  a.clean = r.clean();
  a.summary = r.summary();
  a.kernel_tables = r.kernel_tables;
  a.model_tables = r.model_tables;
  a.roots_compared = r.roots_compared;
  a.kernel_roots_valid = r.kernel_roots_valid;
  a.kernel_roots_invalid = r.kernel_roots_invalid;
  a.model_roots_valid = r.model_roots_valid;
  a.model_roots_invalid = r.model_roots_invalid;
  a.nx_compared = r.nx_compared;
  a.kernel_nx = r.kernel_nx;
  a.model_nx = r.model_nx;
  a.shadow_compared = r.shadow_compared;
  a.kernel_shadow = r.kernel_shadow;
  a.model_shadow = r.model_shadow;
  a.missing_total = r.missing_total;
  a.unknown_total = r.unknown_total;
  for (const auto& p : r.missing_from_model) {
    a.missing_from_model.push_back({p.what, p.as_id, p.level, p.gfn, p.pfn, p.sp});
  }
  for (const auto& p : r.unknown_to_kernel) {
    a.unknown_to_kernel.push_back({p.what, p.as_id, p.level, p.gfn, p.pfn, p.sp});
  }
  return a;
}

}  // namespace

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

SnapshotBuilder::SnapshotBuilder(truth::Paths paths, std::string version,
                                 std::string kernel_release, double leak_retention_seconds)
    : paths_(std::move(paths)),
      version_(std::move(version)),
      kernel_release_(std::move(kernel_release)),
      ledger_(leak_retention_seconds) {}

void SnapshotBuilder::set_poll(const PollResult& poll, double now) {
  debugfs_.clear();
  for (const VmView& v : poll.vms) {
    const int tgid = v.identity && v.identity->tgid != 0 ? v.identity->tgid : v.id.pid;
    debugfs_[static_cast<std::uint32_t>(tgid)].push_back(v.stats);
  }
  if (poll.meminfo) {
    sec_page_tables_ = poll.meminfo->sec_page_tables_bytes;
    iommu_page_tables_ = poll.meminfo->iommu_page_tables_bytes;
    // The kernel charges IOMMU page tables to SecPageTables (6.11+: vmstat
    // has nr_iommu_pages, added with that accounting) and devices here are
    // translated by an IOMMU (truth/iommu.h).
    sec_page_tables_include_iommu_ = iommu_page_tables_.has_value() && poll.iommu.any();
  }
  poll_time_ = now;
}

const exporter::VmIdentity& SnapshotBuilder::identity(std::uint64_t key, std::uint32_t tgid) {
  auto it = identities_.find(key);
  if (it != identities_.end() && it->second.pid == tgid) return it->second;
  if (it != identities_.end()) {
    // The model corrected the VM's VMM (Model::set_tgid): name it again.
    if (auto n = seen_per_tgid_.find(it->second.pid); n != seen_per_tgid_.end() && --n->second <= 0) {
      seen_per_tgid_.erase(n);
    }
    identities_.erase(it);
  }
  exporter::VmIdentity id;
  id.pid = tgid;
  std::string qemu_name;
  if (auto proc = truth::read_proc_identity(paths_, static_cast<int>(tgid))) {
    id.comm = proc->comm;
    qemu_name = proc->qemu.name.value_or("");
    id.uuid = proc->qemu.uuid.value_or("");
    id.libvirt_domain = proc->libvirt_domain.value_or("");
  }
  id.vm = exporter::vm_label(qemu_name, id.comm, tgid, id.libvirt_domain);
  const int nth = ++seen_per_tgid_[tgid];
  if (nth > 1) id.vm += "#" + std::to_string(nth);
  return identities_.emplace(key, std::move(id)).first->second;
}

void SnapshotBuilder::on_teardown(const core::LeakRecord& leak, double now) {
  const exporter::VmIdentity id = identity(leak.vm, leak.tgid);
  ledger_.record(leak, id, now);
  identities_.erase(leak.vm);
  const bool others = std::any_of(identities_.begin(), identities_.end(),
                                  [&](const auto& kv) { return kv.second.pid == leak.tgid; });
  if (!others) seen_per_tgid_.erase(leak.tgid);
}

std::shared_ptr<const exporter::HostSnapshot> SnapshotBuilder::build(const SnapshotSources& src,
                                                                     double now) {
  auto s = std::make_shared<exporter::HostSnapshot>();
  s->time_seconds = now;
  s->version = version_;
  s->kernel_release = kernel_release_;
  s->kvm = kvm_;
  s->sec_page_tables_bytes = sec_page_tables_;
  s->iommu_page_tables_bytes = iommu_page_tables_;
  if (sec_page_tables_) s->sec_page_tables_include_iommu = sec_page_tables_include_iommu_;
  s->reconcile_time_seconds = poll_time_;
  s->ringbuf_bytes = src.ringbuf_bytes;
  if (src.plan != nullptr) {
    for (const probes::HookPlan& hp : src.plan->hooks) {
      s->plan.push_back({std::string(probes::name(hp.hook)),
                         hp.chosen                       ? std::string(probes::name(*hp.chosen))
                         : !hp.from_spte_stream.empty() ? std::string("spte_stream")
                         : !hp.not_needed.empty()       ? std::string("none_needed")
                                                         : std::string()});
    }
    s->lifecycle = src.plan->lifecycle == probes::Lifecycle::kHooks ? "hooks" : "uevents";
    s->foreign_sptes_attributed = src.plan->foreign_sptes_attributed;
  }
  if (src.loop != nullptr) {
    const probes::LoopStats& st = src.loop->stats();
    s->events_processed = st.events;
    // The probes' stats map: monotonic (the per-VM counters behind
    // st.events_lost are deleted with their VM, and a _total must not drop).
    s->events_lost = std::max(st.events_lost, st.ringbuf_drops);
    s->events_malformed = st.malformed;
    s->unattributed_events_by_cause = st.unattributed_by_cause;
    s->ringbuf_used_bytes = st.ringbuf_used_bytes;
    s->ringbuf_used_peak_bytes = st.ringbuf_used_peak_bytes;
  }
  if (src.reconciler != nullptr) {
    s->reconciler = true;
    s->reconcile_last_full_seconds = src.reconciler->last_full_seconds();
    s->resyncs_total = src.reconciler->resyncs_total();
    if (const auto& f = src.reconciler->host().figure) {
      s->host_drift_pages = f->model - f->kernel;
      s->host_drift_confirmed = src.reconciler->host().drift.confirmed(f->name);
    }
  }
  if (src.model != nullptr) {
    s->pages_included = src.with_pages;
    std::vector<core::VmSnapshot> vms = src.model->snapshot_all();
    std::map<std::uint32_t, int> per_tgid;
    for (const core::VmSnapshot& v : vms) ++per_tgid[v.tgid];
    s->vms.reserve(vms.size());
    for (core::VmSnapshot& v : vms) {
      exporter::VmEntry e;
      e.identity = identity(v.vm, v.tgid);
      if (src.loop != nullptr) {
        if (auto c = src.loop->counters().find(v.vm); c != src.loop->counters().end()) {
          e.counters = c->second;
        }
      }
      const auto dbg = debugfs_.find(v.tgid);
      if (per_tgid[v.tgid] == 1 && dbg != debugfs_.end() && dbg->second.size() == 1) {
        e.identity.debugfs = dbg->second.front().id.dir_name();
      }
      if (src.with_pages) {
        e.tdp_page_list = src.model->pages(v.vm);
        e.shadow_page_list = src.model->shadow_pages(v.vm);
      }
      if (src.reconciler != nullptr) fill_reconcile(*src.reconciler, v.vm, e);
      if (src.audit) {
        if (const reconcile::AuditResult* r = src.audit(v.vm)) e.audit = audit_entry(*r);
      }
      e.model = std::move(v);
      s->vms.push_back(std::move(e));
    }
    std::sort(s->vms.begin(), s->vms.end(), [](const auto& a, const auto& b) {
      return std::tie(a.identity.pid, a.identity.vm) < std::tie(b.identity.pid, b.identity.vm);
    });
  }
  ledger_.fill(*s, now);
  return s;
}

}  // namespace tdpwatch::tdpwatchd

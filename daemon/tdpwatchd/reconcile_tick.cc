#include "daemon/tdpwatchd/reconcile_tick.h"

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "daemon/truth/memcg.h"

namespace tdpwatch::tdpwatchd {
namespace {

std::optional<std::int64_t> present(std::int64_t v) {
  return v == TDPW_TRUTH_ABSENT ? std::nullopt : std::optional<std::int64_t>(v);
}

void from_truth(const tdpw_kernel_truth& t, reconcile::KernelView& k) {
  k.tdp_pages = present(t.tdp_mmu_pages);
  k.shadow_pages = present(t.n_used_mmu_pages);
  for (int m = 0; m < core::kNrMmuTypes; ++m) {
    k.possible_nx_huge_pages[m] = present(t.possible_nx_huge_pages[m]);
  }
  k.leaf_pages = {present(t.pages_4k), present(t.pages_2m), present(t.pages_1g)};
}

// to += from, figure by figure; a figure absent in either stays absent.
void add_truth(const tdpw_kernel_truth& from, tdpw_kernel_truth& to) {
  auto add = [](__s64 a, __s64& b) {
    b = a == TDPW_TRUTH_ABSENT || b == TDPW_TRUTH_ABSENT ? TDPW_TRUTH_ABSENT : a + b;
  };
  add(from.tdp_mmu_pages, to.tdp_mmu_pages);
  for (int m = 0; m < core::kNrMmuTypes; ++m) {
    add(from.possible_nx_huge_pages[m], to.possible_nx_huge_pages[m]);
  }
  add(from.n_used_mmu_pages, to.n_used_mmu_pages);
  add(from.pages_4k, to.pages_4k);
  add(from.pages_2m, to.pages_2m);
  add(from.pages_1g, to.pages_1g);
  add(from.nx_lpage_splits, to.nx_lpage_splits);
}

}  // namespace

ReconcileTick::ReconcileTick(truth::Paths paths, double grace_seconds, bool keys_are_kvm,
                             bool shadow_mmu)
    : paths_(std::move(paths)),
      rec_(reconcile::Reconciler::Options{{grace_seconds, 2}}),
      keys_are_kvm_(keys_are_kvm),
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
  std::map<std::uint32_t, int> model_per_tgid;
  for (const core::VmSnapshot& v : vms) ++model_per_tgid[v.tgid];
  std::map<std::uint32_t, std::vector<const truth::VmStats*>> debugfs;
  for (const VmView& v : poll.vms) {
    const int tgid = v.identity && v.identity->tgid != 0 ? v.identity->tgid : v.id.pid;
    debugfs[static_cast<std::uint32_t>(tgid)].push_back(&v.stats);
  }

  std::vector<reconcile::VmInput> inputs;
  inputs.reserve(vms.size());
  for (const core::VmSnapshot& v : vms) {
    reconcile::VmInput in;
    in.vm = v.vm;
    const exporter::VmIdentity& id = names.identity(v.vm, v.tgid);
    in.who = "VM vm=" + id.vm + " pid=" + std::to_string(id.pid) +
             (TDPW_VM_KEY_IS_KVM_PTR(v.vm) ? fmt::format(" kvm={:#x}", v.vm) : std::string());
    reconcile::KernelView& k = in.kernel;
    const bool alone = model_per_tgid[v.tgid] == 1;
    if (auto t = loop.truth().find(v.vm); t != loop.truth().end()) {
      from_truth(t->second, k);
    } else if (TDPW_VM_KEY_IS_KVM_PTR(v.vm)) {
      const auto it = std::find_if(iterated.begin(), iterated.end(),
                                   [&](const probes::IteratedVm& i) { return i.kvm == v.vm; });
      if (it != iterated.end()) from_truth(it->truth, k);
    } else if (alone) {
      // Keyed by tgid, the model's VM stands for every VM of the process.
      std::optional<tdpw_kernel_truth> sum;
      for (const probes::IteratedVm& i : iterated) {
        if (i.tgid != v.tgid) continue;
        if (!sum) {
          sum = i.truth;
        } else {
          add_truth(i.truth, *sum);
        }
      }
      if (sum) from_truth(*sum, k);
    }
    if (const auto d = debugfs.find(v.tgid);
        alone && d != debugfs.end() && (d->second.size() == 1 || !TDPW_VM_KEY_IS_KVM_PTR(v.vm))) {
      const char* leaf[] = {"pages_4k", "pages_2m", "pages_1g"};
      for (int i = 0; i < core::kNrLeafLevels; ++i) {
        if (k.leaf_pages[i]) continue;
        std::optional<std::int64_t> sum = 0;
        for (const truth::VmStats* st : d->second) {
          const auto n = st->value(leaf[i]);
          sum = n && sum ? std::optional<std::int64_t>(*sum + *n) : std::nullopt;
        }
        k.leaf_pages[i] = sum;
      }
    }
    if (shadow_mmu_) k.leaf_pages = {};
    if (alone) {
      auto memcg = truth::read_memcg_page_tables(paths_, static_cast<int>(v.tgid));
      if (memcg) {
        const bool only_it = !memcg->procs.empty() &&
                             std::all_of(memcg->procs.begin(), memcg->procs.end(),
                                         [&](int pid) { return pid == static_cast<int>(v.tgid); });
        if (only_it) k.memcg_page_table_pages = memcg->sec_pagetables_bytes / 4096;
      } else if (!memcg_error_logged_) {
        memcg_error_logged_ = true;
        spdlog::info("no per-memcg page-table figure: {}", memcg.error().message);
      }
    }
    if (auto c = loop.counters().find(v.vm); c != loop.counters().end()) k.counters = c->second;
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

#include "daemon/reconcile/reconciler.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include <spdlog/spdlog.h>

namespace tdpwatch::reconcile {
namespace {

// "shadow_pages 3 -> 5, tdp_pages 0 -> 2": what a set_counts() changes.
std::string changes(const core::VmCounts& before, const core::CountTargets& t) {
  std::string out;
  auto add = [&](const std::string& name, std::int64_t was, const std::optional<std::int64_t>& to) {
    if (!to || *to == was) return;
    out +=
        (out.empty() ? "" : ", ") + name + " " + std::to_string(was) + " -> " + std::to_string(*to);
  };
  add("tdp_pages", before.tdp_pages_total(), t.tdp_pages);
  add("shadow_pages", before.shadow_pages, t.shadow_pages);
  add("possible_nx_huge_pages_shadow", before.possible_nx_huge_pages[0],
      t.possible_nx_huge_pages[0]);
  add("possible_nx_huge_pages_tdp", before.possible_nx_huge_pages[1], t.possible_nx_huge_pages[1]);
  const char* leaf[] = {"leaf_mappings_4k", "leaf_mappings_2m", "leaf_mappings_1g"};
  for (int i = 0; i < core::kNrLeafLevels; ++i) add(leaf[i], before.leaf_pages[i], t.leaf_pages[i]);
  return out;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

bool is_absolute(const std::string& figure) {
  return figure.rfind("probe_", 0) != 0;
}

}  // namespace

const char* name(Tracking t) {
  switch (t) {
    case Tracking::kFull:
      return "full";
    case Tracking::kSinceSeen:
      return "since_seen";
    case Tracking::kBaseline:
      return "baseline";
    case Tracking::kAdopted:
      return "adopted";
  }
  return "?";
}

Reconciler::Reconciler() : Reconciler(Options{}) {}

Reconciler::Reconciler(Options options, LogSink log) : options_(options), log_(std::move(log)) {}

void Reconciler::log(spdlog::level::level_enum level, const std::string& text) const {
  if (log_) {
    log_(level, text);
  } else {
    spdlog::log(level, "{}", text);
  }
}

void Reconciler::tick(core::Model& model, const std::vector<VmInput>& inputs, double now) {
  ++ticks_;
  std::map<std::uint64_t, const VmInput*> by_vm;
  for (const VmInput& in : inputs) by_vm[in.vm] = &in;
  const std::vector<std::uint64_t> keys = model.vm_keys();
  for (std::uint64_t vm : keys) {
    const auto it = by_vm.find(vm);
    VmInput none;
    none.vm = vm;
    reconcile_vm(model, vm, it != by_vm.end() ? *it->second : none, now);
  }
  // VMs gone without a reviewed teardown (their VM_DESTROY went elsewhere).
  const std::set<std::uint64_t> live(keys.begin(), keys.end());
  std::erase_if(vms_, [&](const auto& kv) { return live.count(kv.first) == 0; });
  last_full_ = now;
}

bool Reconciler::baseline(core::Model& model, std::uint64_t vm, VmStatus& st, const KernelView& k,
                          bool quiet) {
  const core::CountTargets t = absolute_targets(k);
  if (!any(t)) return false;
  const core::VmCounts before = model.snapshot(vm)->counts;
  model.set_counts(vm, t);
  st.baseline = baseline_offsets(k);
  st.baseline_figures = names(t);
  st.baseline_settled = quiet;
  st.page_tables_known = t.tdp_pages.has_value() && t.shadow_pages.has_value();
  if (st.tracking != Tracking::kBaseline) {
    st.tracking = Tracking::kBaseline;
    const std::string moved = changes(before, t);
    log(spdlog::level::info,
        st.who + ": started before the daemon; counts now start from the kernel's own figures (" +
            st.baseline_figures + ")" + (moved.empty() ? "" : ": " + moved));
  }
  return true;
}

void Reconciler::reconcile_vm(core::Model& model, std::uint64_t vm, const VmInput& in, double now) {
  auto snap = model.snapshot(vm);
  if (!snap) return;
  const KernelView& k = in.kernel;
  auto [it, fresh] = vms_.try_emplace(vm);
  VmStatus& st = it->second;
  if (!in.who.empty()) st.who = in.who;
  st.kernel = k;
  if (st.who.empty()) st.who = "VM key=" + std::to_string(vm);
  if (fresh) st.tracking = snap->implicit ? Tracking::kSinceSeen : Tracking::kFull;
  if (!snap->implicit && st.tracking == Tracking::kSinceSeen) st.tracking = Tracking::kFull;
  if (st.tracking == Tracking::kFull) st.page_tables_known = true;

  const std::uint64_t seen = k.counters ? events_seen(*k.counters) : 0;
  const std::uint64_t dropped = k.counters ? events_dropped(*k.counters) : 0;
  // No event since the previous tick: nothing in flight, the model has it all.
  const bool quiet = st.seen && seen == st.events_seen;
  st.quiet = quiet;
  const bool new_drops = dropped > st.events_lost;
  st.seen = true;
  st.events_seen = seen;
  st.events_lost = dropped;

  if (st.tracking == Tracking::kSinceSeen ||
      (st.tracking == Tracking::kBaseline && !st.baseline_settled && quiet)) {
    baseline(model, vm, st, k, quiet);
  }

  if (new_drops) {
    if (!st.degraded) {
      log(spdlog::level::warn,
          st.who + ": " + std::to_string(dropped) +
              " events lost (the ring buffer was full): resyncing its counts from the kernel's "
              "figures and the probes' lossless counters; degraded until clean");
    }
    st.degraded = true;
    st.tick_degraded = ticks_;
  }
  bool resynced = false;
  if (st.degraded && (new_drops || quiet)) {
    const core::CountTargets t = resync_targets(k, st.baseline);
    const std::string moved = changes(model.snapshot(vm)->counts, t);
    if (!moved.empty()) {
      model.set_counts(vm, t);
      ++st.resyncs;
      ++resyncs_total_;
      resynced = true;
      log(spdlog::level::info,
          st.who + ": resynced (#" + std::to_string(st.resyncs) + "): " + moved);
    }
  }

  const core::CountTargets owned = kernel_owned_targets(k, model.snapshot(vm)->counts.shadow_pages);
  if (any(owned)) model.set_counts(vm, owned);
  st.sources = figure_sources(k, owned);

  st.figures = compare(model.snapshot(vm)->counts, k, st.baseline);
  if (st.tracking == Tracking::kSinceSeen) {
    // Counts since first seen: only the (equally relative) lossless counters compare.
    std::erase_if(st.figures, [](const Figure& f) { return is_absolute(f.name); });
  }
  const bool equal = std::all_of(st.figures.begin(), st.figures.end(),
                                 [](const Figure& f) { return f.model == f.kernel; });
  // Clean: a quiescent tick that needed no resync, after the one that did.
  if (st.degraded && !new_drops && !resynced && quiet && ticks_ > st.tick_degraded && equal) {
    st.degraded = false;
    log(spdlog::level::info, st.who + ": clean again: model == kernel on every figure (" +
                                 std::to_string(st.figures.size()) + ") after " +
                                 std::to_string(st.resyncs) + " resyncs");
  }

  for (const DriftTracker::Report& r :
       st.drift.update(st.figures, now, options_.drift, st.degraded)) {
    const Figure& f = r.figure;
    const std::string values = "model " + std::to_string(f.model) + ", kernel " +
                               std::to_string(f.kernel) +
                               " (model - kernel = " + std::to_string(f.model - f.kernel) + ")";
    switch (r.change) {
      case DriftTracker::Change::kConfirmed:
        log(spdlog::level::warn, st.who + ": drift on " + f.name + ": " + values + " for " +
                                     seconds(r.lasted) + " s with the kernel's figure stable");
        break;
      case DriftTracker::Change::kChanged:
        log(spdlog::level::warn, st.who + ": drift on " + f.name + " changed: " + values +
                                     ", was " + std::to_string(r.was));
        break;
      case DriftTracker::Change::kCleared:
        log(spdlog::level::info,
            st.who + ": drift on " + f.name + " cleared (was " + std::to_string(r.was) + ")");
        break;
    }
  }
}

void Reconciler::on_adopted(std::uint64_t vm, const core::VmCounts& adopted,
                            const std::optional<tdpw_vm_counters>& counters) {
  VmStatus& st = vms_[vm];
  st.tracking = Tracking::kAdopted;
  st.baseline_settled = true;
  st.page_tables_known = true;
  // The adopted figures are absolute: a baseline taken against them.
  KernelView k;
  k.tdp_pages = adopted.tdp_pages_total();
  k.shadow_pages = adopted.shadow_pages;
  for (int m = 0; m < core::kNrMmuTypes; ++m) {
    k.possible_nx_huge_pages[m] = adopted.possible_nx_huge_pages[m];
  }
  k.counters = counters;
  st.baseline = baseline_offsets(k);
}

void Reconciler::review_teardown(core::LeakRecord& leak,
                                 const std::optional<tdpw_vm_counters>& counters) {
  const auto it = vms_.find(leak.vm);
  const VmStatus* st = it != vms_.end() ? &it->second : nullptr;
  const bool lost = (counters && events_dropped(*counters) > 0) || (st && st->resyncs > 0);
  if (lost && counters && !leak.empty()) {
    // What the kernel still held by the lossless counters (plus baseline):
    // pages the model keeps only because their zap or unlink was lost are not.
    const core::CountOffsets b = st ? st->baseline : core::CountOffsets{};
    const std::int64_t held[] = {
        counters->tdp_pages + b.tdp_pages, counters->shadow_pages + b.shadow_pages,
        counters->possible_nx_huge_pages[0] + counters->possible_nx_huge_pages[1] +
            b.possible_nx_huge_pages[0] + b.possible_nx_huge_pages[1]};
    std::int64_t* counts[] = {&leak.linked_pages, &leak.shadow_pages, &leak.nx_tracked_pages};
    const core::LeakedPage::What what[] = {core::LeakedPage::What::kLinked,
                                           core::LeakedPage::What::kShadow,
                                           core::LeakedPage::What::kNxTracked};
    std::int64_t stale = 0;
    for (int i = 0; i < 3; ++i) {
      const std::int64_t n = std::max<std::int64_t>(0, held[i]);
      if (*counts[i] <= n) continue;
      stale += *counts[i] - n;
      *counts[i] = n;
      if (n == 0) {
        std::erase_if(leak.pages, [&](const core::LeakedPage& p) { return p.what == what[i]; });
      }
    }
    if (stale > 0) {
      log(spdlog::level::info,
          (st ? st->who : "VM key=" + std::to_string(leak.vm)) + ": teardown judged by the " +
              "lossless counters (events were lost): " + std::to_string(stale) +
              " pages the model still listed had gone (their events were lost)");
    }
  }
  if (it != vms_.end()) vms_.erase(it);
}

void Reconciler::tick_host(const core::Model& model, std::optional<std::int64_t> kernel,
                           bool complete, double now) {
  host_.figure.reset();
  if (!kernel || !complete) {
    host_.candidate.reset();
    return;
  }
  std::int64_t pages = 0;
  std::string unknown;
  for (const core::VmSnapshot& v : model.snapshot_all()) {
    pages += v.counts.sec_page_table_pages();
    const VmStatus* st = status(v.vm);
    if ((st == nullptr || !st->page_tables_known) && unknown.empty()) {
      unknown = st != nullptr ? st->who : "VM key=" + std::to_string(v.vm);
    }
  }
  // A VM whose page tables the model cannot count yet (first seen mid-life,
  // no kernel counter, not adopted yet): SecPageTables holds pages the sum
  // lacks.  A baseline taken now would turn them into "not a VM's" and its
  // adoption into drift; the host figure is unknown until it is counted.
  if (!unknown.empty()) {
    host_.candidate.reset();
    if (!host_.waiting_for_vm) {
      log(spdlog::level::info, "host: SecPageTables comparison waits for " + unknown +
                                   " (its page tables are not counted until it is adopted)");
    }
    host_.waiting_for_vm = true;
    return;
  }
  host_.waiting_for_vm = false;
  if (!host_.baseline) {
    const std::int64_t candidate = *kernel - pages;
    if (!host_.candidate || host_.candidate->first != candidate) {
      host_.candidate = {candidate, now};
    }
    if (now - host_.candidate->second < options_.host_baseline_settle_seconds) return;
    host_.baseline = candidate;
    log(spdlog::level::info, "host: SecPageTables " + std::to_string(*kernel) +
                                 " pages, VMs' page tables " + std::to_string(pages) +
                                 " pages: baseline " + std::to_string(*host_.baseline) +
                                 " pages not accounted to VMs");
  }
  host_.figure = Figure{"host_sec_pagetables", pages + *host_.baseline, *kernel};
  // Hold while a VM is being resynced: the sum is not settled.
  for (const DriftTracker::Report& r :
       host_.drift.update({*host_.figure}, now, options_.drift, degraded_vms() > 0)) {
    const Figure& f = r.figure;
    const std::string values =
        "model " + std::to_string(f.model) + ", kernel " + std::to_string(f.kernel) +
        " pages (model - kernel = " + std::to_string(f.model - f.kernel) + ")";
    if (r.change == DriftTracker::Change::kCleared) {
      log(spdlog::level::info,
          "host: drift on SecPageTables cleared (was " + std::to_string(r.was) + ")");
    } else {
      log(spdlog::level::warn,
          "host: drift on SecPageTables: " + values + " for " + seconds(r.lasted) +
              " s with the kernel's figure stable" +
              (r.change == DriftTracker::Change::kChanged ? ", was " + std::to_string(r.was)
                                                          : std::string()));
    }
  }
}

const VmStatus* Reconciler::status(std::uint64_t vm) const {
  const auto it = vms_.find(vm);
  return it != vms_.end() ? &it->second : nullptr;
}

std::size_t Reconciler::degraded_vms() const {
  return static_cast<std::size_t>(
      std::count_if(vms_.begin(), vms_.end(), [](const auto& kv) { return kv.second.degraded; }));
}

}  // namespace tdpwatch::reconcile

#include "tests/support/probe_aggregator.h"

#include <set>

#include "bpf/tdpw_spte.h"

namespace tdpwatch::sim {

void ProbeAggregator::count(const Event& ev) {
  if (ev.type == TDPW_EV_VM_CREATE) {
    // tdpw_emit_vm_event(): a new entry, stamped.
    tdpw_vm_counters fresh{};
    fresh.generation = ev.ts_ns;
    counters_[ev.vm] = fresh;
  }
  tdpw_vm_counters& c = counters_[ev.vm];
  if (ev.type < TDPW_EV_TYPE_MAX) ++c.events[ev.type];
  if (ev.type != TDPW_EV_SPTE_CHANGED) return;
  const int level = ev.level;
  const auto o = static_cast<unsigned long long>(ev.spte.old_spte);
  const auto n = static_cast<unsigned long long>(ev.spte.new_spte);
  if (level >= 1 && level <= 3) c.leaf_pages[level - 1] += tdpw_spte_leaf_change(level, o, n);
  if (tdpw_spte_splits_huge_page(level, o, n)) c.leaf_pages[level - 2] += TDPW_SPTE_ENT_PER_PAGE;
}

bool ProbeAggregator::crosses_ring(const Event& ev) const {
  if (ev.type != TDPW_EV_SPTE_CHANGED) return true;
  const auto o = static_cast<unsigned long long>(ev.spte.old_spte);
  const auto n = static_cast<unsigned long long>(ev.spte.new_spte);
  return tdpw_spte_moves_structure(ev.level, o, n) || tdpw_spte_anomalous(ev.level, o, n);
}

void ProbeAggregator::fold_into(std::vector<Event>& out,
                                const std::map<std::uint64_t, tdpw_vm_counters>& counters) {
  for (const Event& f : fold_.fold(counters, no_truth_, clock_)) out.push_back(f);
}

std::vector<Event> ProbeAggregator::pass(const std::vector<Event>& kernel_events) {
  // Stamp each VM_CREATE as the probes do.
  std::vector<Event> in = kernel_events;
  for (Event& ev : in) {
    if (ev.type == TDPW_EV_VM_CREATE) ev.ts_ns = ++clock_;
  }
  const std::size_t n = in.size();
  const std::size_t at = static_cast<std::size_t>(rng_.below(n + 1));  // fold before event `at`
  std::size_t through = at + static_cast<std::size_t>(rng_.below(n - at + 1));  // counts of [0, through)
  for (std::size_t i = at; i < through; ++i) {
    if (in[i].type == TDPW_EV_VM_CREATE) {
      through = i;
      break;
    }
  }
  std::map<std::uint64_t, tdpw_vm_counters> read_early;
  for (std::size_t i = 0; i < n; ++i) {
    if (i == through) read_early = counters_;
    count(in[i]);
  }
  if (through == n) read_early = counters_;

  std::vector<Event> out;
  std::set<std::uint64_t> destroyed;
  for (std::size_t i = 0; i < n; ++i) {
    if (i == at) fold_into(out, read_early);
    const Event& ev = in[i];
    if (ev.type == TDPW_EV_VM_CREATE) {
      fold_.on_vm_create(ev.vm, ev.ts_ns);
      destroyed.erase(ev.vm);
    }
    if (ev.type == TDPW_EV_VM_DESTROY) destroyed.insert(ev.vm);
    if (!crosses_ring(ev)) {
      ++leaf_only_;
      continue;
    }
    Event copy = ev;
    if (copy.type == TDPW_EV_SPTE_CHANGED) copy.flags |= TDPW_F_LEAVES_COUNTED;
    out.push_back(copy);
  }
  if (at == n) fold_into(out, read_early);
  fold_into(out, counters_);
  for (std::uint64_t vm : destroyed) {
    counters_.erase(vm);
    fold_.forget(vm);
  }
  return out;
}

}  // namespace tdpwatch::sim

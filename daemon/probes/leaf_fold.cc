#include "daemon/probes/leaf_fold.h"

#include <utility>

namespace tdpwatch::probes {

std::vector<Event> LeafFold::fold(const std::map<std::uint64_t, tdpw_vm_counters>& counters,
                                  const std::map<std::uint64_t, tdpw_kernel_truth>& truth,
                                  std::uint64_t now_ns) {
  std::vector<Event> out;
  std::unordered_map<std::uint64_t, Folded> next;
  next.reserve(counters.size());
  for (const auto& [key, c] : counters) {
    Folded now;
    for (int l = 0; l < 3; ++l) now.leaf_pages[l] = c.leaf_pages[l];
    now.spte_changes = c.events[TDPW_EV_SPTE_CHANGED];
    now.generation = c.generation;
    // The previous life's entry, read before the new VM_CREATE made its own.
    if (const auto e = expected_generation_.find(key);
        e != expected_generation_.end() && e->second != now.generation) {
      continue;
    }
    Folded before;
    if (const auto it = folded_.find(key); it != folded_.end()) before = it->second;
    // Another entry than the one folded before (a new VM's, or deleted and
    // made again between two reads): all it holds is new.
    if (now.generation != before.generation || now.spte_changes < before.spte_changes) {
      before = Folded{};
    }
    next.emplace(key, now);
    if (now.spte_changes == before.spte_changes && now.leaf_pages == before.leaf_pages) continue;
    Event ev{};
    ev.type = TDPW_EV_LEAF_STATS;
    ev.vm = key;
    ev.ts_ns = now_ns;
    if (TDPW_VM_KEY_IS_KVM_PTR(key)) {
      if (const auto t = truth.find(key); t != truth.end()) ev.tgid = t->second.tgid;
    } else {
      ev.tgid = static_cast<std::uint32_t>(key);
    }
    for (int l = 0; l < 3; ++l) ev.leaf.pages[l] = now.leaf_pages[l] - before.leaf_pages[l];
    ev.leaf.spte_changes = now.spte_changes - before.spte_changes;
    out.push_back(ev);
  }
  folded_ = std::move(next);
  return out;
}

void LeafFold::forget(std::uint64_t key) {
  folded_.erase(key);
  expected_generation_.erase(key);
}

void LeafFold::on_vm_create(std::uint64_t key, std::uint64_t ts_ns) {
  expected_generation_[key] = ts_ns;
}

}  // namespace tdpwatch::probes

#include "daemon/core/model.h"

#include <algorithm>

#include "daemon/core/vm_state.h"

namespace tdpwatch::core {

Model::Model(ModelOptions options) : options_(options) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

void Model::apply(const Event& ev) {
  const std::uint64_t index = events_applied_++;
  switch (ev.type) {
    case TDPW_EV_VM_CREATE: {
      forget_destroyed(ev.vm);
      if (auto it = vms_.find(ev.vm); it != vms_.end()) {
        if (it->second->adopt_create(ev.tgid)) return;  // a late VM_CREATE: same life
        // Its VM_DESTROY was lost: close the old life before the new one.
        teardowns_.push_back(it->second->teardown(index));
      }
      vms_[ev.vm] = std::make_unique<VmState>(ev.vm, ev.tgid, false, options_);
      index_kvm_vm(ev.vm, ev.tgid);
      last_vm_ = nullptr;
      return;
    }
    case TDPW_EV_VM_DESTROY: {
      auto it = vms_.find(ev.vm);
      if (it == vms_.end()) {
        note_global(Inconsistency::kDestroyUnknownVm);
        return;
      }
      teardowns_.push_back(it->second->teardown(index));
      vms_.erase(it);
      unindex_kvm_vm(ev.vm);
      remember_destroyed(ev.vm);
      last_vm_ = nullptr;
      return;
    }
    default:
      break;
  }
  if (ev.type == TDPW_EV_NONE || ev.type >= TDPW_EV_TYPE_MAX) {
    note_global(Inconsistency::kUnknownEventType);
    return;
  }
  if (last_vm_ == nullptr || last_vm_key_ != ev.vm) {
    if (destroyed_set_.count(ev.vm)) {
      // The last fold of a VM's counters may come after its teardown (the
      // zaps of its leaves): nothing is left to count them against.
      if (ev.type != TDPW_EV_LEAF_STATS) note_global(Inconsistency::kEventAfterDestroy);
      return;
    }
    VmState* vm = resolve(ev);
    if (vm == nullptr) {
      // Not cached as ev.vm's VM: the next event of that task is judged anew.
      if (VmState* owner = owner_of_page(ev)) {
        owner->apply(ev, index);
        return;
      }
    }
    if (vm == nullptr) {
      // A fold counts for the SPTE changes behind it.
      const std::uint64_t n = ev.type == TDPW_EV_LEAF_STATS ? ev.leaf.spte_changes : 1;
      unattributed_total_ += n;
      unattributed_[static_cast<std::uint32_t>(ev.vm)] += n;
      return;
    }
    last_vm_ = vm;
    last_vm_key_ = ev.vm;
  }
  last_vm_->apply(ev, index);
}

// A page's zap in a task that is no VMM's, for a page the probes' page_owner
// map never had (a table adopted from the kernel's walk): the last mmput()
// of a VMM's mm, and with it mmu_notifier_release() and every zap, runs in
// whichever task dropped it (a reader of /proc/PID/cmdline, tdpwatchd's own
// identity lookup among them).  The page itself names its VM: the one VM
// whose model has it linked (a pfn, or a shadow page's sp, is one VM's at a
// time).
VmState* Model::owner_of_page(const Event& ev) {
  if (ev.type != TDPW_EV_UNLINK_SP && ev.type != TDPW_EV_SHADOW_ZAP) return nullptr;
  if (ev.type == TDPW_EV_UNLINK_SP && ev.page.pfn == 0) return nullptr;
  VmState* found = nullptr;
  for (auto& [key, vm] : vms_) {
    if (!vm->holds_page(ev)) continue;
    if (found != nullptr) return nullptr;  // ambiguous: leave it unattributed
    found = vm.get();
  }
  return found;
}

bool Model::founds_vm(std::uint16_t type) {
  switch (type) {
    case TDPW_EV_VM_CREATE:
    case TDPW_EV_ROOT_ALLOC:
    case TDPW_EV_SHADOW_GET:
    case TDPW_EV_LINK_SP:
    case TDPW_EV_NX_TRACK:
      return true;
    default:
      return false;
  }
}

VmState* Model::resolve(const Event& ev) {
  if (auto it = vms_.find(ev.vm); it != vms_.end()) return it->second.get();
  const bool kvm_key = TDPW_VM_KEY_IS_KVM_PTR(ev.vm);
  if (!kvm_key) {
    const auto tgid = static_cast<std::uint32_t>(ev.vm);
    if (auto it = kvm_vms_of_tgid_.find(tgid); it != kvm_vms_of_tgid_.end() && it->second.size() == 1) {
      return vms_.at(it->second.front()).get();
    }
    if (!founds_vm(ev.type)) return nullptr;
  }
  // First seen mid-life: the daemon started after this VM.
  const std::uint32_t tgid = kvm_key ? ev.tgid : static_cast<std::uint32_t>(ev.vm);
  auto& slot = vms_[ev.vm];
  slot = std::make_unique<VmState>(ev.vm, tgid, true, options_);
  if (kvm_key) index_kvm_vm(ev.vm, tgid);
  return slot.get();
}

void Model::index_kvm_vm(std::uint64_t vm, std::uint32_t tgid) {
  if (!TDPW_VM_KEY_IS_KVM_PTR(vm) || tgid == 0) return;
  auto& list = kvm_vms_of_tgid_[tgid];
  if (std::find(list.begin(), list.end(), vm) == list.end()) list.push_back(vm);
}

void Model::unindex_kvm_vm(std::uint64_t vm) {
  for (auto it = kvm_vms_of_tgid_.begin(); it != kvm_vms_of_tgid_.end();) {
    std::erase(it->second, vm);
    it = it->second.empty() ? kvm_vms_of_tgid_.erase(it) : std::next(it);
  }
}

std::unordered_map<std::uint32_t, std::uint64_t> Model::take_unattributed() {
  std::unordered_map<std::uint32_t, std::uint64_t> out;
  out.swap(unattributed_);
  return out;
}

bool Model::set_counts(std::uint64_t vm, const CountTargets& targets) {
  const auto it = vms_.find(vm);
  if (it == vms_.end()) return false;
  it->second->set_counts(targets);
  return true;
}

std::optional<std::size_t> Model::adopt(std::uint64_t vm, const Adoption& adoption) {
  const auto it = vms_.find(vm);
  if (it == vms_.end()) return std::nullopt;
  return it->second->adopt(adoption);
}

bool Model::set_tgid(std::uint64_t vm, std::uint32_t tgid) {
  const auto it = vms_.find(vm);
  if (it == vms_.end() || tgid == 0 || it->second->tgid() == tgid) return false;
  unindex_kvm_vm(vm);
  it->second->set_tgid(tgid);
  index_kvm_vm(vm, tgid);
  return true;
}

bool Model::add_implicit(std::uint64_t vm, std::uint32_t tgid) {
  if (vms_.count(vm) != 0 || destroyed_set_.count(vm) != 0) return false;
  vms_[vm] = std::make_unique<VmState>(vm, tgid, true, options_);
  index_kvm_vm(vm, tgid);
  last_vm_ = nullptr;
  return true;
}

void Model::note_global(Inconsistency kind) {
  ++global_[static_cast<std::size_t>(kind)];
}

void Model::remember_destroyed(std::uint64_t vm) {
  // Bounded: only needs to outlive the stragglers of a teardown.
  constexpr std::size_t kRemember = 4096;
  destroyed_order_.push_back(vm);
  destroyed_set_.insert(vm);
  if (destroyed_order_.size() > kRemember) {
    destroyed_set_.erase(destroyed_order_.front());
    destroyed_order_.pop_front();
  }
}

void Model::forget_destroyed(std::uint64_t vm) {
  if (destroyed_set_.erase(vm)) std::erase(destroyed_order_, vm);
}

std::vector<std::uint64_t> Model::vm_keys() const {
  std::vector<std::uint64_t> keys;
  keys.reserve(vms_.size());
  for (const auto& [key, vm] : vms_) keys.push_back(key);
  return keys;
}

std::optional<VmSnapshot> Model::snapshot(std::uint64_t vm) const {
  auto it = vms_.find(vm);
  if (it == vms_.end()) return std::nullopt;
  return it->second->snapshot();
}

std::vector<VmSnapshot> Model::snapshot_all() const {
  std::vector<VmSnapshot> out;
  out.reserve(vms_.size());
  for (const auto& [key, vm] : vms_) out.push_back(vm->snapshot());
  return out;
}

std::vector<PageView> Model::pages(std::uint64_t vm) const {
  auto it = vms_.find(vm);
  return it == vms_.end() ? std::vector<PageView>{} : it->second->pages();
}

std::vector<PageView> Model::shadow_pages(std::uint64_t vm) const {
  auto it = vms_.find(vm);
  return it == vms_.end() ? std::vector<PageView>{} : it->second->shadow_pages();
}

std::vector<InconsistencyDetail> Model::inconsistency_details(std::uint64_t vm) const {
  auto it = vms_.find(vm);
  return it == vms_.end() ? std::vector<InconsistencyDetail>{} : it->second->details();
}

std::vector<LeakRecord> Model::take_teardowns() {
  std::vector<LeakRecord> out;
  out.swap(teardowns_);
  return out;
}

std::size_t Model::page_memory_bytes() const {
  std::size_t n = 0;
  for (const auto& [key, vm] : vms_) n += vm->store().memory_bytes();
  return n;
}

std::size_t Model::tracked_pages() const {
  std::size_t n = 0;
  for (const auto& [key, vm] : vms_) n += vm->store().size();
  return n;
}

}  // namespace tdpwatch::core

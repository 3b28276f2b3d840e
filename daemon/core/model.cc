#include "daemon/core/model.h"

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
      note_global(Inconsistency::kEventAfterDestroy);
      return;
    }
    auto& slot = vms_[ev.vm];
    if (!slot) {
      // First seen mid-life: the daemon started after this VM.
      const std::uint32_t tgid =
          TDPW_VM_KEY_IS_KVM_PTR(ev.vm) ? ev.tgid : static_cast<std::uint32_t>(ev.vm);
      slot = std::make_unique<VmState>(ev.vm, tgid, true, options_);
    }
    last_vm_ = slot.get();
    last_vm_key_ = ev.vm;
  }
  last_vm_->apply(ev, index);
}

bool Model::set_counts(std::uint64_t vm, const CountTargets& targets) {
  const auto it = vms_.find(vm);
  if (it == vms_.end()) return false;
  it->second->set_counts(targets);
  return true;
}

bool Model::add_implicit(std::uint64_t vm, std::uint32_t tgid) {
  if (vms_.count(vm) != 0 || destroyed_set_.count(vm) != 0) return false;
  vms_[vm] = std::make_unique<VmState>(vm, tgid, true, options_);
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

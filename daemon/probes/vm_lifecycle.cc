#include "daemon/probes/vm_lifecycle.h"

#include <algorithm>

namespace tdpwatch::probes {
namespace {

Event lifecycle_event(std::uint16_t type, int tgid, std::uint64_t now_ns) {
  Event ev{};
  ev.type = type;
  ev.tgid = static_cast<std::uint32_t>(tgid);
  ev.vm = static_cast<std::uint64_t>(tgid);
  ev.ts_ns = now_ns;
  return ev;
}

}  // namespace

VmLifecycle::VmLifecycle(Config config, System system)
    : config_(config), system_(std::move(system)) {}

std::string VmLifecycle::vm_id(const KvmUevent& ev) {
  return ev.stats_path.empty() ? "pid:" + std::to_string(ev.pid) : ev.stats_path;
}

void VmLifecycle::seed(int pid, const std::string& stats_path) {
  const int tgid = system_.tgid_of(pid).value_or(pid);
  procs_[tgid].vms.insert(stats_path);
  tgid_by_vm_[stats_path] = tgid;
}

std::optional<Event> VmLifecycle::on_uevent(const KvmUevent& ev, std::uint64_t now_ns) {
  const std::string id = vm_id(ev);
  if (ev.kind == KvmUevent::Kind::kCreate) {
    const int tgid = system_.tgid_of(ev.pid).value_or(ev.pid);
    tgid_by_vm_[id] = tgid;
    Proc& p = procs_[tgid];
    const bool first = p.vms.empty() && !p.destroyed_ns;
    p.vms.insert(id);
    // A new VM while the last one's teardown is pending: one life continues
    // (the key is the tgid), so the pending VM_DESTROY is dropped.
    p.destroyed_ns.reset();
    p.last_activity_ns = now_ns;
    if (!first) return std::nullopt;
    return lifecycle_event(TDPW_EV_VM_CREATE, tgid, now_ns);
  }
  const auto it = tgid_by_vm_.find(id);
  const int tgid = it != tgid_by_vm_.end() ? it->second : ev.pid;
  if (it != tgid_by_vm_.end()) tgid_by_vm_.erase(it);
  const auto p = procs_.find(tgid);
  if (p == procs_.end()) return std::nullopt;  // never seen: nothing to tear down
  p->second.vms.erase(id);
  if (p->second.vms.empty()) p->second.destroyed_ns = now_ns;
  p->second.last_activity_ns = std::max(p->second.last_activity_ns, now_ns);
  return std::nullopt;
}

void VmLifecycle::on_activity(std::uint64_t vm, std::uint64_t now_ns) {
  if (vm > 0x7fffffffu) return;  // a struct kvm * key: not ours
  const auto p = procs_.find(static_cast<int>(vm));
  if (p != procs_.end()) p->second.last_activity_ns = now_ns;
}

std::vector<Event> VmLifecycle::due(std::uint64_t now_ns) {
  std::vector<Event> out;
  for (auto it = procs_.begin(); it != procs_.end();) {
    const Proc& p = it->second;
    const bool ready =
        p.vms.empty() && p.destroyed_ns && now_ns - p.last_activity_ns >= config_.quiet_ns &&
        now_ns - *p.destroyed_ns >= config_.quiet_ns &&
        (system_.process_gone(it->first) || now_ns - *p.destroyed_ns >= config_.live_grace_ns);
    if (ready) {
      out.push_back(lifecycle_event(TDPW_EV_VM_DESTROY, it->first, now_ns));
      it = procs_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::size_t VmLifecycle::live_tgids() const {
  return static_cast<std::size_t>(std::count_if(
      procs_.begin(), procs_.end(), [](const auto& kv) { return !kv.second.vms.empty(); }));
}

std::size_t VmLifecycle::pending_teardowns() const {
  return static_cast<std::size_t>(std::count_if(
      procs_.begin(), procs_.end(), [](const auto& kv) { return kv.second.destroyed_ns; }));
}

}  // namespace tdpwatch::probes

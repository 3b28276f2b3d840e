// VM lifecycle for plans without vm_create/vm_destroy hooks (tracepoint-only
// plans): KVM's uevents become TDPW_EV_VM_CREATE / TDPW_EV_VM_DESTROY for the
// VM key the tracepoint probes use, the VMM's tgid.
//
// Create is applied at once: the uevent is queued before KVM_CREATE_VM
// returns, so before any page event of the VM (the event loop drains the
// uevent socket before the ring buffer).  Destroy is not: the uevent comes
// at the start of kvm_destroy_vm(), before the MMU teardown whose zaps still
// have to be counted.  A tgid's VM_DESTROY is due once every VM of that tgid
// (one per STATS_PATH) has sent its destroy uevent, no event for the key has
// arrived for `quiet` (after the ring buffer was drained), and either the
// process is gone (dead or zombie: its files, so its VMs, are released) or
// `live_grace` has passed since the last destroy uevent (a VMM that closes a
// VM and lives on).
//
// Pure logic: time and the process check are passed in.  Thread safety: none.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/core/abi.h"
#include "daemon/probes/uevents.h"

namespace tdpwatch::probes {

class VmLifecycle {
 public:
  struct Config {
    std::uint64_t quiet_ns = 200'000'000;         // 200 ms without events
    std::uint64_t live_grace_ns = 2'000'000'000;  // process still alive
  };
  // tgid_of(pid): the process a (thread) pid belongs to; nullopt if gone.
  // process_gone(tgid): true once it is dead or a zombie.
  struct System {
    std::function<std::optional<int>(int pid)> tgid_of;
    std::function<bool(int tgid)> process_gone;
  };

  VmLifecycle(Config config, System system);

  // A VM that existed before the daemon started (from debugfs): its destroy
  // uevent must be matched, but no VM_CREATE is synthesized for it.
  void seed(int pid, const std::string& stats_path);
  // A uevent: returns the VM_CREATE to apply now, if any.
  std::optional<Event> on_uevent(const KvmUevent& ev, std::uint64_t now_ns);
  // A ring buffer event for VM key `vm` was applied at now_ns.
  void on_activity(std::uint64_t vm, std::uint64_t now_ns);
  // VM_DESTROYs now due (call after draining the ring buffer).
  std::vector<Event> due(std::uint64_t now_ns);

  // How many tgids have live VMs / teardowns pending (for logs and tests).
  std::size_t live_tgids() const;
  std::size_t pending_teardowns() const;

 private:
  struct Proc {
    std::set<std::string> vms;                  // live STATS_PATHs (or "pid:<pid>")
    std::optional<std::uint64_t> destroyed_ns;  // last VM's destroy uevent
    std::uint64_t last_activity_ns = 0;
  };
  static std::string vm_id(const KvmUevent& ev);

  Config config_;
  System system_;
  std::map<int, Proc> procs_;              // by tgid
  std::map<std::string, int> tgid_by_vm_;  // STATS_PATH -> tgid
};

}  // namespace tdpwatch::probes

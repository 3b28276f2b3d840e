// KVM's VM lifecycle uevents (kvm_uevent_notify_change()): on the kobject
// uevent netlink socket, "change@/devices/virtual/misc/kvm" with
// EVENT=create|destroy, PID=<kvm->userspace_pid> and
// STATS_PATH=/kvm/<pid>-<fd> (the VM's debugfs directory, debugfs-relative).
// The create uevent is sent before KVM_CREATE_VM returns the fd; the destroy
// uevent at the start of kvm_destroy_vm(), before the MMU teardown.
//
// Ownership: UeventSocket owns its socket.  Thread safety: none.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/common/unique_fd.h"

namespace tdpwatch::probes {

struct KvmUevent {
  enum class Kind : std::uint8_t { kCreate, kDestroy };
  Kind kind{};
  int pid = 0;             // PID= (the thread that created the VM: may be a TID)
  std::string stats_path;  // STATS_PATH= ("" when the kernel had no debugfs dentry)
};

// Parses one datagram ("change@...\0KEY=VALUE\0..."); nullopt for anything
// that is not a KVM create/destroy uevent.
std::optional<KvmUevent> parse_kvm_uevent(std::string_view datagram);

class UeventSocket {
 public:
  // NETLINK_KOBJECT_UEVENT, kernel multicast group 1, non-blocking.
  static Result<UeventSocket> open();
  int fd() const { return fd_.get(); }
  // Every KVM uevent waiting on the socket (others are dropped).
  std::vector<KvmUevent> drain();

 private:
  explicit UeventSocket(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace tdpwatch::probes

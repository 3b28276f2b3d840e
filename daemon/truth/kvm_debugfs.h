// KVM's per-VM statistics in debugfs: <debugfs>/kvm/<pid>-<fd>/<stat>.
//
// The kernel names each VM's directory after task_pid_nr() of the thread that
// ran KVM_CREATE_VM (a global pid; a TID if that was not the main thread) and
// the VM's fd number in that process, and removes it when the VM is
// destroyed.  The set of stat files differs per kernel, vendor and config, so
// they are read generically: every plain file whose content is one number.
//
// Thread safety: the functions keep no state; call them from any thread.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::truth {

struct VmId {
  int pid = 0;
  int fd = 0;

  std::string dir_name() const { return std::to_string(pid) + "-" + std::to_string(fd); }
  auto operator<=>(const VmId&) const = default;
};

// "<pid>-<fd>" → VmId; anything else (the global stat files) → nullopt.
std::optional<VmId> parse_vm_dir_name(std::string_view name);

// Ok when <debugfs>/kvm is a directory.  Otherwise the error says which of
// "debugfs not mounted (and how to mount it)", "KVM not loaded" or
// "permission denied" it is.
Status check_kvm_debugfs(const Paths& paths);

// Whether `dir` is the root of a mounted debugfs (statfs magic).
bool is_debugfs_mount(const std::string& dir);

// mount -t debugfs none <dir>.  Needs CAP_SYS_ADMIN.
Status mount_debugfs(const std::string& dir);

// The VMs alive now, sorted.  Fails as check_kvm_debugfs() does.
Result<std::vector<VmId>> list_vms(const Paths& paths);

// A stat file that exists but could not be read as a number.
struct UnavailableStat {
  std::string name;
  int errno_value = 0;  // EPERM, EACCES, ENOENT...; 0 when the content was not a number
  std::string reason;
};

// One scrape of one VM directory.
struct VmStats {
  VmId id;
  // The directory vanished (or was replaced) while being read: the VM was
  // destroyed.  `values` and `unavailable` are then empty, never partial.
  bool gone = false;
  // The directory's inode: tells this VM from a later one that reuses the
  // same pid and fd number (debugfs inode numbers are not reused quickly).
  std::uint64_t dir_ino = 0;
  std::map<std::string, std::uint64_t, std::less<>> values;
  // Per-file failures are recorded here, not fatal.  Expected ones: EPERM
  // (writable debugfs files are refused under kernel lockdown), EACCES
  // (not root), ENOENT (file removed between listing and opening).
  std::vector<UnavailableStat> unavailable;

  // The stat file `name`'s value, if it was read.
  std::optional<std::int64_t> value(std::string_view name) const {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return static_cast<std::int64_t>(it->second);
  }
};

// Reads every stat file of one VM.  Errors only when the directory exists but
// cannot be opened or listed; a missing directory is `gone`, not an error.
Result<VmStats> read_vm_stats(const Paths& paths, const VmId& id);

}  // namespace tdpwatch::truth

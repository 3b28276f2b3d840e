// Who a VM belongs to: the process named in its debugfs directory, from
// <procfs>/<pid>/{comm,cmdline,status,cgroup}: for QEMU the guest's own name
// and UUID from its command line (-name guest=NAME,... / -name NAME, -uuid
// UUID), and the libvirt domain from its cgroup.
//
// The pid may be a thread id (the thread that created the VM): /proc/<tid>/
// resolves for threads too, and `tgid` names the process.  The pid is global,
// so a daemon in its own pid namespace needs the host's /proc as --path.procfs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::truth {

struct QemuIdentity {
  std::optional<std::string> name;  // -name guest=NAME / -name NAME
  std::optional<std::string> uuid;  // -uuid UUID
};

struct ProcIdentity {
  int pid = 0;
  int tgid = 0;  // 0 if <procfs>/<pid>/status had no Tgid line
  std::string comm;
  std::vector<std::string> argv;  // empty for kernel threads and zombies
  QemuIdentity qemu;              // only filled for QEMU processes
  // The libvirt domain, from <procfs>/<pid>/cgroup (libvirt_cgroup.h); the
  // exact QEMU guest name when the cgroup's sanitized copy matches it.
  std::optional<std::string> libvirt_domain;
};

// Splits /proc/<pid>/cmdline (NUL-separated, usually NUL-terminated).
std::vector<std::string> split_cmdline(std::string_view raw);

// Whether the process is QEMU (comm or argv[0]'s basename starts with "qemu"):
// other VMMs give -name other meanings.
bool is_qemu(std::string_view comm, const std::vector<std::string>& argv);

// QEMU's -name/-uuid from argv, following its option syntax: "-opt" or
// "--opt"; -name's value is a QemuOpts list where the first element may omit
// its key ("guest"), ",," is a literal comma, and the last occurrence wins.
QemuIdentity parse_qemu_identity(const std::vector<std::string>& argv);

// Fails when the process is gone (ENOENT) or comm cannot be read; cmdline,
// status and cgroup are best effort.
Result<ProcIdentity> read_proc_identity(const Paths& paths, int pid);

}  // namespace tdpwatch::truth

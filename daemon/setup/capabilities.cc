#include "daemon/setup/capabilities.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "daemon/truth/sysfile.h"

namespace tdpwatch::setup {
namespace {

// Capability names as capabilities(7) spells them, by number.
// clang-format off
constexpr const char* kNames[] = {
    "cap_chown",          "cap_dac_override",    "cap_dac_read_search",  "cap_fowner",
    "cap_fsetid",         "cap_kill",            "cap_setgid",           "cap_setuid",
    "cap_setpcap",        "cap_linux_immutable", "cap_net_bind_service", "cap_net_broadcast",
    "cap_net_admin",      "cap_net_raw",         "cap_ipc_lock",         "cap_ipc_owner",
    "cap_sys_module",     "cap_sys_rawio",       "cap_sys_chroot",       "cap_sys_ptrace",
    "cap_sys_pacct",      "cap_sys_admin",       "cap_sys_boot",         "cap_sys_nice",
    "cap_sys_resource",   "cap_sys_time",        "cap_sys_tty_config",   "cap_mknod",
    "cap_lease",          "cap_audit_write",     "cap_audit_control",    "cap_setfcap",
    "cap_mac_override",   "cap_mac_admin",       "cap_syslog",           "cap_wake_alarm",
    "cap_block_suspend",  "cap_audit_read",      "cap_perfmon",          "cap_bpf",
    "cap_checkpoint_restore"};
// clang-format on
constexpr int kKnown = static_cast<int>(sizeof kNames / sizeof kNames[0]);

constexpr CapMask bit(int cap) {
  return CapMask{1} << cap;
}

int last_cap() {
  if (auto t = truth::read_file("/proc/sys/kernel/cap_last_cap")) {
    if (auto v = truth::parse_u64(truth::trim(*t)); v && *v < 64) return static_cast<int>(*v);
  }
  return kKnown - 1;
}

// (major, minor) of a release such as "6.1.0-27-amd64".
std::pair<int, int> version_of(const std::string& release) {
  int major = 0, minor = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &major, &minor) != 2) return {0, 0};
  return {major, minor};
}

}  // namespace

Result<CapMask> effective_caps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return errno_error("capget", errno);
  return CapMask{data[0].effective} | (CapMask{data[1].effective} << 32);
}

std::string cap_names(CapMask caps) {
  std::string out;
  for (int c = 0; c < 64; ++c) {
    if ((caps & bit(c)) == 0) continue;
    if (!out.empty()) out += ',';
    out += c < kKnown ? kNames[c] : "cap_" + std::to_string(c);
  }
  return out.empty() ? "none" : out;
}

Status check_probe_caps(CapMask effective) {
  const CapMask needed = bit(CAP_BPF) | bit(CAP_PERFMON);
  if ((effective & bit(CAP_SYS_ADMIN)) != 0 || (effective & needed) == needed) return {};
  return Error{"tdpwatchd lacks the capabilities to load its eBPF probes (missing " +
               cap_names(needed & ~effective) +
               "; needs cap_bpf and cap_perfmon, or cap_sys_admin" +
               "): run it as root with its full capability set (not under a reduced bounding "
               "set), or pass --no-probes to watch debugfs and meminfo only"};
}

CapMask steady_state_caps(bool probes, const std::string& kernel_release, const std::string& procfs,
                          std::string& why) {
  if (!probes) {
    why = "no probes: nothing to keep";
    return 0;
  }
  const auto [major, minor] = version_of(kernel_release);
  const bool checks_every_command = major < 6 || (major == 6 && minor < 5);
  std::string disabled = "?";
  if (auto t = truth::read_file(procfs + "/sys/kernel/unprivileged_bpf_disabled")) {
    disabled = std::string(truth::trim(*t));
  }
  if (checks_every_command && disabled != "0") {
    why = "cap_bpf: kernel " + kernel_release +
          " (before 6.5) checks it on every bpf() command, map reads included, while "
          "kernel.unprivileged_bpf_disabled=" +
          disabled;
    return bit(CAP_BPF);
  }
  why = "kernel " + kernel_release + " reads BPF maps through open fds without a capability";
  return 0;
}

Status drop_caps(CapMask keep) {
  auto effective = effective_caps();
  if (!effective) return effective.error();
  if ((*effective & bit(CAP_SETPCAP)) != 0) {
    for (int c = 0; c <= last_cap(); ++c) {
      if ((keep & bit(c)) != 0) continue;
      if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) {
        return errno_error("prctl(PR_CAPBSET_DROP, " + cap_names(bit(c)) + ")", errno);
      }
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return errno_error("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", errno);
  }
  const CapMask kept = keep & *effective;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  data[0].effective = data[0].permitted = static_cast<std::uint32_t>(kept);
  data[1].effective = data[1].permitted = static_cast<std::uint32_t>(kept >> 32);
  if (::syscall(SYS_capset, &header, data) != 0) return errno_error("capset", errno);
  return {};
}

void drop_unneeded_caps(bool probes, const std::string& kernel_release, const std::string& procfs) {
  std::string why;
  const CapMask keep = steady_state_caps(probes, kernel_release, procfs, why);
  if (auto s = drop_caps(keep); !s) {
    spdlog::warn("capabilities: could not drop them ({}); running on with them", s.error().message);
    return;
  }
  const auto now = effective_caps();
  spdlog::info("capabilities: dropped every one the steady state does not need; kept: {} ({})",
               now ? cap_names(*now) : "?", why);
}

}  // namespace tdpwatch::setup

// The libvirt domain a process belongs to, from its /proc/<pid>/cgroup.
//
// libvirt puts each QEMU domain in a cgroup named after its machine name
// "qemu-<id>-<name>" (virDomainDriverGenerateMachineName: the name keeps
// only [A-Za-z0-9-.], no leading or repeated '-'/'.', at most 64 bytes in
// all).  Under systemd that is the scope unit
// "machine.slice/machine-qemu\x2d<id>\x2d<name>.scope" (unit-name escaping:
// '-' inside a name is \x2d); without systemd, "machine/qemu-<id>-<name>.libvirt-qemu".
// Libvirt before 3.x left out the id.  Any controller line (cgroup v1) or
// the v2 line may carry it, with sub-cgroups (/libvirt/emulator, /vcpu0)
// below it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tdpwatch::truth {

// systemd's unit-name unescaping: \xNN is the byte NN; nothing else changes.
std::string systemd_unescape(std::string_view s);

// The domain's name as libvirt's machine name spells it, from the text of
// /proc/<pid>/cgroup; nullopt when the process is in no libvirt QEMU cgroup.
std::optional<std::string> libvirt_domain_from_cgroup(std::string_view cgroup);

// libvirt's machine-name form of a domain name (the characters it keeps,
// without the 64-byte limit): lets the exact QEMU -name guest= value stand
// in for the cgroup's sanitized, maybe truncated, copy of it.
std::string libvirt_machine_name_part(std::string_view name);

// The domain name to show: `qemu_guest` (QEMU's -name guest=, exact) when its
// machine-name form is the cgroup's `from_cgroup` (or, from_cgroup being
// long enough to have been cut at 64 bytes, starts with it), else from_cgroup.
std::string libvirt_domain_name(const std::string& from_cgroup,
                                const std::optional<std::string>& qemu_guest);

}  // namespace tdpwatch::truth

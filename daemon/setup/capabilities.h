// Capabilities: which ones the start needs (checked up front, for one clear
// error instead of a libbpf dump), and dropping every one the steady state
// does not need once the probes are attached and the listener is bound.
//
// What the steady state does, and why it needs no capability on a 6.5+
// kernel when tdpwatchd runs as uid 0 (measured on 6.18; the host test
// ops_host_test checks it):
//  - BPF maps and the ring buffer, through fds opened at start: since 6.5
//    (commit "bpf: move unprivileged checks into map_create() and
//    bpf_prog_load()") only creating maps and loading programs check
//    CAP_BPF; older kernels check it on every bpf() command while
//    kernel.unprivileged_bpf_disabled is set (Debian's default is 2), so
//    there CAP_BPF is kept;
//  - /proc/<pid>/{comm,cmdline,status,cgroup} of the VMMs, /proc/meminfo:
//    world-readable;
//  - debugfs (/sys/kernel/debug is 0700 root): readable as its owner, uid 0,
//    without CAP_DAC_OVERRIDE;
//  - the KVM uevent socket and the HTTP listener: bound at start; receiving
//    and accepting need nothing;
//  - --record and --status-file: the recording is open; the status file is
//    rewritten in its directory as uid 0 (a directory root does not own
//    needs CAP_DAC_OVERRIDE, which is not kept: put it in one root owns).
// The bounding set is emptied too, so nothing the daemon might exec regains
// them.  Thread safety: process-wide state; call from the main thread.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/common/result.h"

namespace tdpwatch::setup {

using CapMask = std::uint64_t;  // bit n: capability n (CAP_BPF = 39)

// The effective set, or an error if capget fails.
Result<CapMask> effective_caps();

// "cap_bpf,cap_perfmon"; "none" for 0.
std::string cap_names(CapMask caps);

// Fails with one line saying what is missing and what to do when the
// effective set cannot load tracing BPF programs (CAP_BPF and CAP_PERFMON,
// or CAP_SYS_ADMIN).
Status check_probe_caps(CapMask effective);

// What to keep after start: with probes, CAP_BPF on kernels before 6.5 with
// unprivileged_bpf_disabled set; else nothing.  `why` says why.
CapMask steady_state_caps(bool probes, const std::string& kernel_release, const std::string& procfs,
                          std::string& why);

// Drops every capability but `keep` from the effective, permitted and
// inheritable sets, the ambient set and (when CAP_SETPCAP is still
// effective) the bounding set.
Status drop_caps(CapMask keep);

// steady_state_caps + drop_caps + one info line naming the kept set (a
// failure is a warning: the daemon runs on with its capabilities).
void drop_unneeded_caps(bool probes, const std::string& kernel_release, const std::string& procfs);

}  // namespace tdpwatch::setup

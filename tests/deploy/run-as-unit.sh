#!/usr/bin/env bash
# run-as-unit.sh UNIT PROGRAM [ARGS...]
#
# Runs PROGRAM under a systemd unit's [Service] sandbox, as far as that is
# possible without systemd as PID 1 (this CI host): a private mount
# namespace with ProtectSystem=strict (everything read-only but /dev, /proc,
# /sys, and /sys and /proc/sys read-only too for ProtectKernelTunables=),
# PrivateTmp=, ProtectHome=, RuntimeDirectory=, then setpriv(1) with the
# unit's CapabilityBoundingSet=, AmbientCapabilities=, SecureBits= and
# NoNewPrivileges=, and its UMask=.  Not emulated: SystemCallFilter=,
# RestrictAddressFamilies=, DevicePolicy= (need systemd's seccomp/BPF set-up).
#
# /run is a fresh tmpfs in the namespace (nothing is created in the host's);
# PROGRAM, which may live under /tmp (a build tree), is bind-mounted to
# /run/tdpw-unit-exec before /tmp is made private.  exec()s all the way, so
# the caller's child pid is PROGRAM's pid.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 UNIT PROGRAM [ARGS...]" >&2
  exit 2
fi
unit=$1
prog=$(readlink -f "$2")
shift 2
[ -r "$unit" ] || { echo "run-as-unit: cannot read unit $unit" >&2; exit 2; }
[ -x "$prog" ] || { echo "run-as-unit: $prog is not executable" >&2; exit 2; }

# The last assignment of KEY= in [Service] (systemd: later ones win; an empty
# one resets, which these settings do not use).
get() {
  awk -v key="$1" '/^\[/{s=($0=="[Service]")} s && index($0, key "=")==1 {v=substr($0, length(key)+2)} END{print v}' "$unit"
}
# "CAP_BPF CAP_PERFMON" -> "+bpf,+perfmon"
caps() {
  local out="" c
  for c in $1; do c=${c#CAP_}; out+=",+${c,,}"; done
  echo "${out#,}"
}

bounding=$(caps "$(get CapabilityBoundingSet)")
ambient=$(caps "$(get AmbientCapabilities)")
setpriv_args=(--bounding-set "-all${bounding:+,$bounding}" --inh-caps "-all${ambient:+,$ambient}"
              --ambient-caps "-all${ambient:+,$ambient}")
[ "$(get NoNewPrivileges)" = yes ] && setpriv_args+=(--no-new-privs)
securebits=""
for b in $(get SecureBits); do securebits+=",+${b//-/_}"; done
[ -n "$securebits" ] && setpriv_args+=(--securebits "${securebits#,}")
umask_value=$(get UMask)
runtime_dir=$(get RuntimeDirectory)

export RAU_PROG=$prog RAU_UMASK=${umask_value:-0022} RAU_RUNTIME=$runtime_dir
RAU_STRICT=$(get ProtectSystem)
RAU_TMP=$(get PrivateTmp)
RAU_HOME=$(get ProtectHome)
RAU_TUNABLES=$(get ProtectKernelTunables)
export RAU_STRICT RAU_TMP RAU_HOME RAU_TUNABLES
exec unshare --mount --propagation private -- bash -euo pipefail -c '
  # A private /run (nothing is created in the host'"'"'s), holding the program.
  mount -t tmpfs -o mode=0755 tmpfs /run
  exe=/run/tdpw-unit-exec
  : > "$exe"
  mount --bind "$RAU_PROG" "$exe"
  [ -n "$RAU_RUNTIME" ] && mkdir -p "/run/$RAU_RUNTIME"
  if [ "$RAU_STRICT" = strict ]; then
    # Every mount read-only, except the API file systems.
    findmnt -rn -o TARGET | while read -r t; do
      t=$(printf "%b" "$t")
      case "$t" in /dev|/dev/*|/proc|/proc/*|/sys|/sys/*) continue ;; esac
      mount -o remount,bind,ro "$t" 2>/dev/null || true
    done
  fi
  if [ "$RAU_TUNABLES" = yes ]; then
    # /sys and every mount below it (debugfs, tracefs, ...), and /proc/sys.
    findmnt -rn -o TARGET | while read -r t; do
      t=$(printf "%b" "$t")
      case "$t" in /sys|/sys/*) mount -o remount,bind,ro "$t" 2>/dev/null || true ;; esac
    done
    mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
    for t in /proc/kallsyms /proc/kcore; do
      [ -e "$t" ] && mount --bind /dev/null "$t"
    done
  fi
  [ -n "$RAU_RUNTIME" ] && mount -t tmpfs -o mode=0750 tmpfs "/run/$RAU_RUNTIME"
  if [ "$RAU_TMP" = yes ]; then
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    [ -d /var/tmp ] && mount -t tmpfs -o mode=1777 tmpfs /var/tmp
  fi
  if [ "$RAU_HOME" = yes ]; then
    for t in /home /root /run/user; do
      [ -d "$t" ] && mount -t tmpfs -o ro,mode=000 tmpfs "$t"
    done
  fi
  umask "$RAU_UMASK"
  cd /
  exec setpriv "$@"
' run-as-unit "${setpriv_args[@]}" -- /run/tdpw-unit-exec "$@"

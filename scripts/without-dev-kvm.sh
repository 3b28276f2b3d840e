#!/usr/bin/env bash
# without-dev-kvm.sh [--no-kvm-module] COMMAND [ARG...]
#
# Runs COMMAND as it would run on a machine whose kernel has KVM but no
# /dev/kvm (built in without a usable vendor backend, or a container without
# the device): in a private mount namespace whose /dev is a copy of this one
# without kvm.  With --no-kvm-module, /sys/module lacks kvm and its vendor
# modules too, as before `modprobe kvm_intel` on a modular kernel; the real
# /sys stays reachable in the namespace at /dev/.tdpw-real-sys, so a test can
# "load" KVM later:
#   nsenter -t PID -m -- sh -c 'mkdir /sys/module/kvm &&
#     mount --bind /dev/.tdpw-real-sys/module/kvm /sys/module/kvm'
# Nothing outside the namespace changes.  On a machine without /dev/kvm it
# changes nothing that matters.  Needs root (unshare, mount).
#
#   sudo ./scripts/without-dev-kvm.sh ./scripts/test.sh   # the suite as such a machine runs it
set -euo pipefail
hide_module=0
if [ "${1:-}" = --no-kvm-module ]; then
  hide_module=1
  shift
fi
[ "$(id -u)" -eq 0 ] || { echo "without-dev-kvm: needs root (a mount namespace)" >&2; exit 2; }
[ $# -gt 0 ] || { echo "usage: $0 [--no-kvm-module] COMMAND [ARG...]" >&2; exit 2; }
exec unshare --mount --propagation private -- bash -euo pipefail -c '
  hide_module=$1
  shift
  # /dev without kvm: device nodes and links copied, mounts under /dev bound.
  dev=$(mktemp -d /tmp/tdpw-dev.XXXXXX)
  mount -t tmpfs -o mode=0755,size=1m tdpw-dev "$dev"
  for e in /dev/* /dev/.[!.]*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    name=${e#/dev/}
    [ "$name" = kvm ] && continue
    if mountpoint -q "$e"; then
      mkdir -p "$dev/$name"
      mount --rbind "$e" "$dev/$name"
    else
      cp -a "$e" "$dev/"
    fi
  done
  mount --move "$dev" /dev
  rmdir "$dev" 2>/dev/null || true
  if [ "$hide_module" = 1 ]; then
    # /sys with a /sys/module that lacks KVM: every other entry bound.
    # Staged in the private /dev, so nothing is left on the host file system.
    real=/dev/.tdpw-real-sys
    mkdir "$real"
    mount --rbind /sys "$real"
    fake=/dev/.tdpw-fake-sys
    mkdir "$fake"
    mount -t tmpfs -o mode=0755 tdpw-sys "$fake"
    for e in "$real"/*; do
      name=${e##*/}
      mkdir "$fake/$name"
      [ "$name" = module ] || mount --rbind "$e" "$fake/$name"
    done
    mount -t tmpfs -o mode=0755 tdpw-module "$fake/module"
    for m in "$real"/module/*; do
      name=${m##*/}
      case $name in kvm | kvm_intel | kvm_amd | kvm_pvm) continue ;; esac
      mkdir "$fake/module/$name"
      mount --rbind "$m" "$fake/module/$name"
    done
    mount --move "$fake" /sys
    rmdir "$fake" 2>/dev/null || true
  fi
  exec "$@"
' without-dev-kvm "$hide_module" "$@"

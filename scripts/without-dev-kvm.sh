#!/usr/bin/env bash
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "without-dev-kvm: needs root (a mount namespace)" >&2; exit 2; }
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
exec unshare --mount --propagation private -- bash -euo pipefail -c '
  dev=$(mktemp -d /tmp/tdpw-dev.XXXXXX)
  mount -t tmpfs -o mode=0755,size=1m tdpw-dev "$dev"
  for e in /dev/* /dev/.[!.]*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    name=${e#/dev/}
    [ "$name" = kvm ] && continue
    if mountpoint -q "$e"; then mkdir -p "$dev/$name"; mount --rbind "$e" "$dev/$name"; continue; fi
    cp -a "$e" "$dev/"
  done
  mount --move "$dev" /dev
  rmdir "$dev" 2>/dev/null || true
  exec "$@"
' without-dev-kvm "$@"

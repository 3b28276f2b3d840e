#!/usr/bin/env bash
# build-box-initramfs.sh KERNEL_DIR OUT
#
# The nested host's initramfs (tests/nested-host/README.md): just enough to
# mount the root file system and hand over to systemd.  Debian builds
# virtio_blk and ext4 as modules (and, on 6.1, virtio_pci), so the kernel
# cannot mount root=/dev/vda alone.  Holds busybox-static, those modules with
# their modinfo dependencies (decompressed, in load order) and crc32c_generic
# (ext4's checksums: the kernel would ask a modprobe the initramfs has not),
# and an /init that loads them, mounts root= (default /dev/vda) read-write
# and switch_roots to /sbin/init.  The real root has the kernel's whole
# module tree (build-rootfs.sh --kernel).  On failure /init says so on the
# console and drops to a busybox shell.
set -euo pipefail
die() { echo "build-box-initramfs: error: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: $0 KERNEL_DIR OUT"
kdir=$1 out=$2
# shellcheck source=initramfs-lib.sh
. "$(dirname "$0")/initramfs-lib.sh"
initramfs_stage "$kdir"
mkdir -p "$stage/newroot"
for m in virtio_pci virtio_blk crc32c_generic ext4; do initramfs_add "$m"; done

cat >"$stage/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "tdpw-box-initramfs: $*: a shell (exit to retry switch_root)"; sh; }
for m in $(cat /lib/box/load); do
  insmod "/lib/box/$m" 2>/dev/null || grep -q "^${m%.ko} " /proc/modules || echo "tdpw-box-initramfs: insmod $m failed"
done
root=/dev/vda
for a in $(cat /proc/cmdline); do case $a in root=*) root=${a#root=} ;; esac; done
i=0
while [ ! -b "$root" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b "$root" ] || fail "no $root after 10 s"
mount -t ext4 -o rw "$root" /newroot || fail "mount $root"
umount /sys /proc
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
EOF
initramfs_pack "$out"

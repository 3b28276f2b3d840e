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
export PATH=$PATH:/usr/sbin:/sbin
for tool in cpio gzip modinfo xz; do command -v "$tool" >/dev/null || die "$tool not found"; done
busybox=$(readlink -f "$(command -v busybox || true)")
[ -x "$busybox" ] || die "busybox not found (package busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is dynamic: install busybox-static"; fi
release=$(sed -n 's/^RELEASE="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$kdir/kernel.env")
modtree=$(find "$kdir/lib/modules" "$kdir/usr/lib/modules" -maxdepth 1 -mindepth 1 -type d -name "$release" 2>/dev/null | head -n 1 || true)
[ -n "$modtree" ] || die "no lib/modules/$release under $kdir"

stage=$(mktemp -d /tmp/tdpw-box-initramfs.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,lib/box}
cp "$busybox" "$stage/bin/busybox"

# add NAME: NAME.ko after its dependencies; a module built in is no error.
add() {
  local f dep
  grep -qx "$1.ko" "$stage/lib/box/load" 2>/dev/null && return 0
  f=$(find "$modtree" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" \) | head -n 1)
  if [ -z "$f" ]; then
    grep -q "/$1.ko\$" "$modtree/modules.builtin" 2>/dev/null && return 0
    die "module $1 neither in $modtree nor built in"
  fi
  for dep in $(modinfo -F depends "$f" | tr ',' ' '); do add "$dep"; done
  case $f in
    *.xz) xz -dc "$f" >"$stage/lib/box/$1.ko" ;;
    *.zst) zstd -qdc "$f" >"$stage/lib/box/$1.ko" ;;
    *) cp "$f" "$stage/lib/box/$1.ko" ;;
  esac
  echo "$1.ko" >>"$stage/lib/box/load"
}
: >"$stage/lib/box/load"
for m in virtio_pci virtio_blk crc32c_generic ext4; do add "$m"; done

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
chmod 0755 "$stage/init"
(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
echo "build-box-initramfs: $out $(( $(stat -c %s "$out") / 1024 )) KiB: $(tr '\n' ' ' <"$stage/lib/box/load")" >&2

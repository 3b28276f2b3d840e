# initramfs-lib.sh: what the box's initramfs (build-box-initramfs.sh) and its
# guests' (build-guest-initramfs.sh) share: a staging tree with busybox-static,
# Debian kernel modules added with their modinfo dependencies (decompressed,
# in load order, listed in lib/box/load), and the cpio packing.  Sourced by
# bash scripts with `set -euo pipefail` and a die() function.

# initramfs_stage KERNEL_DIR: sets $stage (a temporary tree, removed on exit)
# and $modtree (the kernel's module tree in the cache).
initramfs_stage() {
  local kdir=$1 busybox release tool
  export PATH=$PATH:/usr/sbin:/sbin
  for tool in cpio gzip modinfo xz; do command -v "$tool" >/dev/null || die "$tool not found"; done
  busybox=$(readlink -f "$(command -v busybox || true)")
  [ -x "$busybox" ] || die "busybox not found (package busybox-static)"
  if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is dynamic: install busybox-static"; fi
  release=$(sed -n 's/^RELEASE="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$kdir/kernel.env")
  modtree=$(find "$kdir/lib/modules" "$kdir/usr/lib/modules" -maxdepth 1 -mindepth 1 -type d -name "$release" 2>/dev/null | head -n 1 || true)
  [ -n "$modtree" ] || die "no lib/modules/$release under $kdir"
  stage=$(mktemp -d /tmp/tdpw-initramfs.XXXXXX)
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage"/{bin,dev,proc,sys,lib/box}
  cp "$busybox" "$stage/bin/busybox"
  : >"$stage/lib/box/load"
}

# initramfs_add NAME: NAME.ko after its dependencies; a module built in is no error.
initramfs_add() {
  local f dep
  grep -qx "$1.ko" "$stage/lib/box/load" 2>/dev/null && return 0
  f=$(find "$modtree" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" \) | head -n 1)
  if [ -z "$f" ]; then
    grep -q "/$1.ko\$" "$modtree/modules.builtin" 2>/dev/null && return 0
    die "module $1 neither in $modtree nor built in"
  fi
  for dep in $(modinfo -F depends "$f" | tr ',' ' '); do initramfs_add "$dep"; done
  case $f in
    *.xz) xz -dc "$f" >"$stage/lib/box/$1.ko" ;;
    *.zst) zstd -qdc "$f" >"$stage/lib/box/$1.ko" ;;
    *) cp "$f" "$stage/lib/box/$1.ko" ;;
  esac
  echo "$1.ko" >>"$stage/lib/box/load"
}

# initramfs_pack OUT: the staged tree (with its /init) as a gzip'd newc cpio.
initramfs_pack() {
  chmod 0755 "$stage/init"
  (cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$1.tmp"
  mv "$1.tmp" "$1"
  echo "$(basename "$0"): $1 $(( $(stat -c %s "$1") / 1024 )) KiB: $(tr '\n' ' ' <"$stage/lib/box/load")" >&2
}

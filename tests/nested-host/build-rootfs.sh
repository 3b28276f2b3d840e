#!/usr/bin/env bash
# build-rootfs.sh [--kernel KERNEL_DIR] [--mirror URL] [--force]
#
# The nested Debian host's root file system (tests/nested-host/README.md):
# a minbase debootstrap of Debian 12 (bookworm) from this machine's
# configured Debian mirror, then packages.list installed with apt-get
# --no-install-recommends (bookworm, bookworm-updates, bookworm-security),
# then image/ copied over it (units, the console autologin, modprobe options)
# and a few settings.  Cached as
#   $TDPW_ROOTFS_CACHE/bookworm-<key>/tree/      (default /var/cache/tdpwatch/rootfs)
#   $TDPW_ROOTFS_CACHE/bookworm-<key>/tree.ok    stamp, written last
# where <key> hashes packages.list, image/ and this script: any change to
# them builds a new tree (and removes the older keys' directories).  A tree without its stamp (a build cut short) is
# removed and built again, never used.
#
# With --kernel KERNEL_DIR (a kernel of scripts/kernels/fetch-debian-kernels.sh's
# cache, e.g. /var/cache/tdpwatch/kernels/6.12), also packs the bootable
# image: the tree plus that kernel's /lib/modules/<release> (depmod'ed), as
# a raw ext4 file system, $dir/<release>.img (stamp <release>.img.ok),
# booted as root=/dev/vda by run-box.sh (which boots it -snapshot: the image
# is never written).  The last line of stdout is the image's path (or the
# tree's without --kernel).
#
# The mirror is the first Debian archive in /etc/apt/sources.list{,.d/*}
# serving bookworm (override: --mirror or $TDPW_DEBIAN_MIRROR), security
# updates from its debian-security sibling.  Needs root and debootstrap.
# Exits 77 when debootstrap is missing or the archive cannot be reached (a
# test reports that as not run), 1 on any other failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TDPW_ROOTFS_CACHE:-/var/cache/tdpwatch/rootfs}
suite=bookworm
kdir='' mirror=${TDPW_DEBIAN_MIRROR:-} force=0
die() { echo "build-rootfs: error: $*" >&2; exit 1; }
skip() { echo "build-rootfs: cannot build: $*" >&2; exit 77; }
log() { echo "build-rootfs: $*" >&2; }
secs() { awk "BEGIN{printf \"%.1f\", $2 - $1}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) kdir=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, file ownership)"
export PATH=$PATH:/usr/sbin:/sbin
command -v debootstrap >/dev/null || skip "debootstrap not installed (apt-get install debootstrap; scripts/install-deps.sh)"
command -v mke2fs >/dev/null || die "mke2fs not found (e2fsprogs)"

# The configured Debian mirror: one-line and deb822 sources alike.
find_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    case $f in
      *.sources)
        awk -v s="$suite" '
          /^[ \t]*$/ { if (u != "" && ok) { print u; exit } u = ""; ok = 0; next }
          /^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { u = $i; break } }
          /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
          END { if (u != "" && ok) print u }' "$f" ;;
      *) awk -v s="$suite" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) break;
            if ($(i + 1) == s && $i !~ /security/) print $i }' "$f" ;;
    esac
  done | head -n 1
}
[ -n "$mirror" ] || mirror=$(find_mirror)
[ -n "$mirror" ] || skip "no Debian mirror serving $suite in /etc/apt/sources.list* (give --mirror URL)"
mirror=${mirror%/}
security=${TDPW_DEBIAN_SECURITY_MIRROR:-${mirror%/debian}/debian-security}

packages=$(sed 's/#.*//' "$here/packages.list" | tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//')
[ -n "$packages" ] || die "packages.list lists nothing"
key=$( { cat "$here/packages.list" "$0"; (cd "$here/image" && find . -type f | LC_ALL=C sort | xargs sha256sum); } |
  sha256sum | cut -c1-16)
dir=$cache/$suite-$key
mkdir -p "$dir"
exec 8>"$dir/.lock"
flock -w 3600 8 || die "another build-rootfs holds $dir/.lock"

build_tree() {
  local t0 t1 t2 t3
  tmp=$dir/tree.tmp
  umount "$tmp/proc" 2>/dev/null || true
  rm -rf --one-file-system "$tmp" "$dir/tree" "$dir/tree.ok" "$dir"/*.img "$dir"/*.img.ok
  # The archive must answer before anything is built (a test skips).
  curl -fsS --max-time 30 -o /dev/null "$mirror/dists/$suite/Release" ||
    skip "the Debian archive $mirror does not answer ($mirror/dists/$suite/Release)"
  log "debootstrap --variant=minbase $suite from $mirror into $tmp"
  t0=$(date +%s.%N)
  debootstrap --variant=minbase --arch=amd64 "$suite" "$tmp" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
    die "debootstrap failed: $(tail -n 5 "$dir/debootstrap.log"; tail -n 5 "$tmp/debootstrap/debootstrap.log" 2>/dev/null)"
  t1=$(date +%s.%N)

  # apt in the chroot: the same archive, no service started by a postinst.
  cat >"$tmp/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod 0755 "$tmp/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
  mount -t proc proc "$tmp/proc"
  trap 'umount "$tmp/proc" 2>/dev/null || true' EXIT
  # shellcheck disable=SC2086
  if ! chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C \
    sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $packages && apt-get clean" \
    >"$dir/apt.log" 2>&1; then
    die "apt-get in the chroot failed: $(tail -n 15 "$dir/apt.log")"
  fi
  t2=$(date +%s.%N)

  # The box's settings: image/ over the tree, units enabled, root without a
  # password (a test box on a serial console), a machine-id made at each boot.
  cp -a "$here/image/." "$tmp/"
  chroot "$tmp" systemctl enable tdpw-box.service tdpw.mount >>"$dir/apt.log" 2>&1 ||
    die "systemctl enable in the chroot: $(tail -n 5 "$dir/apt.log")"
  # Nothing periodic in a short-lived box.
  chroot "$tmp" systemctl disable apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
    dpkg-db-backup.timer logrotate.timer man-db.timer >>"$dir/apt.log" 2>&1 || true
  chroot "$tmp" passwd -d root >/dev/null
  : >"$tmp/etc/machine-id"
  rm -f "$tmp/var/lib/dbus/machine-id" "$tmp/usr/sbin/policy-rc.d" "$tmp/etc/resolv.conf"
  umount "$tmp/proc"
  trap - EXIT
  # Package list as installed, for the README and for debugging.
  # shellcheck disable=SC2016
  chroot "$tmp" dpkg-query -W -f='${Package} ${Version}\n' >"$dir/installed.txt"
  mv "$tmp" "$dir/tree"
  t3=$(date +%s.%N)
  printf 'mirror=%s\nkey=%s\ndebootstrap_s=%s\napt_s=%s\ntotal_s=%s\npackages=%s\nsize=%s\n' \
    "$mirror" "$key" "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")" "$(secs "$t0" "$t3")" \
    "$(wc -l <"$dir/installed.txt")" "$(du -sh "$dir/tree" | cut -f1)" >"$dir/tree.ok.tmp"
  mv "$dir/tree.ok.tmp" "$dir/tree.ok"
  log "tree built: $(tr '\n' ' ' <"$dir/tree.ok")"
}

# Trees of an older key are garbage once a new one is built (about 3 GB each
# with an image), unless a build or a box holds them (their lock).
prune_old() {
  local old
  for old in "$cache/$suite"-*; do
    # shellcheck disable=SC2015
    [ -d "$old" ] && [ "$old" != "$dir" ] || continue
    ( flock -n 7 || exit 0
      umount "$old/tree.tmp/proc" 2>/dev/null || true
      rm -rf --one-file-system "$old" && log "removed the outdated $old" ) 7>"$old/.lock"
  done
}

if [ "$force" = 1 ] || [ ! -f "$dir/tree.ok" ] || [ ! -d "$dir/tree" ]; then
  build_tree
  prune_old
else
  log "cached tree $dir/tree ($(grep -E '^(total_s|size|packages)=' "$dir/tree.ok" | tr '\n' ' '))"
fi
[ -n "$kdir" ] || { echo "$dir/tree"; exit 0; }

# The bootable image for one kernel: the tree (hard-linked, not copied) plus
# the kernel's modules, packed by mke2fs -d (no loop device, no mount).
[ -f "$kdir/kernel.env" ] || die "$kdir/kernel.env missing (scripts/kernels/fetch-debian-kernels.sh)"
release=$(sed -n 's/^RELEASE="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$kdir/kernel.env")
[ -n "$release" ] || die "no RELEASE in $kdir/kernel.env"
modtree=$(find "$kdir/lib/modules" "$kdir/usr/lib/modules" -maxdepth 1 -mindepth 1 -type d -name "$release" 2>/dev/null | head -n 1 || true)
[ -n "$modtree" ] || die "no lib/modules/$release under $kdir"
img=$dir/$release.img
if [ "$force" = 1 ] || [ ! -f "$img.ok" ] || [ ! -f "$img" ]; then
  t0=$(date +%s.%N)
  rm -f "$img" "$img.ok"
  stage=$dir/stage.$release
  rm -rf "$stage"
  cp -al "$dir/tree" "$stage"
  mkdir -p "$stage/usr/lib/modules"
  cp -a "$modtree" "$stage/usr/lib/modules/$release"
  depmod -b "$stage" "$release" || die "depmod -b $stage $release"
  # Room for the box's own writes (logs, libvirt, a guest's files): 1.5 GiB.
  mb=$(( $(du -sm "$stage" | cut -f1) * 12 / 10 + 1536 ))
  mke2fs -q -t ext4 -L tdpw-box -d "$stage" "$img.tmp" "${mb}M" || die "mke2fs -d $stage"
  rm -rf "$stage"
  mv "$img.tmp" "$img"
  printf 'release=%s\nsize_mb=%s\npack_s=%s\n' "$release" "$mb" "$(secs "$t0" "$(date +%s.%N)")" >"$img.ok"
  log "image $img: $(tr '\n' ' ' <"$img.ok")"
else
  log "cached image $img"
fi
echo "$img"

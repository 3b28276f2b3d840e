#!/usr/bin/env bash
# build-initramfs.sh KERNEL_DIR BIN_DIR OUT
#
# Builds the nested bed's initramfs (gzip'd newc cpio) for one kernel of the
# cache that scripts/kernels/fetch-debian-kernels.sh lays out:
#   /bin/busybox          busybox-static, a real file (applets linked at boot)
#   /bin/tdpwatchd        the daemon (debug info stripped), with its shared
#                         libraries and the dynamic loader (from ldd)
#   /bin/tdpwatch         the CLI (tdpwatch audit), likewise
#   /bin/tdpw_test_vmm    the test VMM (static)
#   /bin/bpftool          when the host has one: dumps the probes' kernel_truth
#   /bin/bpftrace         only when TDPW_INITRAMFS_BPFTRACE names one (the bench
#                         scenario; run-nested.sh --bpftrace): ~200 MB of
#                         libraries (LLVM, clang), too much for every boot.  Its
#                         libraries are looked up next to it first
#                         (DIR/../lib/x86_64-linux-gnu: fetch-bpftrace.sh's
#                         unpacked packages) and go to /lib/x86_64-linux-gnu.
#   /lib/tdpw/*.ko        KERNEL_DIR's modules, decompressed, and modules.load
#   /lib/tdpw/extra/*.ko  zram and its dependencies from the kernel's own tree
#                         (the reclaim scenario's swap), decompressed, in load
#                         order in extra.load; absent if the kernel has none
#   /init, /tdpw/*.sh     tests/nested/guest/
# Any missing piece exits non-zero with the reason.
set -euo pipefail

die() { echo "build-initramfs: error: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: $0 KERNEL_DIR BIN_DIR OUT"
kdir=$1 bindir=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)

for tool in cpio gzip ldd strip; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (package busybox-static)"
busybox=$(readlink -f "$busybox")
if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is dynamic: install busybox-static"; fi
[ -f "$kdir/modules.load" ] || die "$kdir/modules.load missing (run scripts/kernels/fetch-debian-kernels.sh)"
for b in tdpwatchd tdpwatch tdpw_test_vmm; do
  [ -x "$bindir/$b" ] || die "$bindir/$b not built"
done

stage=$(mktemp -d /tmp/tdpw-initramfs.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,run,lib/tdpw,tdpw,usr/bin,usr/sbin}
cp "$busybox" "$stage/bin/busybox"

# copy_with_libs SRC DST: the binary (debug info stripped) and what ldd lists.
copy_with_libs() {
  strip --strip-debug -o "$stage/$2" "$1" || die "strip $1"
  local lib
  for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' || true); do
    [ -e "$stage$lib" ] && continue
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib" || die "cannot copy $lib (needed by $1)"
  done
}
copy_with_libs "$bindir/tdpwatchd" bin/tdpwatchd
copy_with_libs "$bindir/tdpwatch" bin/tdpwatch
copy_with_libs "$bindir/tdpw_test_vmm" bin/tdpw_test_vmm
bpftool=$(command -v bpftool || true)
if [ -n "$bpftool" ]; then copy_with_libs "$(readlink -f "$bpftool")" bin/bpftool; fi

# copy_bpftrace SRC: bpftrace and its libraries by soname into
# /lib/x86_64-linux-gnu (a library of fetch-bpftrace.sh's tree is not at its
# host path); every library must resolve.
copy_bpftrace() {
  local libdir line so path
  libdir=$(cd "$(dirname "$1")/.." && pwd)/lib/x86_64-linux-gnu
  cp "$1" "$stage/bin/bpftrace"
  mkdir -p "$stage/lib/x86_64-linux-gnu"
  while read -r line; do
    case $line in
      *"not found"*) die "bpftrace: ${line%% *} not found (fetch-bpftrace.sh unpacks what the host lacks)" ;;
      *" => /"*) so=${line%% *} path=${line#* => } path=${path%% *} ;;
      /*) so=${line%% *} path=$so ;;
      *) continue ;;
    esac
    case $so in
      /*) [ -e "$stage$so" ] || { mkdir -p "$stage$(dirname "$so")"; cp -L "$so" "$stage$so"; } ;;
      *) [ -e "$stage/lib/x86_64-linux-gnu/$so" ] || cp -L "$path" "$stage/lib/x86_64-linux-gnu/$so" ;;
    esac || die "cannot copy $path (needed by bpftrace)"
  done < <(LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$1")
  echo "build-initramfs: $(LD_LIBRARY_PATH=$libdir "$1" --version 2>/dev/null | head -n 1) added:" \
    "staging tree now $(du -sm "$stage" | cut -f1) MB"
}
if [ -n "${TDPW_INITRAMFS_BPFTRACE:-}" ]; then
  [ -x "$TDPW_INITRAMFS_BPFTRACE" ] || die "TDPW_INITRAMFS_BPFTRACE=$TDPW_INITRAMFS_BPFTRACE: not an executable"
  copy_bpftrace "$TDPW_INITRAMFS_BPFTRACE"
fi

while read -r m; do
  [ -n "$m" ] || continue
  [ -f "$kdir/$m" ] || die "$kdir/$m listed in modules.load but missing"
  cp "$kdir/$m" "$stage/lib/tdpw/$m"
done <"$kdir/modules.load"
cp "$kdir/modules.load" "$stage/lib/tdpw/modules.load"

# extra_module NAME: NAME.ko from the package tree under KERNEL_DIR, after
# its modinfo dependencies, decompressed into lib/tdpw/extra.
modtree=$(find "$kdir/lib/modules" "$kdir/usr/lib/modules" -maxdepth 1 -mindepth 1 -type d 2>/dev/null | head -n 1 || true)
extra_module() {
  local f dep
  grep -qx "$1.ko" "$stage/lib/tdpw/extra.load" 2>/dev/null && return 0
  f=$(find "$modtree" -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" | head -n 1)
  [ -n "$f" ] || return 1
  for dep in $(modinfo -F depends "$f" | tr ',' ' '); do extra_module "$dep" || return 1; done
  case $f in
    *.xz) xz -dc "$f" >"$stage/lib/tdpw/extra/$1.ko" ;;
    *.zst) zstd -qdc "$f" >"$stage/lib/tdpw/extra/$1.ko" ;;
    *) cp "$f" "$stage/lib/tdpw/extra/$1.ko" ;;
  esac
  echo "$1.ko" >>"$stage/lib/tdpw/extra.load"
}
export PATH=$PATH:/usr/sbin:/sbin
if [ -n "$modtree" ] && command -v modinfo >/dev/null; then
  mkdir -p "$stage/lib/tdpw/extra"
  extra_module zram || echo "build-initramfs: no zram module in $modtree: the reclaim scenario will fail" >&2
fi

install -m 0755 "$here/guest/init" "$stage/init"
install -m 0755 "$here"/guest/*.sh "$stage/tdpw/"

(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
echo "build-initramfs: $out $(( $(stat -c %s "$out") / 1024 )) KiB"

#!/usr/bin/env bash
# run-box.sh [options] FAMILY
#
# Boots the nested Debian host (tests/nested-host/README.md): the root file
# system of build-rootfs.sh with the cached Debian kernel FAMILY (6.12, 6.1;
# scripts/kernels/fetch-debian-kernels.sh), under QEMU/TCG with emulated AMD
# SVM + nested paging, systemd as PID 1, on the serial console.  The host
# directory WORK/share is the box's /tdpw (9p): box-test.sh, the tdpwatch
# .deb, and results/, which the box writes back.  Without --shell the box's
# tdpw-box.service runs /tdpw/box-test.sh after multi-user.target and powers
# off; this script judges its TDPW-BOX lines and exits 0 only when it ran to
# TDPW-BOX-DONE with fail=0.
#
#   --shell            interactive: the console on this terminal, root logged
#                      in, the share mounted at /tdpw but nothing run
#                      (`bash /tdpw/box-test.sh` runs the checks by hand;
#                      `poweroff` or Ctrl-A x ends QEMU)
#   --test SCRIPT      run SCRIPT in the box (default: box-test.sh here)
#   --deb FILE         the tdpwatch .deb to install in the box (default: built
#                      by cpack from --build-dir into WORK)
#   --build-dir DIR    CMake build tree for cpack (default ./build)
#   --no-deb           pass no .deb (the box test then checks boot and KVM only)
#   --env LIST         NAME=VALUE;... written to /tdpw/env for box-test.sh
#   --mount DIR        DIR of this machine, read-only (9p) at the same path in
#                      the box under a writable overlay (box-host-suite.sh
#                      mounts them); repeatable; --build-dir's path is
#                      written to /tdpw/build-dir
#   --timeout S        QEMU killed after S seconds (default 900; not with --shell)
#   --append ARGS      more kernel command line (e.g. 'systemd.show_status=1
#                      loglevel=7' to watch the boot and shutdown)
#   --work DIR         keep the share and console log there (default: temp dir,
#                      removed after a pass)
#
# QEMU: -accel tcg,thread=single -cpu EPYC -smp 2 -m 3G (TDPW_BOX_SMP,
# TDPW_BOX_MEM, TDPW_NESTED_TCG_THREAD), niced (nice -n 5): one box at a time
# on a shared machine.  Exits 77 when the root file system cannot be built
# here (no debootstrap, no archive): build-rootfs.sh's verdict.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TDPW_KERNEL_CACHE:-/var/cache/tdpwatch/kernels}
shell=0 test=$here/box-test.sh deb='' builddir=./build nodeb=0 envlist='' limit=900 work='' extra_append=''
mounts=()
die() { echo "run-box: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --shell) shell=1; shift ;;
    --test) test=$2; shift 2 ;;
    --deb) deb=$2; shift 2 ;;
    --build-dir) builddir=$2; shift 2 ;;
    --no-deb) nodeb=1; shift ;;
    --env) envlist=$2; shift 2 ;;
    --mount) [ -d "$2" ] || die "--mount $2: no such directory"; mounts+=("$(cd "$2" && pwd)"); shift 2 ;;
    --timeout) limit=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --append) extra_append=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) family=$1; shift ;;
  esac
done
[ -n "${family:-}" ] || die "which kernel family? (6.12 or 6.1)"
kdir=$cache/$family
[ -f "$kdir/vmlinuz" ] || die "$kdir/vmlinuz missing: run scripts/kernels/fetch-debian-kernels.sh $family"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (package qemu-system-x86)"
[ -f "$test" ] || die "$test: no such box test"

keep=0
if [ -z "$work" ]; then
  work=$(mktemp -d /tmp/tdpw-box.XXXXXX)
  trap '[ "$keep" = 1 ] || rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
t0=$(date +%s.%N)

set +e
img=$("$here/build-rootfs.sh" --kernel "$kdir" | tail -n 1)
rc=$?
set -e
[ "$rc" = 0 ] || { [ "$rc" = 77 ] && { echo "run-box: SKIP: no root file system (build-rootfs.sh exit 77)"; exit 77; }; die "build-rootfs.sh failed ($rc)"; }
"$here/build-box-initramfs.sh" "$kdir" "$work/initrd.gz"

share=$work/share
rm -rf "$share"
mkdir -p "$share/results"
install -m 0755 "$test" "$share/box-test.sh"
install -m 0755 "$here/box-prometheus.sh" "$here/../deploy/dashboard_queries.sh" "$share/"
cp -r "$here/domains" "$share/"
# The box's libvirt guests boot the same Debian kernel (build-guest-initramfs.sh).
mkdir -p "$share/guest"
cp "$kdir/vmlinuz" "$share/guest/vmlinuz"
"$here/build-guest-initramfs.sh" "$kdir" "$share/guest/initrd.gz"
if [ "$nodeb" = 0 ]; then
  if [ -z "$deb" ]; then
    [ -f "$builddir/CPackConfig.cmake" ] || die "$builddir/CPackConfig.cmake missing: build first (scripts/build.sh), or --deb FILE / --no-deb"
    cpack --config "$builddir/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1 || die "cpack: $(tail -n 5 "$work/cpack.log")"
    deb=$(ls "$work"/pkg/tdpwatch_*.deb)
  fi
  [ -f "$deb" ] || die "$deb: no such .deb"
  cp "$deb" "$share/"
fi
tr ';' '\n' <<<"$envlist" | sed '/^$/d' >"$share/env"
: >"$share/mounts"
virtfs=()
for i in "${!mounts[@]}"; do
  echo "tdpwm$i ${mounts[$i]}" >>"$share/mounts"
  virtfs+=(-virtfs "local,path=${mounts[$i]},mount_tag=tdpwm$i,security_model=none,readonly=on,id=tdpwm$i")
done
(cd "$builddir" 2>/dev/null && pwd) >"$share/build-dir" || true
[ "$shell" = 1 ] || : >"$share/autorun"

append="console=ttyS0 root=/dev/vda panic=-1 quiet${extra_append:+ $extra_append}"
unindexed=$(sed -n 's/^UNINDEXED="\(.*\)"$/\1/p' "$kdir/kernel.env" 2>/dev/null || true)
[ -z "$unindexed" ] || append="$append module.sig_enforce=1"
qemu=(nice -n 5 qemu-system-x86_64 -accel "tcg,thread=${TDPW_NESTED_TCG_THREAD:-single}" -cpu EPYC
  -smp "${TDPW_BOX_SMP:-2}" -m "${TDPW_BOX_MEM:-3G}" -nographic -no-reboot -nodefaults -nic none
  -kernel "$kdir/vmlinuz" -initrd "$work/initrd.gz" -append "$append"
  -drive "file=$img,format=raw,if=virtio,snapshot=on"
  -virtfs "local,path=$share,mount_tag=tdpw,security_model=none,id=tdpw" "${virtfs[@]}")
echo "run-box: booting $(readlink "$kdir" || echo "$family") with $img"
if [ "$shell" = 1 ]; then
  echo "run-box: shell: root is logged in on the console; the share is /tdpw (bash /tdpw/box-test.sh);" \
    "poweroff, or Ctrl-A x, ends it"
  exec "${qemu[@]}" -serial mon:stdio
fi

log=$work/console.log
t1=$(date +%s.%N)
set +e
# sed -u: unbuffered, so that console.log.raw (and the lines below) follow the box live.
timeout --kill-after=10 "$limit" "${qemu[@]}" -serial stdio </dev/null 2>&1 | sed -u 's/\r//g' | tee "$log.raw" |
  grep --line-buffered -E 'TDPW-BOX|Kernel panic|tdpw-box-initramfs|emergency mode'
qrc=${PIPESTATUS[0]}
# journald forwards the unit's output to the console as "[  t] box-test.sh[pid]: TDPW-BOX...":
# console.log has the TDPW-BOX lines from their marker on, everything else as it came.
sed -E 's/^.*(TDPW-BOX)/\1/' "$log.raw" >"$log"
set -e
t2=$(date +%s.%N)
secs() { awk "BEGIN{printf \"%.1f\", $2 - $1}"; }
echo "run-box: root fs + initramfs $(secs "$t0" "$t1") s, QEMU $(secs "$t1" "$t2") s (exit $qrc)"
status=0
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then echo "run-box: FAIL: QEMU killed after ${limit} s"; status=1; fi
done_line=$(grep '^TDPW-BOX-DONE' "$log" || true)
if [ -z "$done_line" ]; then
  echo "run-box: FAIL: no TDPW-BOX-DONE line; last console lines:"
  tail -n 40 "$log" | sed 's/^/  /'
  status=1
elif ! grep -q ' fail=0' <<<"$done_line"; then
  echo "run-box: FAIL: $done_line"; status=1
fi
nfail=$(grep -c '^TDPW-BOX-CHECK .* FAIL' "$log" || true)
[ "$nfail" = 0 ] || { echo "run-box: FAIL: $nfail checks failed"; status=1; }
grep -q 'Kernel panic' "$log" && { echo "run-box: FAIL: kernel panic"; status=1; }
# Known shortcomings the box test reports without failing (box-test.sh says why).
grep '^TDPW-BOX-KNOWN' "$log" | sed 's/^/run-box: /' || true
[ $status = 0 ] || keep=1
echo "run-box: $( [ $status = 0 ] && echo PASS || echo FAIL ) ($(grep -c '^TDPW-BOX-CHECK .* PASS' "$log" || true) checks passed); console: $log; results: $share/results"
exit $status

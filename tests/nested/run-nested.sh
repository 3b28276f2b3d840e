#!/usr/bin/env bash
# run-nested.sh [options] FAMILY
#
# Boots the cached Debian kernel FAMILY (6.1, 6.12, 6.19 or 7.2; see
# scripts/kernels/fetch-debian-kernels.sh) under QEMU/TCG with emulated AMD
# SVM + nested paging, runs the nested scenarios in the guest
# (tests/nested/guest/) and judges the serial console.  Exits 0 only when the
# guest ran every scenario, every comparison passed, and it powered off.
#
#   --bin-dir DIR        tdpwatchd and tdpw_test_vmm (default: ./bin)
#   --runs LIST          comma list of PLAN/SCENARIO (plans: fentry, kprobe, tp;
#                        scenarios: basic, multi, live, nx, dirty, fixture; see
#                        guest/scenarios.sh), default fentry/basic
#   --kvm-args ARGS      kvm.ko parameters, ';'-separated (e.g. nx_huge_pages=force)
#   --daemon-args ARGS   extra tdpwatchd arguments, ';'-separated
#   --daemon-log LEVEL   tdpwatchd --log.level (default info)
#   --timeout S          whole-run limit (default 600); QEMU is killed after it
#   --work DIR           keep initramfs and console log there (default: a temp dir)
#   --fixtures DIR       write the replay files the guest dumps into DIR
#   --guest-env LIST     scenario settings, ';'-separated NAME=VALUE (BENCH_ROUNDS=7,
#                        BENCH_MIB, BENCH_SETTLE, BENCH_DAEMON_ARGS, BENCH_BPFTRACE=0,
#                        WALK_MIB, NX_MIB; README.md, "bench")
#   --bpftrace PATH      put this bpftrace and its libraries (~80 MB gzip'd) into the
#                        initramfs, for the bench scenario's bpftrace runs;
#                        fetch-bpftrace.sh prints one (Debian 12's 0.17)
#
# The kernel cache is $TDPW_KERNEL_CACHE, else /var/cache/tdpwatch/kernels.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TDPW_KERNEL_CACHE:-/var/cache/tdpwatch/kernels}
bindir=./bin runs= kvm_args= limit=600 work= fixtures= daemon_args= daemon_log= guest_env= bpftrace=
die() { echo "run-nested: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir) bindir=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --kvm-args) kvm_args=$2; shift 2 ;;
    --daemon-args) daemon_args=$2; shift 2 ;;
    --daemon-log) daemon_log=$2; shift 2 ;;
    --timeout) limit=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --fixtures) fixtures=$2; shift 2 ;;
    --guest-env) guest_env=$2; shift 2 ;;
    --bpftrace) bpftrace=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) family=$1; shift ;;
  esac
done
[ -n "${family:-}" ] || die "which kernel family? (6.1, 6.12, 6.19 or 7.2)"
kdir=$cache/$family
[ -f "$kdir/vmlinuz" ] || die "$kdir/vmlinuz missing: run scripts/kernels/fetch-debian-kernels.sh $family (ctest fixture debian_kernels)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (package qemu-system-x86)"
command -v timeout >/dev/null || die "timeout not found"

keep=0
if [ -z "$work" ]; then
  work=$(mktemp -d /tmp/tdpw-nested.XXXXXX)
  # A failing run keeps its console log (named in the last line).
  trap '[ "$keep" = 1 ] && rm -f "$work/initrd.gz" || rm -rf "$work"' EXIT
fi
mkdir -p "$work"
t0=$(date +%s.%N)
if [ -n "$bpftrace" ]; then
  [ -x "$bpftrace" ] || die "--bpftrace $bpftrace: not an executable"
  bpftrace=$(readlink -f "$bpftrace")
fi
case $guest_env in *" "*) die "--guest-env: no spaces (the kernel command line splits there)" ;; esac
TDPW_INITRAMFS_BPFTRACE=$bpftrace "$here/build-initramfs.sh" "$kdir" "$bindir" "$work/initrd.gz"

append="console=ttyS0 panic=-1 quiet tdpw.runs=${runs} tdpw.kvm=${kvm_args} tdpw.daemon_args=${daemon_args} tdpw.log=${daemon_log}${guest_env:+ tdpw.env=$guest_env}"
# Modules fetched from the pool without an index checksum (kernel.env
# UNINDEXED, fetch-debian-kernels.sh): the kernel, whose package was
# checked, loads only modules signed with its own build key.
unindexed=$(sed -n 's/^UNINDEXED="\(.*\)"$/\1/p' "$kdir/kernel.env" 2>/dev/null || true)
if [ -n "$unindexed" ]; then
  append="$append module.sig_enforce=1"
  echo "run-nested: $unindexed not in the archive's index: booting with module.sig_enforce=1"
fi
log=$work/console.log
echo "run-nested: booting $(readlink "$kdir" || echo "$family") (limit ${limit} s): $append"
t1=$(date +%s.%N)
set +e
# stdin from /dev/null: -nographic would otherwise take the terminal.
# Single-threaded TCG, two vCPUs (README.md, "QEMU configuration"): with
# MTTCG, runs that patch kernel text while the other vCPU executes (kprobe,
# fentry attach) hung, panicked, or ran the L2 guest astray; one TCG thread
# round-robins the vCPUs, so no code is modified under a running vCPU, and
# the guest kernel still has two CPUs.  It also takes one host core, not two.
timeout --kill-after=10 "$limit" qemu-system-x86_64 -accel "tcg,thread=${TDPW_NESTED_TCG_THREAD:-single}" -cpu EPYC -smp "${TDPW_NESTED_SMP:-2}" -m 2G \
  -nographic -no-reboot -nodefaults -serial stdio -kernel "$kdir/vmlinuz" -initrd "$work/initrd.gz" \
  -append "$append" </dev/null 2>&1 | tr -d '\r' | tee "$log" | grep --line-buffered -E 'TDPW-(BEGIN|SCENARIO|FAIL|DONE|TIME|BOOTED|KVM|BENCH|RECORDS|ENV)|FAIL$|Kernel panic'
qrc=${PIPESTATUS[0]}
set -e
t2=$(date +%s.%N)

if [ -n "$fixtures" ]; then
  mkdir -p "$fixtures"
  awk -v dir="$fixtures" '
    /^TDPW-FILE-BEGIN / { name = $2; buf = ""; on = 1; next }
    /^TDPW-FILE-END/ { if (on) { f = dir "/" name ".b64"; printf "%s", buf > f; close(f) } on = 0; next }
    on { buf = buf $0 "\n" }' "$log"
  for f in "$fixtures"/*.b64; do
    [ -e "$f" ] || continue
    base64 -d "$f" | gzip -dc >"${f%.b64}" && rm -f "$f"
    echo "run-nested: fixture ${f%.b64} ($(stat -c %s "${f%.b64}") bytes)"
  done
fi

secs() { awk "BEGIN{printf \"%.1f\", $2 - $1}"; }
echo "run-nested: initramfs $(secs "$t0" "$t1") s, QEMU $(secs "$t1" "$t2") s (exit $qrc)"
status=0
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "run-nested: FAIL: QEMU killed after ${limit} s"; status=1
fi
if ! grep -q 'TDPW-BOOTED' "$log"; then echo "run-nested: FAIL: the guest never reached /init"; status=1; fi
done_line=$(grep '^TDPW-DONE' "$log" || true)
if [ -z "$done_line" ]; then
  echo "run-nested: FAIL: no TDPW-DONE line (guest crashed or hung); last console lines:"
  tail -n 30 "$log" | sed 's/^/  /'
  status=1
elif ! echo "$done_line" | grep -q ' fail=0 '; then
  echo "run-nested: FAIL: $done_line"; status=1
fi
if grep -q '^TDPW-BEGIN' "$log"; then
  begun=$(grep -c '^TDPW-BEGIN' "$log"); ended=$(grep -c '^TDPW-SCENARIO' "$log")
  [ "$begun" = "$ended" ] || { echo "run-nested: FAIL: $begun scenarios began, $ended ended"; status=1; }
fi
nfail=$(grep -c -E '^TDPW-FAIL|^TDPW-CHECK .* FAIL$|^TDPW-SCENARIO .* FAIL' "$log" || true)
[ "$nfail" = 0 ] || { echo "run-nested: FAIL: $nfail failure lines:"; grep -E '^TDPW-FAIL|^TDPW-CHECK .* FAIL$' "$log" | sed 's/^/  /'; status=1; }
grep -q 'Kernel panic' "$log" && { echo "run-nested: FAIL: kernel panic"; status=1; }
grep '^TDPW-SCENARIO' "$log" | sed 's/^/run-nested: /'
# Measurements (the bench scenario, basic's TDPW-RECORDS): repeated last.
grep -E '^TDPW-(BENCH|BENCH-BPFTRACE|RECORDS) ' "$log" | sed 's/^/run-nested: /' || true
[ $status = 0 ] || keep=1
echo "run-nested: $( [ $status = 0 ] && echo PASS || echo FAIL ) ($(grep -c '^TDPW-CHECK .* PASS$' "$log" || true) comparisons passed); console: $log"
exit $status

#!/bin/bash
# box-host-suite.sh: runs inside the nested Debian host (run-box.sh --test
# box-host-suite.sh --mount SRC --mount BUILD): the project's host-label
# test suite (ctest -L '^host$') against the box's /dev/kvm, whose KVM has a
# real TDP MMU (the outer machines' /dev/kvm, where there is one, is PVM's
# shadow MMU).  The source and build trees are the outer machine's, read
# only over 9p at the same paths, with a writable overlay in the box (the
# tests write into the build tree; the outer one is not touched).  Not run
# here: debian_kernels_fetch and core_relocation_* (the kernel cache; they
# need no /dev/kvm and ran outside).  One TDPW-BOX-CHECK line per test;
# a test not run in the box (it has /dev/kvm and root) is a failure.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
res=/tdpw/results
mkdir -p "$res"
pass=0 fail=0
check() { if [ "$2" = 0 ]; then pass=$((pass + 1)); echo "TDPW-BOX-CHECK $1 PASS $3"; else fail=$((fail + 1)); echo "TDPW-BOX-CHECK $1 FAIL $3"; fi; }
ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }

# The outer trees: /tdpw/mounts lists "TAG PATH" (run-box.sh --mount).
n=0
while read -r tag path; do
  [ -n "$tag" ] || continue
  n=$((n + 1))
  lower=/run/tdpw-lower/$tag up=/var/tmp/tdpw-overlay/$tag
  mkdir -p "$lower" "$up/upper" "$up/work" "$path"
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288 "$tag" "$lower" &&
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$up/upper,workdir=$up/work" "$path"
  check "mount:$path" $? "9p $tag read-only, overlay in the box"
done </tdpw/mounts
build=$(cat /tdpw/build-dir 2>/dev/null)
[ "$n" -gt 0 ] && [ -f "$build/CTestTestfile.cmake" ]; check build_tree $? "$build"
[ -c /dev/kvm ] && [ "$(cat /sys/module/kvm/parameters/tdp_mmu)" = Y ]; check kvm_tdp_mmu $? "$(ls -l /dev/kvm)"
# Nothing of the box's own on the tests' way (their Prometheus takes a free port).
systemctl stop prometheus libvirtd libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket 2>/dev/null

t0=$(ms)
cd "$build" || exit 1
ctest -L '^host$' -E '^(debian_kernels_fetch|core_relocation)' --output-on-failure --timeout 900 -j1 \
  >"$res/ctest.txt" 2>&1
crc=$?
echo "TDPW-BOX-TIME host_suite ms=$(($(ms) - t0))"
# "  3/48 Test  #12: Name ......   Passed    1.23 sec" (or ***Failed, ***Skipped, ***Not Run ...)
while read -r line; do
  name=$(sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .*/\1/' <<<"$line")
  secs=$(grep -oE '[0-9.]+ sec' <<<"$line")
  if grep -qE ' Passed ' <<<"$line"; then check "host:$name" 0 "$secs"
  else check "host:$name" 1 "$(sed -E 's/.*\.\.\.+ *//' <<<"$line")"; fi
done < <(grep -E '^ *[0-9]+/[0-9]+ Test +#' "$res/ctest.txt")
grep -E 'tests passed|Total Test time' "$res/ctest.txt" | sed 's/^/TDPW-BOX-NOTE /'
[ "$crc" = 0 ]; check ctest_exit $? "ctest exit $crc"
grep -A3 -E '(Failed|Not Run|Skipped)' "$res/ctest.txt" | grep -vE '^ *[0-9]+/[0-9]+ Test' | head -n 40 | sed 's/^/TDPW-BOX-NOTE /'
journalctl -b --no-pager >"$res/journal.txt" 2>&1 || true
dmesg >"$res/dmesg.txt" 2>&1 || true
echo "TDPW-BOX-DONE pass=$pass fail=$fail"
sync
[ "$fail" = 0 ]

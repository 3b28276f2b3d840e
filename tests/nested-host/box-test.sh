#!/bin/bash
# box-test.sh: runs inside the nested Debian host (tdpw-box.service, after
# multi-user.target; or by hand in `run-box.sh --shell`).  Every result is a
# console line:
#   TDPW-BOX-BOOT ...            boot timings (systemd's own timestamps)
#   TDPW-BOX-CHECK <name> PASS|FAIL <detail>
#   TDPW-BOX-TIME <step> ms=N
#   TDPW-BOX-DONE pass=N fail=M
# Logs worth keeping go to /tdpw/results/ (the host's WORK/share/results).
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
res=/tdpw/results
mkdir -p "$res"
# shellcheck disable=SC1091
[ -f /tdpw/env ] && set -a && . /tdpw/env && set +a
pass=0 fail=0
check() { # check NAME OK? DETAIL
  if [ "$2" = 0 ]; then pass=$((pass + 1)); echo "TDPW-BOX-CHECK $1 PASS $3"
  else fail=$((fail + 1)); echo "TDPW-BOX-CHECK $1 FAIL $3"; fi
}
ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }
finish() {
  journalctl -b --no-pager >"$res/journal.txt" 2>&1 || true
  dmesg >"$res/dmesg.txt" 2>&1 || true
  echo "TDPW-BOX-DONE pass=$pass fail=$fail"
  sync
  [ "$fail" = 0 ]
}

# Boot: systemd is PID 1; when did userspace start and multi-user.target
# become active (CLOCK_MONOTONIC, i.e. since the kernel started).
mono() { awk '{printf "%.1f", $1 / 1000000}' <<<"$1"; }
us=$(systemctl show -P UserspaceTimestampMonotonic)
mu=$(systemctl show -P ActiveEnterTimestampMonotonic multi-user.target)
echo "TDPW-BOX-BOOT kernel=$(uname -r) userspace_start_s=$(mono "$us") multi_user_s=$(mono "$mu") now_s=$(awk '{print $1}' /proc/uptime)"
pid1=$(readlink /proc/1/exe)
[ "$pid1" = /usr/lib/systemd/systemd ] || [ "$pid1" = /lib/systemd/systemd ]; check pid1 $? "exe=$pid1"
state=$(systemctl is-system-running 2>&1)
# "starting": this very unit is still a job.  Anything failed is listed.
failed=$(systemctl list-units --failed --plain --no-legend | awk '{print $1}' | tr '\n' ' ')
[ -z "$failed" ]; check units $? "system=$state failed=[${failed% }]"

# KVM in the box: kvm_amd on the emulated SVM with nested paging, TDP MMU.
[ -c /dev/kvm ]; check dev_kvm $? "$(ls -l /dev/kvm 2>&1)"
npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)
tdp=$(cat /sys/module/kvm/parameters/tdp_mmu 2>/dev/null)
[ "$npt" = Y ] && [ "$tdp" = Y ]; check kvm_tdp_mmu $? "npt=$npt tdp_mmu=$tdp"

finish

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

# step NAME: time since the previous step, as TDPW-BOX-TIME.
last=$(ms)
step() { local now; now=$(ms); echo "TDPW-BOX-TIME $1 ms=$((now - last))"; last=$now; }
# wait_for SECONDS CMD...: CMD until it succeeds, every 0.5 s.
wait_for() {
  local n=$(($1 * 2)); shift
  while ! "$@" >/dev/null 2>&1; do n=$((n - 1)); [ $n -gt 0 ] || return 1; sleep 0.5; done
}

# The package, as an operator installs it: apt, from the file (its Depends
# are in the image: no network here).  The postinst enables and starts the
# unit; `systemctl start` then finds it running (or starts it).
deb=$(cd /tdpw && ls tdpwatch_*.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then
  echo "TDPW-BOX-NOTE no tdpwatch_*.deb in /tdpw (run-box.sh --no-deb): boot and KVM only"
  finish; exit
fi
(cd /tdpw && apt-get install -y "./$deb") >"$res/apt-install.txt" 2>&1
check apt_install $? "$deb: $(grep -E '^(Setting up|E:)' "$res/apt-install.txt" | tr '\n' ' ' | cut -c1-200)"
step apt_install
systemctl start tdpwatchd
check systemctl_start $? "rc"
act=$(systemctl is-active tdpwatchd)
typ=$(systemctl show -P Type tdpwatchd)
st=$(systemctl show -P StatusText tdpwatchd)
[ "$act" = active ] && [ "$typ" = notify ]; check tdpwatchd_active $? "active=$act Type=$typ status='$st'"
s0=$(systemctl show -P ExecMainStartTimestampMonotonic tdpwatchd)
s1=$(systemctl show -P ActiveEnterTimestampMonotonic tdpwatchd)
echo "TDPW-BOX-TIME tdpwatchd_ready ms=$(( (s1 - s0) / 1000 ))"
curl -sf http://127.0.0.1:9977/metrics >"$res/metrics-start.txt"
grep -q '^tdpwatch_up 1$' "$res/metrics-start.txt"; check metrics_up $? "$(grep -c '^tdpwatch_' "$res/metrics-start.txt") samples"
grep '^tdpwatch_probe_attached' "$res/metrics-start.txt" | sed 's/^/TDPW-BOX-PLAN /'
step tdpwatchd

# A libvirt domain: QEMU with KVM in the box, SeaBIOS, no disk.
dom=tdpw-seabios
virsh define /tdpw/domains/$dom.xml >"$res/virsh.txt" 2>&1; check virsh_define $? "$dom"
virsh start $dom >>"$res/virsh.txt" 2>&1; check virsh_start $? "$(tail -n 1 "$res/virsh.txt")"
step virsh_start
pid=$(cat /run/libvirt/qemu/$dom.pid 2>/dev/null)
dbg=$(ls -d /sys/kernel/debug/kvm/"$pid"-* 2>/dev/null | head -n 1)
[ -n "$pid" ] && [ -d "$dbg" ]; check vm_debugfs $? "pid=$pid debugfs=$dbg"
# kernel_figs: pages_4k pages_2m pages_1g nx_lpage_splits SecPageTables(4K pages).
kernel_figs() {
  echo 1 >/proc/sys/vm/stat_refresh
  echo "$(cat "$dbg/pages_4k" "$dbg/pages_2m" "$dbg/pages_1g" "$dbg/nx_lpage_splits" | tr '\n' ' ')$(awk '/^SecPageTables:/ {print $2 / 4}' /proc/meminfo)"
}
# Quiescent: the kernel's figures the same over 3 s (SeaBIOS done, waiting).
prev='' n=0 k=''
while [ $n -lt 120 ]; do
  k=$(kernel_figs)
  [ "$k" = "$prev" ] && break
  prev=$k; n=$((n + 1)); sleep 3
done
echo "TDPW-BOX-FIG kernel 4k/2m/1g/nx/SecPageTables_pages = $k"
step quiescent
# The daemon's view, by the libvirt domain's name, until it agrees (it reads
# at its --interval) or 20 s pass.
snap_figs() {
  tdpwatch snapshot -o json $dom >"$res/snapshot.json" 2>"$res/snapshot.err" || return 1
  jq -r '[.model.leaf_mappings."4k", .model.leaf_mappings."2m", .model.leaf_mappings."1g",
          .model.possible_nx_huge_pages.tdp, (.model.tdp_pages.total + .model.shadow_pages)] | map(tostring) | join(" ")' \
    "$res/snapshot.json"
}
n=0
while :; do
  k=$(kernel_figs)
  m=$(snap_figs); src=$?
  [ "$m" = "$k" ] && [ "$(kernel_figs)" = "$k" ] && break
  n=$((n + 1)); [ $n -lt 40 ] || break
  sleep 0.5
done
echo "TDPW-BOX-FIG model  4k/2m/1g/nx/tdp+shadow_pages = $m"
[ "$src" = 0 ]; check snapshot_by_name $? "tdpwatch snapshot $dom: $(head -c 200 "$res/snapshot.err")"
read -r k4 k2 k1 knx ksec <<<"$k"
read -r m4 m2 m1 mnx msec <<<"$m"
[ "$k4" = "$m4" ] && [ "$k2" = "$m2" ] && [ "$k1" = "$m1" ]; check leaf_mappings $? "debugfs=$k4/$k2/$k1 model=$m4/$m2/$m1"
[ "$knx" = "$mnx" ]; check nx_lpage_splits $? "debugfs=$knx model=$mnx"
[ "$ksec" = "$msec" ]; check SecPageTables $? "meminfo=$ksec model_tdp+shadow=$msec"
ld=$(jq -r .vm.libvirt_domain "$res/snapshot.json" 2>/dev/null)
[ "$ld" = "$dom" ]; check libvirt_domain $? "vm.libvirt_domain=$ld vm.name=$(jq -r .vm.name "$res/snapshot.json" 2>/dev/null)"
drift=$(jq -c '[.drift | .. | numbers | select(. != 0)] | length' "$res/snapshot.json" 2>/dev/null)
[ "$drift" = 0 ]; check no_drift $? "$(jq -c .drift "$res/snapshot.json" 2>/dev/null)"
inc=$(jq -c .model.inconsistencies "$res/snapshot.json" 2>/dev/null)
[ "$inc" = '{}' ]; check no_inconsistency $? "$inc"
jq -c '{roots: .model.roots, by_as_level: .model.tdp_pages.by_as_level, tracking: .reconcile.tracking}' \
  "$res/snapshot.json" 2>/dev/null | sed 's/^/TDPW-BOX-FIG model /'
tdpwatch snapshot $dom >"$res/snapshot.txt" 2>&1
step checks

# virsh destroy (SIGTERM, then SIGKILL): the VM goes from the daemon with no
# leak warning; its series leave /metrics.
virsh destroy $dom >>"$res/virsh.txt" 2>&1; check virsh_destroy $? "$(tail -n 1 "$res/virsh.txt")"
gone() {
  [ ! -d "$dbg" ] || return 1
  tdpwatch snapshot $dom >/dev/null 2>&1; [ $? = 4 ] || return 1
  ! curl -sf http://127.0.0.1:9977/metrics | grep -q "pid=\"$pid\""
}
wait_for 30 gone; check vm_gone $? "debugfs dir, snapshot (exit 4), /metrics series of pid $pid"
curl -sf http://127.0.0.1:9977/metrics >"$res/metrics-end.txt"
lw=$(awk '/^tdpwatch_leak_warnings_total / {print $2}' "$res/metrics-end.txt")
td=$(awk '/^tdpwatch_teardowns_total / {print $2}' "$res/metrics-end.txt")
[ "$lw" = 0 ] && [ "${td:-0}" -ge 1 ] 2>/dev/null; check no_leak $? "teardowns_total=$td leak_warnings_total=$lw"
journalctl -u tdpwatchd -b --no-pager >"$res/tdpwatchd.log" 2>&1
! grep -q 'leak:' "$res/tdpwatchd.log"; check no_leak_log $? "$(grep -m1 'leak:' "$res/tdpwatchd.log" | cut -c1-200)"
sec=$(echo 1 >/proc/sys/vm/stat_refresh; awk '/^SecPageTables:/ {print $2}' /proc/meminfo)
[ "$sec" = 0 ]; check SecPageTables_zero $? "SecPageTables=${sec} kB"
! dmesg | grep -qE 'cut here|WARNING: CPU|BUG:|Oops'; check no_kernel_warn $? "$(dmesg | grep -m1 -E 'cut here|WARNING: CPU|BUG:|Oops')"
virsh undefine $dom >>"$res/virsh.txt" 2>&1
step destroy

finish

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

# A real Prometheus beside it, from the start, as a host's would be: it
# scrapes tdpwatchd every second with the alert and recording rules the
# package installed (judged at the end: box-prometheus.sh).
bash /tdpw/box-prometheus.sh start >"$res/prometheus-start.txt" 2>&1
check prometheus_start $? "$(tail -n 1 "$res/prometheus-start.txt")"
step prometheus_start

# kernel_figs DIR: pages_4k pages_2m pages_1g nx_lpage_splits of one VM (debugfs).
kernel_figs() { cat "$1/pages_4k" "$1/pages_2m" "$1/pages_1g" "$1/nx_lpage_splits" | tr '\n' ' ' | sed 's/ $//'; }
# sec_pages: SecPageTables in 4K pages (after stat_refresh: per-CPU deltas folded).
sec_pages() { echo 1 >/proc/sys/vm/stat_refresh; awk '/^SecPageTables:/ {print $2 / 4}' /proc/meminfo; }
# all_figs: every VM's figures and SecPageTables, one line (quiescent: unchanged over 3 s).
all_figs() { local d; for d in /sys/kernel/debug/kvm/*-*/; do [ -d "$d" ] && echo -n "$(kernel_figs "$d");"; done; sec_pages; }
quiesce() { # quiesce TAG: until all_figs holds still for 3 s (at most 6 min)
  local prev='' n=0 k='' t0
  t0=$(ms)
  while [ $n -lt 120 ]; do
    k=$(all_figs)
    [ "$k" = "$prev" ] && break
    prev=$k; n=$((n + 1)); sleep 3
  done
  echo "TDPW-BOX-TIME quiescent$1 ms=$(($(ms) - t0))"
}
vm_pid() { cat "/run/libvirt/qemu/$1.pid" 2>/dev/null; }
vm_dbg() { ls -d /sys/kernel/debug/kvm/"$(vm_pid "$1")"-* 2>/dev/null | head -n 1; }
# domstats DOM: QEMU's query-stats of the VM through libvirt: 4k 2m 1g nx.
domstats() {
  virsh domstats --vm "$1" 2>/dev/null | awk -F= '
    /vm\.pages_4k[.=]/ {a=$2} /vm\.pages_2m[.=]/ {b=$2} /vm\.pages_1g[.=]/ {c=$2} /vm\.nx_lpage_splits[.=]/ {d=$2}
    END {printf "%s %s %s %s", a, b, c, d}'
}
snap_figs() { # snap_figs DOM FILE: the daemon's figures of the VM, by its libvirt name
  tdpwatch snapshot -o json "$1" >"$2" 2>"$2.err" || return 1
  jq -r '[.model.leaf_mappings."4k", .model.leaf_mappings."2m", .model.leaf_mappings."1g",
          .model.possible_nx_huge_pages.tdp] | map(tostring) | join(" ")' "$2"
}
# compare_vm DOM TAG: at a quiescent point, the daemon's view of the VM (by its
# libvirt name) equals debugfs and `virsh domstats --vm` (QEMU's query-stats),
# within 20 s (the daemon reads at its --interval); no drift, no
# inconsistency, and a page-by-page audit of its live tables (SMM address
# space included) finds nothing missing or unknown.
compare_vm() {
  local dom=$1 t=$2 n=0 dbg k m d src snap ld drift inc arc
  snap=$res/snapshot-$dom$t.json
  dbg=$(vm_dbg "$dom")
  while :; do
    k=$(kernel_figs "$dbg")
    m=$(snap_figs "$dom" "$snap"); src=$?
    [ "$m" = "$k" ] && [ "$(kernel_figs "$dbg")" = "$k" ] && break
    n=$((n + 1)); [ $n -lt 40 ] || break
    sleep 0.5
  done
  d=$(domstats "$dom")
  echo "TDPW-BOX-FIG $dom$t 4k/2m/1g/nx debugfs=[$k] domstats=[$d] model=[$m]"
  [ "$src" = 0 ]; check "snapshot_by_name:$dom$t" $? "$(head -c 200 "$snap.err")"
  [ "$k" = "$m" ]; check "leaves_nx:$dom$t" $? "debugfs=[$k] model=[$m] (4k 2m 1g nx_lpage_splits)"
  [ "$d" = "$k" ]; check "domstats:$dom$t" $? "virsh domstats --vm=[$d] debugfs=[$k]"
  ld=$(jq -r .vm.libvirt_domain "$snap" 2>/dev/null)
  [ "$ld" = "$dom" ]; check "libvirt_domain:$dom$t" $? "vm.libvirt_domain=$ld vm.name=$(jq -r .vm.name "$snap" 2>/dev/null)"
  drift=$(jq -c '[.drift | .. | numbers | select(. != 0)] | length' "$snap" 2>/dev/null)
  [ "$drift" = 0 ]; check "no_drift:$dom$t" $? "$(jq -c .drift "$snap" 2>/dev/null)"
  inc=$(jq -c .model.inconsistencies "$snap" 2>/dev/null)
  [ "$inc" = '{}' ]; check "no_inconsistency:$dom$t" $? "$inc"
  tdpwatch audit -o json "$dom" >"$res/audit-$dom$t.json" 2>&1; arc=$?
  [ "$arc" = 0 ] && jq -e '.audit.clean and .audit.walk.complete' "$res/audit-$dom$t.json" >/dev/null
  check "audit:$dom$t" $? "exit=$arc $(jq -c '.audit | {summary, walk: .walk.status, tables, roots: .roots.kernel, missing: .missing_from_model.total, unknown: .unknown_to_kernel.total}' "$res/audit-$dom$t.json" 2>/dev/null | head -c 250)"
  jq -c '{roots: .model.roots, by_as_level: .model.tdp_pages.by_as_level, tracking: .reconcile.tracking}' \
    "$snap" 2>/dev/null | sed "s/^/TDPW-BOX-FIG $dom$t /"
  tdpwatch snapshot "$dom" >"$res/snapshot-$dom$t.txt" 2>&1
}
# compare_host TAG: SecPageTables equals the sum over the daemon's VMs of their
# TDP and shadow pages (/metrics), within 20 s.
metrics_pages() { curl -sf http://127.0.0.1:9977/metrics | awk '/^tdpwatch_vm_(tdp|shadow)_pages\{/ {n += $NF} END {printf "%d", n}'; }
compare_host() {
  local n=0 k m
  while :; do
    k=$(sec_pages); m=$(metrics_pages)
    [ "$k" = "$m" ] && break
    n=$((n + 1)); [ $n -lt 40 ] || break
    sleep 0.5
  done
  [ "$k" = "$m" ]; check "SecPageTables$1" $? "meminfo=$k pages, sum over VMs of tdpwatch_vm_tdp_pages+shadow_pages=$m"
}

# A libvirt domain: QEMU with KVM in the box, SeaBIOS, no disk (the first
# libvirt start also probes QEMU's capabilities with a KVM VM of its own).
dom=tdpw-seabios
virsh define /tdpw/domains/$dom.xml >"$res/virsh.txt" 2>&1; check virsh_define $? "$dom"
virsh start $dom >>"$res/virsh.txt" 2>&1; check virsh_start $? "$(tail -n 1 "$res/virsh.txt")"
step virsh_start
pid=$(vm_pid $dom)
dbg=$(vm_dbg $dom)
[ -n "$pid" ] && [ -d "$dbg" ]; check vm_debugfs $? "pid=$pid debugfs=$dbg"
quiesce ''
compare_vm $dom ''
compare_host ''
step checks

# The unit's sandbox as systemd applied it, read from the running daemon:
# capabilities within the unit's three (the daemon drops more itself), no
# new privileges, a seccomp filter (SystemCallFilter=), / read-only in its
# mount namespace (ProtectSystem=strict), /proc/kallsyms unreadable
# (ProtectKernelTunables=).
mp=$(systemctl show -P MainPID tdpwatchd)
stf=/proc/$mp/status
bnd=$(awk '/^CapBnd:/ {print $2}' "$stf"); eff=$(awk '/^CapEff:/ {print $2}' "$stf")
nnp=$(awk '/^NoNewPrivs:/ {print $2}' "$stf"); sec=$(awk '/^Seccomp:/ {print $2}' "$stf")
rootopt=$(awk '$5 == "/" {print $6}' "/proc/$mp/mountinfo" | tail -n 1)
allowed=$(( (1 << 21) | (1 << 38) | (1 << 39) ))  # CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF
[ $(( 0x$bnd & ~allowed )) = 0 ] && [ $(( 0x$eff & ~allowed )) = 0 ] && [ "$nnp" = 1 ] && [ "$sec" = 2 ] &&
  [ "${rootopt%%,*}" = ro ]
check unit_sandbox $? "pid=$mp CapBnd=$bnd CapEff=$eff NoNewPrivs=$nnp Seccomp=$sec root=$rootopt"

# virsh destroy (SIGTERM, then SIGKILL): the VM goes from the daemon with no
# leak warning; its series leave /metrics.
gone() { # gone DBG PID DOM
  [ ! -d "$1" ] || return 1
  tdpwatch snapshot "$3" >/dev/null 2>&1; [ $? = 4 ] || return 1
  ! curl -sf http://127.0.0.1:9977/metrics | grep -q "pid=\"$2\""
}
virsh destroy $dom >>"$res/virsh.txt" 2>&1; check virsh_destroy $? "$(tail -n 1 "$res/virsh.txt")"
wait_for 30 gone "$dbg" "$pid" $dom; check vm_gone $? "debugfs dir, snapshot (exit 4), /metrics series of pid $pid"
virsh undefine $dom >>"$res/virsh.txt" 2>&1
step destroy_seabios

# Two Linux guests at once (build-guest-initramfs.sh): Debian's kernel boots,
# writes memory (THP-backed guest RAM: 2M leaves; firmware, ROMs and slot
# edges: 4K), holds still.  Kernel and initrd where libvirt's QEMU may read them.
gdir=/var/lib/libvirt/boot/tdpw
mkdir -p $gdir && cp /tdpw/guest/vmlinuz /tdpw/guest/initrd.gz $gdir/
guests="tdpw-guest-a:256:96 tdpw-guest-b:192:48"
for g in $guests; do
  IFS=: read -r name mem touch <<<"$g"
  sed -e "s|@NAME@|$name|g; s|@MEM@|$mem|g; s|@TOUCH@|$touch|g; s|@DIR@|$gdir|g" \
    /tdpw/domains/tdpw-guest.xml.in >"$res/$name.xml"
  virsh define "$res/$name.xml" >>"$res/virsh.txt" 2>&1 && virsh start "$name" >>"$res/virsh.txt" 2>&1
  check "virsh_start:$name" $? "$(tail -n 1 "$res/virsh.txt")"
done
serial() { cat "/var/log/libvirt/qemu/$1.serial" 2>/dev/null; }
ready_count() { serial "$1" | grep -c 'TDPW-GUEST ready'; }
all_ready() { local g n; for g in $guests; do n=${g%%:*}; [ "$(ready_count "$n")" -ge "$1" ] || return 1; done; }
wait_for 300 all_ready 1; check guests_booted $? "$(for g in $guests; do n=${g%%:*}; echo -n "$n: $(serial "$n" | grep -E 'TDPW-GUEST (boot|touched)' | tr -d '\r' | tr '\n' ' ')"; done)"
step guests_boot
quiesce :guests
for g in $guests; do compare_vm "${g%%:*}" ''; done
compare_host :guests
# The SMI each guest raised (build-guest-initramfs.sh) put its SMM address
# space (as_id 1) in use: its own root and tables, counted there (and, by
# the audits above, exactly the kernel's).
for g in $guests; do
  n=${g%%:*}
  smm=$(jq -c '[.model.roots.valid, (.model.tdp_pages.by_as_level[1] | add)]' "$res/snapshot-$n.json" 2>/dev/null)
  serial "$n" | grep -q 'TDPW-GUEST smi' && [ "$(jq '.[1] > 0' <<<"$smm" 2>/dev/null)" = true ]
  check "smm_address_space:$n" $? "[valid roots, as_id 1 tables]=$smm"
done
step guests_checks

# systemctl reload (SIGHUP): the same process, still active, says it reloaded.
systemctl reload tdpwatchd
rrc=$?
wait_for 10 sh -c "journalctl -u tdpwatchd -b --no-pager | grep -q 'SIGHUP: reloaded'"
[ "$rrc" = 0 ] && [ "$(systemctl is-active tdpwatchd)" = active ] && [ "$(systemctl show -P MainPID tdpwatchd)" = "$mp" ] &&
  journalctl -u tdpwatchd -b --no-pager | grep -q 'SIGHUP: reloaded'
check reload $? "rc=$rrc $(journalctl -u tdpwatchd -b --no-pager | grep -o 'SIGHUP: reloaded.*' | tail -n 1)"

# systemctl restart with the guests running: the new daemon finds them older
# than itself and adopts them from their live page tables (daemon/core/
# adoption.h) at its first quiescent tick.  Under the unit /proc/kallsyms is
# unreadable and quiet guests link no table, so the walk learns the direct
# map's base from a vCPU's root (bpf/vm_tables_iter.bpf.c).
systemctl restart tdpwatchd
rrc=$?
np=$(systemctl show -P MainPID tdpwatchd)
[ "$rrc" = 0 ] && [ "$(systemctl is-active tdpwatchd)" = active ] && [ "$np" != "$mp" ]
check restart $? "rc=$rrc pid $mp -> $np status='$(systemctl show -P StatusText tdpwatchd)'"
tracking() { tdpwatch snapshot -o json "$1" 2>/dev/null | jq -r .reconcile.tracking 2>/dev/null; }
all_adopted() { local g; for g in $guests; do [ "$(tracking "${g%%:*}")" = adopted ] || return 1; done; }
a0=$(ms)
wait_for 30 all_adopted
check restart_adopted $? "$(for g in $guests; do echo -n "${g%%:*}: $(tracking "${g%%:*}") "; done)after $(($(ms) - a0)) ms"
for g in $guests; do compare_vm "${g%%:*}" :restart; done
compare_host :restart
step restart

# virsh reboot (ACPI power button: the guest's acpid powers it off, libvirt
# resets it in the same QEMU process, the same KVM VM): it boots and touches
# its memory again; every figure exact again.
ga=${guests%% *}; ga=${ga%%:*}
pa=$(vm_pid "$ga")
virsh reboot --mode acpi "$ga" >>"$res/virsh.txt" 2>&1; check "virsh_reboot:$ga" $? "$(tail -n 1 "$res/virsh.txt")"
rebooted() { [ "$(ready_count "$ga")" -ge 2 ]; }
wait_for 300 rebooted
check "rebooted:$ga" $? "same QEMU pid: $pa -> $(vm_pid "$ga"); $(serial "$ga" | grep -c 'TDPW-GUEST boot') boots"
quiesce :reboot
for g in $guests; do compare_vm "${g%%:*}" :reboot; done
compare_host :reboot
step reboot

# The real Prometheus: every dashboard query answers with data for a guest,
# and no alert fires or is pending (the host is healthy: no false alarm).
bash /tdpw/box-prometheus.sh check "$ga" >"$res/prometheus-check.txt" 2>&1
check prometheus $? "$(tail -n 1 "$res/prometheus-check.txt")"
step prometheus

# virsh destroy (SIGKILL after SIGTERM) of one guest, virsh shutdown (ACPI,
# QEMU exits cleanly) of the other: both leave the daemon with no leak
# warning, their series leave /metrics, SecPageTables returns to 0.
for g in $guests; do
  n=${g%%:*}; p=$(vm_pid "$n"); d=$(vm_dbg "$n")
  if [ "$n" = "$ga" ]; then virsh destroy "$n" >>"$res/virsh.txt" 2>&1
  else virsh shutdown --mode acpi "$n" >>"$res/virsh.txt" 2>&1; fi
  check "stop:$n" $? "$(tail -n 1 "$res/virsh.txt")"
  wait_for 60 gone "$d" "$p" "$n"; check "vm_gone:$n" $? "debugfs dir, snapshot (exit 4), /metrics series of pid $p"
done
curl -sf http://127.0.0.1:9977/metrics >"$res/metrics-end.txt"
lw=$(awk '/^tdpwatch_leak_warnings_total / {print $2}' "$res/metrics-end.txt")
td=$(awk '/^tdpwatch_teardowns_total / {print $2}' "$res/metrics-end.txt")
[ "$lw" = 0 ] && [ "${td:-0}" -ge 2 ] 2>/dev/null; check no_leak $? "teardowns_total=$td leak_warnings_total=$lw (since the restart)"
journalctl -u tdpwatchd -b --no-pager >"$res/tdpwatchd.log" 2>&1
! grep -q 'leak:' "$res/tdpwatchd.log"; check no_leak_log $? "$(grep -m1 'leak:' "$res/tdpwatchd.log" | cut -c1-200)"
sp=$(sec_pages)
[ "$sp" = 0 ]; check SecPageTables_zero $? "SecPageTables=${sp} pages"
! dmesg | grep -qE 'cut here|WARNING: CPU|BUG:|Oops'; check no_kernel_warn $? "$(dmesg | grep -m1 -E 'cut here|WARNING: CPU|BUG:|Oops')"
for g in $guests; do virsh undefine "${g%%:*}" >>"$res/virsh.txt" 2>&1; cp "/var/log/libvirt/qemu/${g%%:*}.serial" "$res/" 2>/dev/null; done
cp /var/log/libvirt/qemu/*.log "$res/" 2>/dev/null
step stop

finish

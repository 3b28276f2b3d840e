# Scenarios of the nested bed (sourced by /init after lib.sh).  Each runs
# with the daemon watching from before its first VM starts, in the attach
# plan $PLAN, and compares at quiescent points (tests/nested/README.md).

# basic: one 256 MiB VM (first half 4K-backed, second half THP) touches all
# of its memory; figures while it lives; teardown clean.
sc_basic() {
  daemon_start "$PLAN" "/tmp/rec.basic.$PLAN" || return
  vmm_start basic --mem-mib 256 --touch-pages 65535 --thp || { daemon_stop; return; }
  local dir=$VMM_DIRS tgid=${VMM_DIRS%-*}
  check_vm live "$tgid" "$dir"
  check_sec live
  check_vms live "$tgid"
  vmm_stop basic
  wait_destroyed 1
  [ -d "/sys/kernel/debug/kvm/$dir" ] && fail "debugfs $dir still there after the VMM exited"
  [ -n "$(model_line "$tgid")" ] && fail "model still lists VM tgid $tgid after teardown: $(model_line "$tgid")"
  check_sec teardown
  check_probes teardown
  daemon_stop
  check_replay "/tmp/rec.basic.$PLAN" aggregated
}

# check_replay REC MODE: the daemon's recording of one VM life replays (ABI
# 2: structural records plus TDPW_EV_LEAF_STATS folds) to one clean
# teardown with no inconsistency, and says how many records crossed the
# ring for how many SPTE changes.  MODE aggregated: leaf-only changes did
# not cross it (bpf/HOOKS.md); full (--record-spte-stream): every one did.
check_replay() {
  local rec=$1 mode=$2 out=/tmp/replay.json records changes
  if ! tdpwatch replay "$rec" --output json >$out 2>/tmp/replay.err; then
    fail "tdpwatch replay $rec: $(head -c 400 /tmp/replay.err)"
    return
  fi
  records=$(sed -n 's/^  "events": \([0-9]*\),$/\1/p' $out)
  changes=$(grep -o '"spte_changed": [0-9]*' $out | head -n 1 | grep -o '[0-9]*$')
  check replay clean_teardowns 1 "$(grep -c '"clean": true' $out)"
  check replay abi_version 2 "$(grep -o '"abi_version": [0-9]*' $out | grep -o '[0-9]*$')"
  # Inconsistency objects are listed empty ("inconsistencies": {}) unless one was seen.
  check replay nonempty_inconsistencies 0 "$(grep -c '"inconsistencies": {$' $out)"
  echo "TDPW-RECORDS $CTX mode=$mode records=$records spte_changes=$changes"
  if [ -z "$records" ] || [ -z "$changes" ] || [ "$changes" -lt 1000 ]; then
    fail "replay: records '$records' for SPTE changes '$changes' (a VM life of this size makes thousands)"
  elif [ "$mode" = aggregated ] && [ $((records * 10)) -ge "$changes" ]; then
    fail "replay: $records records for $changes SPTE changes: leaf changes crossed the ring"
  elif [ "$mode" = full ] && [ "$records" -lt "$changes" ]; then
    fail "replay: $records records for $changes SPTE changes: the full stream lost some"
  fi
}

# sptestream: --record-spte-stream sends every SPTE change (the full stream,
# for bug reports) and the figures stay exact (the folds still count the
# leaves; the records say so with TDPW_F_LEAVES_COUNTED).
sc_sptestream() {
  local saved=$DAEMON_ARGS
  DAEMON_ARGS="$DAEMON_ARGS --record-spte-stream"
  daemon_start "$PLAN" "/tmp/rec.sptestream.$PLAN" || { DAEMON_ARGS=$saved; return; }
  DAEMON_ARGS=$saved
  vmm_start sptestream --mem-mib 64 --touch-pages 16383 --thp || { daemon_stop; return; }
  local dir=$VMM_DIRS tgid=${VMM_DIRS%-*}
  check_vm live "$tgid" "$dir"
  vmm_stop sptestream
  wait_destroyed 1
  check_probes teardown
  daemon_stop
  check_replay "/tmp/rec.sptestream.$PLAN" full
}

# multi: three VMMs of different sizes alive at once, destroyed in another
# order than created (B, C, A); every remaining VM checked after each step.
sc_multi() {
  daemon_start "$PLAN" || return
  vmm_start A --mem-mib 64 --touch-pages 16383 --thp || { daemon_stop; return; }
  vmm_start B --mem-mib 192 --touch-pages 49151 || { daemon_stop; return; }
  vmm_start C --mem-mib 32 --touch-pages 4000 --thp || { daemon_stop; return; }
  local v d live="A B C" n=0 pids
  for step in none B C A; do
    if [ "$step" != none ]; then
      vmm_stop "$step"
      n=$((n + 1))
      wait_destroyed $n
      live=$(echo " $live " | sed "s/ $step / /")
    fi
    for v in $live; do
      eval "d=\$VMM_DIRS_$v"
      check_vm "after-$step:$v" "${d%-*}" "$d"
    done
    check_sec "after-$step"
    pids=
    for v in $live; do eval "pids=\"\$pids \${VMM_DIRS_$v%%-*}\""; done
    check_vms "after-$step" "${pids:-none}"
  done
  check_probes end
  daemon_stop
}

# live: the daemon's figures of one VM while it lives; the daemon is stopped
# before the VM, so no teardown is judged (not in the registered runs: basic
# covers it, with its teardown).
sc_live() {
  daemon_start "$PLAN" || return
  vmm_start live --mem-mib 256 --touch-pages 65535 --thp || { daemon_stop; return; }
  check_vm live "${VMM_DIRS%-*}" "$VMM_DIRS"
  check_sec live
  check_probes live
  daemon_stop
  vmm_stop live
}

# nx: nx_huge_pages=force; the guest executes from every 2 MiB frame of its
# THP half (one NX split each); then NX recovery (ratio 1, short period)
# zaps every possible-NX page: the list rises and falls with the kernel's.
sc_nx() {
  local p=/sys/module/kvm/parameters nx0 ratio0 period0 t=0
  nx0=$(cat $p/nx_huge_pages) ratio0=$(cat $p/nx_huge_pages_recovery_ratio)
  period0=$(cat $p/nx_huge_pages_recovery_period_ms)
  echo 0 >$p/nx_huge_pages_recovery_ratio
  echo force >$p/nx_huge_pages || fail "cannot set nx_huge_pages=force"
  local mib=${NX_MIB:-64}
  local frames=$((mib / 4))
  if daemon_start "$PLAN" $NX_RECORD &&
    vmm_start nx --mem-mib "$mib" --touch-pages $((mib * 256 - 1)) --thp --exec-huge; then
    local dir=$VMM_DIRS tgid=${VMM_DIRS%-*}
    check split frames_executed $frames "$(sed -n 's/^vm exec .*frames=//p' /tmp/vmm.nx.out)"
    check split kernel_nx_lpage_splits $frames "$(cat /sys/kernel/debug/kvm/$dir/nx_lpage_splits)"
    check_vm split "$tgid" "$dir"
    check_sec split
    echo 200 >$p/nx_huge_pages_recovery_period_ms
    echo 1 >$p/nx_huge_pages_recovery_ratio
    while [ "$(cat /sys/kernel/debug/kvm/$dir/nx_lpage_splits)" != 0 ] && [ $t -lt 50 ]; do
      t=$((t + 1))
      sleep 0.2
    done
    echo 0 >$p/nx_huge_pages_recovery_ratio
    check recovered kernel_nx_lpage_splits 0 "$(cat /sys/kernel/debug/kvm/$dir/nx_lpage_splits)"
    check_vm recovered "$tgid" "$dir"
    check_sec recovered
    # 6.1 recovers in a kthread of its own: attributed through zap_sp (or,
    # in the tracepoint plan, counted as unattributed), never a VM.
    check_vms recovered "$tgid"
    check_unattributed recovered 0
    vmm_stop nx
    wait_destroyed 1
    check_sec teardown
    check_probes teardown
  fi
  daemon_stop
  echo "$nx0" >$p/nx_huge_pages
  echo "$period0" >$p/nx_huge_pages_recovery_period_ms
  echo "$ratio0" >$p/nx_huge_pages_recovery_ratio
}

# dirty: dirty logging on (eager split of the THP half), off (huge pages
# recovered by zapping the collapsible tables), then the memslot deleted.
sc_dirty() {
  daemon_start "$PLAN" || return
  vmm_start dirty --mem-mib 64 --touch-pages 16383 --thp --steps dirty-on,dirty-off,delete-slot ||
    { daemon_stop; return; }
  local dir=$VMM_DIRS tgid=${VMM_DIRS%-*} step
  check_vm touched "$tgid" "$dir"
  for step in dirty-on dirty-off delete-slot; do
    kill -USR1 "$VMM_PID_dirty"
    wait_for "vmm step $step done" /tmp/vmm.dirty.out 30 "$VMM_PID_dirty" || fail "VMM step $step"
    check_vm "$step" "$tgid" "$dir"
    check_sec "$step"
  done
  check_vms delete-slot "$tgid"
  check_unattributed delete-slot 0
  vmm_stop dirty
  wait_destroyed 1
  check_sec teardown
  check_probes teardown
  daemon_stop
}

# ---- Foreign contexts: SPTE changes made by tasks that are not the VMM ----
# Each runs one VM, makes the kernel change its mappings from another task
# (a shell, kcompactd/the writer of compact_memory, khugepaged, ksmd, memcg
# reclaim), and checks at every quiescent point that the figures equal the
# kernel's, that no task other than the VMM became a VM (check_vms), and how
# the changes were attributed (check_unattributed).

# foreign_end NAME TGID: teardown of a foreign-context scenario's VM.
foreign_end() {
  vmm_stop "$1"
  wait_destroyed 1
  check_vms teardown none
  check_sec teardown
  check_probes teardown
  daemon_stop
}

# softdirty: another process writes 4 to the VMM's clear_refs (as CRIU and
# memory trackers do): the soft-dirty walk invalidates the whole address
# space and KVM zaps every leaf from that process.  Then the guest touches
# its pages again.
sc_softdirty() {
  daemon_start "$PLAN" || return
  vmm_start sd --mem-mib 64 --touch-pages 16383 --thp --steps touch || { daemon_stop; return; }
  local dir=$VMM_DIRS tgid=${VMM_DIRS%-*} k
  check_vm touched "$tgid" "$dir"
  sh -c "echo 4 >/proc/$tgid/clear_refs" || fail "cannot write /proc/$tgid/clear_refs"
  k=$(kernel_figures "$dir")
  [ "${k%% *}" -lt 8000 ] || fail "premise: clear_refs left the kernel's leaves at '$k'"
  check_vm cleared "$tgid" "$dir"
  check_vms cleared "$tgid"
  check_unattributed cleared 1
  vmm_step sd touch
  check_vm retouched "$tgid" "$dir"
  check_sec retouched
  foreign_end sd
}

# compact: echo 1 >/proc/sys/vm/compact_memory migrates movable pages,
# guest memory among them, from the writer's context (KVM unmaps the moved
# pages through the mmu notifier).
sc_compact() {
  daemon_start "$PLAN" || return
  vmm_start cp --mem-mib 128 --touch-pages 32767 --thp || { daemon_stop; return; }
  local dir=$VMM_DIRS tgid=${VMM_DIRS%-*} m0 m1
  check_vm touched "$tgid" "$dir"
  m0=$(awk '/^pgmigrate_success/ {print $2}' /proc/vmstat)
  echo 1 >/proc/sys/vm/compact_memory
  m1=$(awk '/^pgmigrate_success/ {print $2}' /proc/vmstat)
  log "compaction migrated $((m1 - m0)) pages"
  check_vm compacted "$tgid" "$dir"
  check_vms compacted "$tgid"
  check_unattributed compacted 0
  check_sec compacted
  foreign_end cp
}

# khugepaged: the 4K-backed half becomes MADV_HUGEPAGE; khugepaged collapses
# its 2 MiB ranges (KVM zaps their 4K leaves from khugepaged), then the guest
# touches its pages again and faults 2M leaves in.
sc_khugepaged() {
  local kh=/sys/kernel/mm/transparent_hugepage/khugepaged sleep0 alloc0 scan0 t=0 k4 before
  sleep0=$(cat $kh/scan_sleep_millisecs) alloc0=$(cat $kh/alloc_sleep_millisecs)
  scan0=$(cat $kh/pages_to_scan)
  echo 50 >$kh/scan_sleep_millisecs
  echo 50 >$kh/alloc_sleep_millisecs
  echo 8192 >$kh/pages_to_scan
  if daemon_start "$PLAN" &&
    vmm_start kh --mem-mib 64 --touch-pages 16383 --thp --steps madvise-huge,touch; then
    local dir=$VMM_DIRS tgid=${VMM_DIRS%-*}
    check_vm touched "$tgid" "$dir"
    before=$(cat /sys/kernel/debug/kvm/$dir/pages_4k)
    vmm_step kh madvise-huge
    # Until khugepaged has collapsed (nearly) all of the 4K half: 16 ranges.
    while :; do
      k4=$(cat /sys/kernel/debug/kvm/$dir/pages_4k)
      [ "$k4" -lt $((before - 15 * 512)) ] && break
      t=$((t + 1))
      [ $t -ge 150 ] && break
      sleep 0.2
    done
    log "khugepaged: pages_4k $before -> $k4, full_scans $(cat $kh/full_scans)"
    [ "$k4" -lt "$before" ] || fail "premise: khugepaged collapsed nothing (pages_4k $before -> $k4)"
    check_vm collapsed "$tgid" "$dir"
    check_vms collapsed "$tgid"
    check_unattributed collapsed 0
    vmm_step kh touch
    check_vm retouched "$tgid" "$dir"
    check_sec retouched
    foreign_end kh
  else
    daemon_stop
  fi
  echo "$sleep0" >$kh/scan_sleep_millisecs
  echo "$alloc0" >$kh/alloc_sleep_millisecs
  echo "$scan0" >$kh/pages_to_scan
}

# ksm: the guest's touched pages are identical; MADV_MERGEABLE and ksmd
# merges them (write-protecting them: KVM zaps or, on 6.1, change_pte
# remaps from ksmd), then `echo 2 >run` unmerges them all from the writer's
# context (a COW break per page), then the guest touches its pages again.
sc_ksm() {
  local ksm=/sys/kernel/mm/ksm scan0 sleep0 t=0 shared
  scan0=$(cat $ksm/pages_to_scan) sleep0=$(cat $ksm/sleep_millisecs)
  echo 4000 >$ksm/pages_to_scan
  echo 20 >$ksm/sleep_millisecs
  if daemon_start "$PLAN" && vmm_start ks --mem-mib 64 --touch-pages 16383 --thp --steps mergeable,touch; then
    local dir=$VMM_DIRS tgid=${VMM_DIRS%-*}
    check_vm touched "$tgid" "$dir"
    echo 1 >$ksm/run
    vmm_step ks mergeable
    # Until ksmd merged pages and has done two more full scans.
    while :; do
      shared=$(cat $ksm/pages_sharing)
      [ "$shared" -gt 1000 ] && break
      t=$((t + 1))
      [ $t -ge 300 ] && break
      sleep 0.2
    done
    log "ksm: pages_sharing $shared pages_shared $(cat $ksm/pages_shared) full_scans $(cat $ksm/full_scans)"
    [ "$shared" -gt 0 ] || fail "premise: ksmd merged nothing"
    echo 0 >$ksm/run  # stop merging: the point is quiescent
    check_vm merged "$tgid" "$dir"
    check_vms merged "$tgid"
    echo 2 >$ksm/run  # unmerge every page, from this shell
    log "ksm: after unmerge pages_sharing $(cat $ksm/pages_sharing)"
    check_vm unmerged "$tgid" "$dir"
    check_vms unmerged "$tgid"
    check_unattributed unmerged 0
    vmm_step ks touch
    check_vm retouched "$tgid" "$dir"
    check_sec retouched
    foreign_end ks
  else
    daemon_stop
  fi
  echo 0 >$ksm/run
  echo "$scan0" >$ksm/pages_to_scan
  echo "$sleep0" >$ksm/sleep_millisecs
}

# zram_swap_on: a 256 MiB zram swap device (modules from /lib/tdpw/extra).
zram_swap_on() {
  local m
  if [ ! -e /sys/block/zram0 ]; then
    [ -f /lib/tdpw/extra.load ] || { fail "no zram module in the initramfs"; return 1; }
    while read -r m; do
      insmod "/lib/tdpw/extra/$m" || { fail "insmod $m failed"; return 1; }
    done </lib/tdpw/extra.load
  fi
  echo 256M >/sys/block/zram0/disksize || { fail "zram0 disksize"; return 1; }
  mkswap /dev/zram0 >/dev/null && swapon /dev/zram0 || { fail "swapon /dev/zram0"; return 1; }
}

zram_swap_off() {
  swapoff /dev/zram0 2>/dev/null
  echo 1 >/sys/block/zram0/reset 2>/dev/null
}

# reclaim: the VMM runs in its own memory cgroup; memory.reclaim, written by
# this shell, pushes guest pages out to zram swap (KVM ages and unmaps them
# from the writer's context), then the guest touches them again (swap-in).
sc_reclaim() {
  local cg=/sys/fs/cgroup swap
  zram_swap_on || return
  grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none $cg || { fail "cannot mount cgroup2"; zram_swap_off; return; }
  echo +memory >$cg/cgroup.subtree_control
  mkdir -p $cg/tdpw
  if daemon_start "$PLAN" &&
    VMM_CGROUP=$cg/tdpw vmm_start rc --mem-mib 64 --touch-pages 16383 --thp --steps touch; then
    local dir=$VMM_DIRS tgid=${VMM_DIRS%-*}
    check_vm touched "$tgid" "$dir"
    echo 48M >$cg/tdpw/memory.reclaim 2>/dev/null  # EAGAIN when short of it: fine
    swap=$(awk '/^SwapTotal/ {t = $2} /^SwapFree/ {f = $2} END {print t - f}' /proc/meminfo)
    log "reclaim: swap used ${swap} kB, memcg $(grep -E '^(anon|swapcached) ' $cg/tdpw/memory.stat | tr '\n' ' ')"
    [ "$swap" -gt 0 ] || fail "premise: memory.reclaim swapped nothing out"
    check_vm reclaimed "$tgid" "$dir"
    check_vms reclaimed "$tgid"
    check_unattributed reclaimed 0
    check_sec reclaimed
    vmm_step rc touch
    check_vm swapped-in "$tgid" "$dir"
    foreign_end rc
  else
    daemon_stop
  fi
  rmdir $cg/tdpw 2>/dev/null
  zram_swap_off
}

# late: a VM started before the daemon (64 MiB, THP half, touched).  The
# daemon adopts it from the kernel's live tables at its first quiescent tick
# (daemon/core/adoption.h): every figure exact, the audit empty, and its
# teardown judged like any other (clean: no false leak).
sc_late() {
  local dir tgid t=0
  vmm_start late --mem-mib 64 --touch-pages 16383 --thp || return
  dir=$VMM_DIRS tgid=${VMM_DIRS%-*}
  daemon_start "$PLAN" || { vmm_stop late; return; }
  # Until the daemon lists the VM (the iterator finds it on its 2nd tick).
  while [ -z "$(model_line "$tgid")" ] && [ $t -lt 50 ]; do
    t=$((t + 1))
    sleep 0.2
  done
  check_vm adopted "$tgid" "$dir" true
  check_sec adopted
  check_vms adopted "$tgid"
  vmm_stop late
  wait_destroyed 1
  check_sec teardown
  check_probes teardown
  daemon_stop
}

# latemix: VMs older than the daemon in the states the issue names: X after
# NX splits (nx_huge_pages=force, recovery off: 16 tables on the possible-NX
# list) and Y during dirty logging (its THP half eagerly split to 4K).  Both
# adopted, exact (the NX list too), audit clean, torn down clean.
sc_latemix() {
  local p=/sys/module/kvm/parameters nx0 ratio0 x dx y dy
  nx0=$(cat $p/nx_huge_pages) ratio0=$(cat $p/nx_huge_pages_recovery_ratio)
  echo 0 >$p/nx_huge_pages_recovery_ratio
  echo force >$p/nx_huge_pages || fail "cannot set nx_huge_pages=force"
  if vmm_start X --mem-mib 64 --touch-pages 16383 --thp --exec-huge &&
    vmm_start Y --mem-mib 64 --touch-pages 16383 --thp --steps dirty-on; then
    dx=$VMM_DIRS_X x=${VMM_DIRS_X%-*} dy=$VMM_DIRS_Y y=${VMM_DIRS_Y%-*}
    vmm_step Y dirty-on
    check split kernel_nx_lpage_splits 16 "$(cat /sys/kernel/debug/kvm/$dx/nx_lpage_splits)"
    if daemon_start "$PLAN"; then
      check_vm adopted:X "$x" "$dx" true
      check_vm adopted:Y "$y" "$dy" true
      check_sec adopted
      check_vms adopted "$x $y"
      vmm_stop X
      vmm_stop Y
      wait_destroyed 2
      check_sec teardown
      check_probes teardown
      daemon_stop
    fi
  fi
  echo "$nx0" >$p/nx_huge_pages
  echo "$ratio0" >$p/nx_huge_pages_recovery_ratio
}

# unadopted: `late` with the daemon told not to adopt (--adopt false): the
# audit must name every table of the VM as missing from the model, as many
# as SecPageTables holds (an audit that finds something).  The daemon stops
# before the VM: a VM that is not adopted is not judged at teardown here.
sc_unadopted() {
  local dir tgid t=0 args=$DAEMON_ARGS
  vmm_start un --mem-mib 64 --touch-pages 16383 --thp || return
  dir=$VMM_DIRS tgid=${VMM_DIRS%-*}
  DAEMON_ARGS="$args --adopt false"
  daemon_start "$PLAN"
  local ok=$?
  DAEMON_ARGS=$args
  [ $ok = 0 ] || { vmm_stop un; return; }
  while [ -z "$(model_line "$tgid")" ] && [ $t -lt 50 ]; do
    t=$((t + 1))
    sleep 0.2
  done
  check_audit not-adopted "$tgid" "$(sec_pages)"
  daemon_stop
  vmm_stop un
}

# restart: the operator's case of issue "exact from the first second": the
# daemon watches VM A from its creation, is stopped, VM B starts, the daemon
# starts again (A and B are older than it: adopted), VM C starts; every VM
# exact, the audit empty, and A, B, C torn down without a false leak.
# The second daemon runs as systemd runs the unit (ProtectKernelTunables=
# makes /proc/kallsyms unreadable): it has no page_offset_base, and quiet A
# and B link no table to learn the direct map from, so the walk must learn
# it from a vCPU's root (bpf/vm_tables_iter.bpf.c) to adopt them, before C.
sc_restart() {
  local a b c da db dc
  daemon_start "$PLAN" || return
  vmm_start A --mem-mib 64 --touch-pages 16383 --thp || { daemon_stop; return; }
  da=$VMM_DIRS_A a=${VMM_DIRS_A%-*}
  check_vm before-restart "$a" "$da"
  daemon_stop
  vmm_start B --mem-mib 96 --touch-pages 24575 || return
  db=$VMM_DIRS_B b=${VMM_DIRS_B%-*}
  mount --bind /dev/null /proc/kallsyms || fail "restart: bed bug: cannot hide /proc/kallsyms"
  daemon_start "$PLAN" || { umount /proc/kallsyms; return; }
  check_tracking adopted-without-kallsyms:A "$a" adopted
  check_tracking adopted-without-kallsyms:B "$b" adopted
  check_vm adopted-without-kallsyms:A "$a" "$da" true
  check_vm adopted-without-kallsyms:B "$b" "$db" true
  grep -q "learned the direct map's base" /tmp/daemon.log ||
    fail "restart: the daemon did not say it learned the direct map's base from a walk"
  vmm_start C --mem-mib 32 --touch-pages 8000 --thp || { daemon_stop; return; }
  dc=$VMM_DIRS_C c=${VMM_DIRS_C%-*}
  check_vm after-restart:A "$a" "$da" true
  check_vm after-restart:B "$b" "$db" true
  check_vm after-restart:C "$c" "$dc"
  check_sec after-restart
  check_vms after-restart "$a $b $c"
  vmm_stop A
  vmm_stop B
  vmm_stop C
  wait_destroyed 3
  check_vms teardown none
  check_sec teardown
  check_probes teardown
  daemon_stop
  umount /proc/kallsyms
}

# walkbench: the audit walk's cost (not registered: run by hand,
# run-nested.sh --runs fentry/walkbench).  One VM of WALK_MIB (default 512)
# MiB touched with 4K pages only (WALK_MIB/2 level-1 tables), then 5 fresh
# audits; each prints the walk's time (every VM: one walk) and table count.
sc_walkbench() {
  local mib=${WALK_MIB:-512} i out
  daemon_start "$PLAN" || return
  vmm_start wb --mem-mib "$mib" --touch-pages $((mib * 256 - 1)) || { daemon_stop; return; }
  local tgid=${VMM_DIRS%-*}
  check_vm touched "$tgid" "$VMM_DIRS"
  for i in 1 2 3 4 5; do
    out=$(tdpwatch audit "$tgid" -o json | tr -d '\n ')
    echo "TDPW-WALK $CTX mib=$mib tables=$(echo "$out" | sed -n 's/.*"tables":{"kernel":\([0-9]*\).*/\1/p') seconds=$(echo "$out" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')"
  done
  vmm_stop wb
  wait_destroyed 1
  daemon_stop
}

# ---- bench: the daemon's end-to-end cost on the fault path ----
# A measurement, not a test (not registered with ctest, no timed assertion:
# it fails only when a piece of it breaks).  Run by hand:
#   run-nested.sh --runs fentry/bench,kprobe/bench,tp/bench --timeout 3600 6.12
# (README.md, "bench").  Settable with run-nested.sh --guest-env
# 'BENCH_ROUNDS=5;BENCH_MIB=512;...':
#   BENCH_ROUNDS     paired rounds (default 5)
#   BENCH_MIB        the VM's memory (default 512), every 4K page touched
#   BENCH_SETTLE     seconds of rest before each timed run (default 2)
#   BENCH_DAEMON_ARGS  extra tdpwatchd arguments of the "on" runs
#   BENCH_BPFTRACE   0: no bpftrace runs even when the initramfs has bpftrace
# Output (README.md): TDPW-RECORDS, one TDPW-BENCH-ROUND per timed run,
# TDPW-BENCH (and TDPW-BENCH-BPFTRACE) summaries.

# bench_vmm: one life of the workload VM (created, every 4K page of BENCH_MIB
# touched once, destroyed, the VMM exited), in the foreground, timed with
# mono_ms; sets BENCH_MS and BENCH_VMM_PID.
bench_vmm() {
  local mib=${BENCH_MIB:-512} t0 t1 rc
  rm -f /tmp/bench.vmm.out
  sleep "${BENCH_SETTLE:-2}"
  t0=$(mono_ms)
  tdpw_test_vmm --mem-mib "$mib" --touch-pages $((mib * 256 - 1)) >/tmp/bench.vmm.out 2>&1 &
  BENCH_VMM_PID=$!
  wait $BENCH_VMM_PID
  rc=$?
  t1=$(mono_ms)
  BENCH_MS=$(awk "BEGIN { printf \"%.0f\", $t1 - $t0 }")
  if [ $rc != 0 ] || ! grep -q "vmm done" /tmp/bench.vmm.out; then
    fail "bench VMM exited with status $rc: $(cat /tmp/bench.vmm.out)"
    return 1
  fi
}

# bench_daemon_start: tdpwatchd as deployed (default --interval, exporter,
# audits), in $PLAN, no status file, no recording; until it is watching.
bench_daemon_start() {
  local t0
  t0=$(now_ms)
  rm -f /tmp/daemon.log
  # shellcheck disable=SC2046,SC2086
  tdpwatchd --log.level info $(plan_flags "$PLAN") $DAEMON_ARGS $BENCH_DAEMON_ARGS \
    >/tmp/daemon.out 2>/tmp/daemon.log &
  DAEMON_PID=$!
  if ! wait_for "watching;" /tmp/daemon.log 120 $DAEMON_PID; then
    fail "tdpwatchd did not start watching"
    sed 's/^/TDPW-DAEMON /' /tmp/daemon.log
    DAEMON_PID=
    return 1
  fi
  echo "TDPW-TIME $CTX daemon-start ms=$(($(now_ms) - t0))"
}

# bench_round MODE ROUND: one timed life of the workload VM with nothing
# attached (off), tdpwatchd (on) or the bpftrace one-liner (bpftrace).
bench_round() {
  local mode=$1 extra= n bt t0
  case $mode in
    on)
      bench_daemon_start || return 1
      bench_vmm || { daemon_stop; return 1; }
      daemon_stop
      # The daemon's life was exactly this VM's: its total is the VM's records.
      n=$(sed -n 's/.*events processed \([0-9]*\),.*/\1/p' /tmp/daemon.log | tail -n 1)
      extra=" records=${n:-none}"
      ;;
    bpftrace)
      rm -f /tmp/bt.out
      t0=$(now_ms)
      bpftrace -e 'tracepoint:kvmmmu:kvm_tdp_mmu_spte_changed { @[pid] = count(); }' >/tmp/bt.out 2>&1 &
      bt=$!
      if ! wait_for "Attaching" /tmp/bt.out 600 $bt; then
        fail "bpftrace did not attach: $(head -c 600 /tmp/bt.out)"
        kill -INT $bt 2>/dev/null
        wait $bt
        BENCH_BPFTRACE=0
        return 1
      fi
      echo "TDPW-TIME $CTX bpftrace-start ms=$(($(now_ms) - t0))"
      bench_vmm || { kill -INT $bt; wait $bt; return 1; }
      kill -INT $bt
      wait $bt
      # @[pid]: count, per task group: the VMM's, and every pid's.
      extra=" tp_hits_vmm=$(sed -n "s/^@\[$BENCH_VMM_PID\]: \([0-9]*\)$/\1/p" /tmp/bt.out)"
      extra="$extra tp_hits_all=$(awk -F': ' '/^@\[[0-9]+\]: / { n += $2 } END { printf "%d", n }' /tmp/bt.out)"
      ;;
    *) bench_vmm || return 1 ;;
  esac
  echo "TDPW-BENCH-ROUND plan=$PLAN kernel=$(uname -r) round=$2 mode=$mode ms=$BENCH_MS$extra"
  eval "BENCH_${mode}_$2=$BENCH_MS"
}

# bench_stats LIST: "median min max" of a list of numbers.
bench_stats() {
  echo "$1" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 }
    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.0f %.0f %.0f\n", m, v[1], v[NR] }'
}

# bench_summary MODE KEY: the KEY line, the summary of MODE's rounds against the off
# rounds of the same pairs: medians (min..max), ratio of the medians and the
# range of the per-pair ratios.
bench_summary() {
  local mode=$1 key=$2 i a b offs= ons= ratios= so sn
  for i in $(seq 1 "$BENCH_ROUNDS"); do
    eval "a=\${BENCH_off_$i:-} b=\${BENCH_${mode}_$i:-}"
    [ -n "$a" ] && [ -n "$b" ] || continue
    offs="$offs $a" ons="$ons $b"
    ratios="$ratios $(awk "BEGIN { printf \"%.3f\", $b / $a }")"
  done
  [ -n "$ons" ] || { log "bench: no complete $mode pair"; return; }
  # shellcheck disable=SC2046
  set -- $(bench_stats "$offs") $(bench_stats "$ons")
  so=$1 sn=$4
  echo "$key plan=$PLAN kernel=$(uname -r) mib=${BENCH_MIB:-512} pairs=$(echo $ratios | wc -w)" \
    "off_ms=$1($2..$3) ${mode}_ms=$4($5..$6)" \
    "ratio=$(awk "BEGIN { printf \"%.3f\", $sn / $so }")" \
    "spread=$(echo "$ratios" | tr ' ' '\n' | grep . | sort -n | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//; s/ /../')" \
    "clock=$BENCH_CLOCK"
}

# bench_records: TDPW-RECORDS, the ring records of one life of the basic
# workload (sc_basic's VM: 256 MiB, 4K half and THP half, every page
# touched): tdpwatch_events_processed_total (records read from the ring and
# applied, exporter/self_collector.cc) before the VM and after its teardown.
bench_records() {
  local before after total tgid
  daemon_start "$PLAN" || return 1
  before=$(bench_events_processed)
  vmm_start brec --mem-mib 256 --touch-pages 65535 --thp || { daemon_stop; return 1; }
  tgid=${VMM_DIRS%-*}
  vmm_stop brec
  wait_destroyed 1
  after=$(bench_events_processed)
  daemon_stop
  total=$(sed -n 's/.*events processed \([0-9]*\),.*/\1/p' /tmp/daemon.log | tail -n 1)
  echo "TDPW-RECORDS plan=$PLAN kernel=$(uname -r) workload=basic tgid=$tgid records=$((after - before))" \
    "events_processed_before=$before after=$after daemon_total=${total:-none}"
}

# The exporter's tdpwatch_events_processed_total once it holds still (two
# reads 0.6 s apart, 3 status intervals: the scrape may lag a snapshot).
bench_events_processed() {
  local a b t=0
  b=$(metrics | awk '/^tdpwatch_events_processed_total / { print $NF }')
  while :; do
    sleep 0.6
    a=$b
    b=$(metrics | awk '/^tdpwatch_events_processed_total / { print $NF }')
    [ -n "$b" ] && [ "$a" = "$b" ] && break
    t=$((t + 1))
    [ $t -ge 30 ] && break
  done
  printf '%.0f\n' "${b:-0}"
}

sc_bench() {
  local i bt=
  BENCH_ROUNDS=${BENCH_ROUNDS:-5}
  if [ -r /proc/timer_list ]; then BENCH_CLOCK=timer_list; else BENCH_CLOCK=uptime_10ms; fi
  bench_records
  if [ "${BENCH_BPFTRACE:-1}" = 0 ]; then
    log "bench: bpftrace runs off (BENCH_BPFTRACE=0)"
  elif command -v bpftrace >/dev/null 2>&1; then
    bt=1
  else
    log "bench: no bpftrace in the initramfs (run-nested.sh --bpftrace, README.md): no bpftrace runs"
  fi
  # One untimed-for-the-summary life first: the first VM of a boot pays for
  # memory the guest kernel never handed out before.
  bench_round off 0 || return
  for i in $(seq 1 "$BENCH_ROUNDS"); do
    bench_round off "$i" || return
    bench_round on "$i" || return
    if [ -n "$bt" ] && [ "${BENCH_BPFTRACE:-1}" != 0 ]; then bench_round bpftrace "$i"; fi
  done
  bench_summary on TDPW-BENCH
  [ -z "$bt" ] || bench_summary bpftrace TDPW-BENCH-BPFTRACE
}

# fixture: a small VM (8 MiB, THP half) recorded with --record, dumped to
# the console for tests/nested/fixtures/ (run-nested.sh --fixtures DIR).
sc_fixture() {
  local rec=/tmp/fixture-$(uname -r | cut -d. -f1-2)-$PLAN.tdpwrec
  daemon_start "$PLAN" "$rec" || return
  vmm_start fixture --mem-mib 8 --touch-pages 2047 --thp || { daemon_stop; return; }
  check_vm live "${VMM_DIRS%-*}" "$VMM_DIRS"
  check_sec live
  vmm_stop fixture
  wait_destroyed 1
  daemon_stop
  echo "TDPW-FILE-BEGIN $(basename "$rec")"
  gzip -9c "$rec" | base64
  echo "TDPW-FILE-END"
}

# nxfixture: sc_nx on an 8 MiB VM (2 NX splits), recorded and dumped like
# sc_fixture.
sc_nxfixture() {
  local rec=/tmp/fixture-nx-$(uname -r | cut -d. -f1-2)-$PLAN.tdpwrec
  NX_MIB=8 NX_RECORD=$rec sc_nx
  echo "TDPW-FILE-BEGIN $(basename "$rec")"
  gzip -9c "$rec" | base64
  echo "TDPW-FILE-END"
}

tdpw_main() {
  local t0 runs run sc before r w
  echo "TDPW-BOOTED kernel=$(uname -r) uptime_ms=$(now_ms)"
  KVM_ARGS=$(cmdline_param tdpw.kvm | tr ';' ' ')
  DAEMON_ARGS=$(cmdline_param tdpw.daemon_args | tr ';' ' ')
  DAEMON_LOG_LEVEL=$(cmdline_param tdpw.log)
  # run-nested.sh --guest-env 'NAME=VALUE;...': settings of the scenarios
  # (BENCH_ROUNDS, WALK_MIB, ...); anything else is refused.
  for w in $(cmdline_param tdpw.env | tr ';' ' '); do
    case $w in
      BENCH_*=* | WALK_MIB=* | NX_MIB=*) export "$w" && echo "TDPW-ENV $w" ;;
      *) fail "tdpw.env: '$w' is not a scenario setting (BENCH_*, WALK_MIB, NX_MIB)" ;;
    esac
  done
  # PLAN/SCENARIO pairs, e.g. fentry/basic,kprobe/multi,tp/live
  runs=$(cmdline_param tdpw.runs | tr ',' ' ')
  load_modules || { echo "TDPW-DONE pass=$PASSES fail=$FAILS"; return; }
  # THP only where the VMM asks (MADV_HUGEPAGE): a 4K-backed half and a huge half.
  echo madvise >/sys/kernel/mm/transparent_hugepage/enabled
  for run in ${runs:-fentry/basic}; do
    PLAN=${run%%/*} sc=${run#*/}
    CTX=$sc/$PLAN
    t0=$(now_ms)
    before=$FAILS
    echo "TDPW-BEGIN $CTX"
    # A mistyped run (SCENARIO/PLAN, a plan or scenario that does not exist)
    # must fail, not pass having checked nothing.
    if ! command -v "sc_$sc" >/dev/null 2>&1; then
      fail "no scenario '$sc' (runs are PLAN/SCENARIO: fentry/basic)"
    else
      case $PLAN in
        fentry | kprobe | tp) "sc_$sc" ;;
        *) fail "no plan '$PLAN' (fentry, kprobe, tp)" ;;
      esac
    fi
    [ -n "$DAEMON_PID" ] && daemon_stop
    for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null; done
    wait
    if [ "$FAILS" = "$before" ]; then r=PASS; else r=FAIL; fi
    echo "TDPW-SCENARIO $CTX $r ms=$(($(now_ms) - t0))"
  done
  CTX=end
  w=$(dmesg_warnings)
  check kernel dmesg_warnings 0 "$w"
  [ "$w" = 0 ] || dmesg | grep -A30 -E 'cut here|BUG:|Oops' | sed 's/^/TDPW-DMESG /' | head -n 80
  echo "TDPW-DONE pass=$PASSES fail=$FAILS uptime_ms=$(now_ms)"
}

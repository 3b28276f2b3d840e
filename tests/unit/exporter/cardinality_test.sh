#!/usr/bin/env bash
# cardinality_test.sh SOURCE_DIR [--print]: counts the series of the exporter's
# golden renders and checks them against exporter/README.md ("Series per VM
# (cardinality)"):
#   - per VM: the busiest VM of tests/unit/exporter/golden/busy_host.prom,
#     family by family against the README's table (every per-VM family of the
#     golden must have a row), and in total against "Series per VM: **N**";
#   - per host: busy_host's series without a vm label, "Series per host: **N**";
#   - per leak: after_leak.prom's series of the torn-down VM (only
#     tdpwatch_leak_vm_* left), "Series per leak: **N**".
# --print prints the counts (the README's numbers come from it) and checks nothing.
set -euo pipefail
src=${1:?usage: cardinality_test.sh SOURCE_DIR [--print]}
golden=$src/tests/unit/exporter/golden
readme=$src/exporter/README.md

# "vm|pid family" for every sample with a vm label; labels in any order.
vm_series() {
  grep -v '^#' "$1" | grep 'vm="' | while IFS= read -r line; do
    fam=${line%%\{*}
    vm=$(sed -E 's/.*[{,]vm="([^"]*)".*/\1/' <<<"$line")
    pid=$(sed -E 's/.*[{,]pid="([^"]*)".*/\1/' <<<"$line")
    echo "$vm|$pid $fam"
  done
}
busy=$(vm_series "$golden/busy_host.prom")
top=$(awk '{ print $1 }' <<<"$busy" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
per_vm=$(awk -v v="$top" '$1 == v' <<<"$busy" | wc -l)
per_host=$(grep -v '^#' "$golden/busy_host.prom" | grep -vc 'vm="')
leak=$(vm_series "$golden/after_leak.prom" | awk '{ fams[$1] = fams[$1] " " $2 } END { for (v in fams) print v, fams[v] }' |
  awk '{ only = 1; for (i = 2; i <= NF; ++i) if ($i !~ /^tdpwatch_leak_vm_/) only = 0; if (only) print $1 }' | head -1)
[ -n "$leak" ] || { echo "FAIL: after_leak.prom has no torn-down VM with leak series only" >&2; exit 1; }
per_leak=$(vm_series "$golden/after_leak.prom" | awk -v v="$leak" '$1 == v' | wc -l)

if [ "${2:-}" = --print ]; then
  echo "series per VM (busiest of busy_host.prom, $top): $per_vm"
  awk '{ print $1 }' <<<"$busy" | sort | uniq -c | sed 's/^/  VM /'
  echo "series per host (busy_host.prom, no vm label): $per_host"
  echo "series per leak (after_leak.prom, $leak): $per_leak"
  echo "per family, $top:"
  awk -v v="$top" '$1 == v { print $2 }' <<<"$busy" | sort | uniq -c
  exit 0
fi

fail=0
documented() {  # the N of "Series per WHAT: **N**"
  sed -n "s/.*Series per $1: \*\*\([0-9]*\)\*\*.*/\1/p" "$readme" | head -1
}
check() {  # what counted documented
  if [ -z "$3" ]; then
    echo "FAIL: exporter/README.md states no 'Series per $1: **N**'" >&2; fail=1
  elif [ "$2" -ne "$3" ]; then
    echo "FAIL: series per $1: $2 in the golden, exporter/README.md says $3: update it (or the golden)" >&2; fail=1
  else
    echo "series per $1: $2, as documented"
  fi
}
check VM "$per_vm" "$(documented VM)"
check host "$per_host" "$(documented host)"
check leak "$per_leak" "$(documented leak)"

# Family by family: the table's "busy_host" column.
fams=$(awk -v v="$top" '$1 == v { print $2 }' <<<"$busy" | sort | uniq -c)
for fam in $(awk '{ print $2 }' <<<"$busy" | sort -u); do
  n=$(awk -v f="$fam" '$2 == f { print $1 }' <<<"$fams"); n=${n:-0}
  row=$(sed -n "s/^| \`$fam\` | \([0-9]*\) |.*/\1/p" "$readme")
  if [ -z "$row" ]; then
    echo "FAIL: $fam is a per-VM family with no row in exporter/README.md's cardinality table" >&2; fail=1
  elif [ "$row" -ne "$n" ]; then
    echo "FAIL: $fam: $n series for $top in busy_host.prom, the table says $row" >&2; fail=1
  fi
done
exit $fail

#!/usr/bin/env bash
# cardinality_test.sh SOURCE_DIR: no VM in the busy_host golden
# (tests/unit/exporter/golden/busy_host.prom) has more series than
# exporter/README.md says a VM can have ("at most **N** series"), and at
# least one has exactly that many, so the documented number is neither
# exceeded nor stale.
set -euo pipefail
src=${1:?usage: cardinality_test.sh SOURCE_DIR}
golden=$src/tests/unit/exporter/golden/busy_host.prom
doc=$(sed -n 's/.*at most \*\*\([0-9]*\)\*\* *$/\1/p; s/.*A VM has at most \*\*\([0-9]*\)\*\*.*/\1/p' "$src/exporter/README.md" | head -1)
[ -n "$doc" ] || { echo "FAIL: exporter/README.md states no 'at most **N**' series per VM" >&2; exit 1; }
max=$(grep -v '^#' "$golden" | grep -o 'vm="[^"]*"' | sort | uniq -c | sort -rn | awk 'NR == 1 { print $1 }')
echo "series per VM: max $max in $golden, documented $doc"
[ "$max" -le "$doc" ] || { echo "FAIL: a VM has $max series, more than the $doc exporter/README.md documents" >&2; exit 1; }
[ "$max" -eq "$doc" ] || { echo "FAIL: exporter/README.md says $doc series per VM, the most is now $max: update it" >&2; exit 1; }

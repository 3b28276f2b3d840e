#!/usr/bin/env bash
# core_relocation_debian.sh CORE_CHECK OBJECT FAMILY...: runs tdpw_core_check
# on OBJECT against each family's kernel from fetch-debian-kernels.sh (the
# debian_kernels fixture), printing the era fields of each.  Fails, never
# skips, when a kernel or the object is missing.
set -uo pipefail

die() { echo "core_relocation_debian: FAIL: $*" >&2; exit 1; }
[ $# -ge 3 ] || die "usage: $0 CORE_CHECK OBJECT FAMILY..."
check=$1 object=$2; shift 2
cache=${TDPW_KERNEL_CACHE:-/var/cache/tdpwatch/kernels}

[ -n "$object" ] || die "no BPF object: bpf/ defines no tdpwatch_skel target and TDPW_CORE_CHECK_OBJECT is empty"
[ -f "$object" ] || die "$object missing: build the project (target tdpwatch_skel_gen) first"
[ -x "$check" ] || die "$check missing: build target tdpw_core_check"

failed=()
for fam in "$@"; do
  dir=$cache/$fam
  if [ ! -f "$dir/merged.btf" ] || [ ! -f "$dir/kernel.env" ]; then
    echo "core_relocation_debian: $fam: no $dir/merged.btf: the debian_kernels_fetch fixture failed" \
         "or did not run (scripts/kernels/fetch-debian-kernels.sh)" >&2
    failed+=("$fam")
    continue
  fi
  # shellcheck disable=SC1091
  . "$dir/kernel.env"
  echo "=== $fam: $PACKAGE $VERSION"
  if ! "$check" --fields --label "$fam ($RELEASE)" --btf "$dir/merged.btf" --kconfig "$dir/config" "$object"; then
    failed+=("$fam")
  fi
done
[ ${#failed[@]} -eq 0 ] || die "CO-RE relocation failed for: ${failed[*]}"
echo "core_relocation_debian: PASS ($*)"

#!/usr/bin/env bash
# fetch-debian-kernels.sh [--btf-merge PATH | --no-merged-btf] [FAMILY...]
#
# Fetches the newest Debian 12 kernel of each family (default: 6.1 6.12;
# -amd64 flavour only, never -cloud/-rt/-dbg/-unsigned) and lays out, per
# kernel release, what the CO-RE check and the nested QEMU bed need:
#
#   $TDPW_KERNEL_CACHE/                 default /var/cache/tdpwatch/kernels
#     <package>_<version>_amd64.deb     the download, reused when its SHA256
#                                       matches the archive's
#     <release>/                        dpkg -x of the package (boot/, lib/ ...)
#       vmlinuz                         the bzImage
#       irqbypass.ko ccp.ko kvm.ko kvm-amd.ko kvm-intel.ko (+ their modinfo
#                                       dependencies), decompressed
#       modules.load                    those modules, dependencies first
#       vmlinux.btf                     the kernel's BTF (.BTF of the ELF
#                                       vmlinux inside vmlinuz)
#       kvm.btf                         kvm.ko's split BTF (base: vmlinux.btf)
#       merged.btf                      vmlinux + kvm types in one file
#       config                          the kernel's config (boot/config-*)
#       kernel.env                      FAMILY PACKAGE VERSION RELEASE
#     <family> -> <release>             e.g. 6.1 -> 6.1.0-56-amd64
#
# merged.btf is written by tdpw_btf_merge (tests/kernels/btf_merge.cc), given
# by --btf-merge or $TDPW_BTF_MERGE (the CMake test passes it).
#
# Idempotent: a release whose products are complete for the same .deb is
# left alone.  Needs apt (Debian's mirrors), dpkg, kmod (modinfo), xz-utils,
# zstd, binutils (objcopy); apt-get update runs only when apt knows no
# package of a family.  Any failure exits non-zero with the reason.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TDPW_KERNEL_CACHE:-/var/cache/tdpwatch/kernels}
merge=${TDPW_BTF_MERGE:-}
want_merged=1
families=()
PRODUCTS_VERSION=1  # bump when the layout above changes: rebuilds every release

log() { echo "fetch-debian-kernels: $*"; }
die() { echo "fetch-debian-kernels: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    --btf-merge) merge=${2:?--btf-merge needs a path}; shift 2 ;;
    --no-merged-btf) want_merged=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) families+=("$1"); shift ;;
  esac
done
[ ${#families[@]} -gt 0 ] || families=(6.1 6.12)

for tool in apt-cache apt-get dpkg-deb modinfo objcopy xz zstd sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
if [ "$want_merged" = 1 ]; then
  [ -n "$merge" ] || merge=$(command -v tdpw_btf_merge || true)
  if [ -z "$merge" ] || [ ! -x "$merge" ]; then
    die "merged.btf needs tdpw_btf_merge: build it (cmake target tdpw_btf_merge) and pass --btf-merge PATH, or --no-merged-btf"
  fi
fi

# Package-name pattern of a family's -amd64 image.
pattern() {
  case $1 in
    6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
    6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
    *) die "unknown family $1 (known: 6.1 6.12)" ;;
  esac
}

newest_package() {
  apt-cache search --names-only "^linux-image-$1" 2>/dev/null | awk '{print $1}' | grep -E "$(pattern "$1")" | sort -V | tail -n 1
}

apt_updated=0
resolve() {
  local pkg
  pkg=$(newest_package "$1")
  if [ -z "$pkg" ] && [ "$apt_updated" = 0 ]; then
    [ "$(id -u)" = 0 ] || die "apt knows no linux-image for $1 and apt-get update needs root"
    log "apt knows no linux-image for $1: apt-get update"
    apt-get update -qq || die "apt-get update failed"
    apt_updated=1
    pkg=$(newest_package "$1")
  fi
  [ -n "$pkg" ] || die "no package matches $(pattern "$1") (is a Debian 12 mirror in sources.list?)"
  echo "$pkg"
}

field() { apt-cache show --no-all-versions "$1" | sed -n "s/^$2: //p" | head -n 1; }

# fetch PACKAGE VERSION SHA256 -> prints the .deb path
fetch() {
  local pkg=$1 ver=$2 sha=$3 deb t0
  deb="$cache/${pkg}_${ver//:/%3a}_amd64.deb"
  if [ -f "$deb" ] && echo "$sha  $deb" | sha256sum -c --status; then
    log "$pkg $ver: cached $(basename "$deb")" >&2
  else
    rm -f "$deb"
    t0=$(date +%s.%N)
    # As root apt drops to _apt for downloads, which cannot write a root-only
    # cache: download as ourselves.
    (cd "$cache" && apt-get download -q=2 -o APT::Sandbox::User="$(id -un)" "$pkg=$ver") ||
      die "apt-get download $pkg=$ver failed (network or mirror?)"
    [ -f "$deb" ] || die "apt-get download left no $deb"
    echo "$sha  $deb" | sha256sum -c --status || die "$deb: SHA256 differs from the archive's"
    log "$pkg $ver: downloaded $(( $(stat -c %s "$deb") / 1000000 )) MB in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s" >&2
  fi
  echo "$deb"
}

# decompress_module SRC DST: .ko, .ko.xz, .ko.zst or .ko.gz -> plain .ko
decompress_module() {
  case $1 in
    *.ko.xz) xz -dc "$1" >"$2" ;;
    *.ko.zst) zstd -dcq "$1" >"$2" ;;
    *.ko.gz) gzip -dc "$1" >"$2" ;;
    *.ko) cp "$1" "$2" ;;
    *) die "$1: not a module" ;;
  esac
}

# Builds every product in DIR (a fresh dpkg -x of the package).
build_products() {
  local dir=$1 release=$2 moddir queue m f deps order=()
  moddir="$dir/lib/modules/$release/kernel"
  [ -d "$moddir" ] || die "$dir: no lib/modules/$release in the package"
  cp "$dir/boot/vmlinuz-$release" "$dir/vmlinuz" || die "no boot/vmlinuz-$release in the package"
  cp "$dir/boot/config-$release" "$dir/config" || die "no boot/config-$release in the package"

  # Modules and their dependencies (no modules.dep in the package: modinfo).
  declare -A seen=()
  queue=(kvm kvm-amd kvm-intel irqbypass ccp)
  while [ ${#queue[@]} -gt 0 ]; do
    m=${queue[0]//_/-}; queue=("${queue[@]:1}")
    [ -n "${seen[$m]:-}" ] && continue
    f=$(find "$moddir" \( -name "$m.ko*" -o -name "${m//-/_}.ko*" \) | head -n 1)
    [ -n "$f" ] || die "module $m not found under $moddir"
    decompress_module "$f" "$dir/$m.ko" || die "cannot decompress $f"
    deps=$(modinfo -F depends "$dir/$m.ko") || die "modinfo $m.ko failed"
    seen[$m]=${deps:-none}
    [ -n "$deps" ] && IFS=, read -r -a more <<<"$deps" && queue+=("${more[@]}")
  done
  # Load order: a module after its dependencies.
  local placed=" " progress
  while [ ${#order[@]} -lt ${#seen[@]} ]; do
    progress=0
    for m in $(printf '%s\n' "${!seen[@]}" | sort); do
      [[ $placed == *" $m "* ]] && continue
      local ok=1 d
      for d in ${seen[$m]//,/ }; do
        [ "$d" = none ] || [[ $placed == *" ${d//_/-} "* ]] || ok=0
      done
      [ $ok = 1 ] && order+=("$m") && placed+="$m " && progress=1
    done
    [ $progress = 1 ] || die "module dependency cycle among ${!seen[*]}"
  done
  printf '%s.ko\n' "${order[@]}" >"$dir/modules.load"
  for m in "${order[@]}"; do log "  $m.ko (depends: ${seen[$m]})"; done

  # BTF.
  local out
  out=$("$here/extract-vmlinux.sh" "$dir/vmlinuz" "$dir/vmlinux.tmp") || die "$release: no vmlinux in vmlinuz"
  log "  $out"
  objcopy --dump-section .BTF="$dir/vmlinux.btf" "$dir/vmlinux.tmp" /dev/null 2>/dev/null ||
    die "$release: vmlinux has no .BTF section (CONFIG_DEBUG_INFO_BTF off?)"
  rm -f "$dir/vmlinux.tmp"
  objcopy --dump-section .BTF="$dir/kvm.btf" "$dir/kvm.ko" /dev/null 2>/dev/null ||
    die "$release: kvm.ko has no .BTF section (CONFIG_DEBUG_INFO_BTF_MODULES off?)"
  log "  vmlinux.btf $(stat -c %s "$dir/vmlinux.btf") bytes, kvm.btf $(stat -c %s "$dir/kvm.btf") bytes"
  if [ "$want_merged" = 1 ]; then
    out=$("$merge" "$dir/vmlinux.btf" "$dir/kvm.btf" "$dir/merged.btf") || die "$release: tdpw_btf_merge failed"
    log "  $out"
  fi
}

mkdir -p "$cache" || die "cannot create $cache"
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"

# The newest package of family $1 as apt knows it: sets pkg, ver, sha,
# release, dir (its cache directory) and stamp (what a complete cache holds).
choose() {
  pkg=$(resolve "$1")
  ver=$(field "$pkg" Version)
  sha=$(field "$pkg" SHA256)
  if [ -z "$ver" ] || [ -z "$sha" ]; then die "apt-cache show $pkg: no Version/SHA256"; fi
  release=${pkg#linux-image-}
  dir="$cache/$release"
  stamp="products=$PRODUCTS_VERSION deb=$sha merged=$want_merged"
  log "$1: $pkg $ver"
}

for fam in "${families[@]}"; do
  choose "$fam"
  if ! deb=$(fetch "$pkg" "$ver" "$sha"); then
    # Package lists older than the mirror name a .deb it no longer has:
    # refresh them once and take the newest again.
    [ "$apt_updated" = 0 ] && [ "$(id -u)" = 0 ] || exit 1
    log "$fam: download failed: apt-get update, then once more"
    apt-get update -qq || die "apt-get update failed"
    apt_updated=1
    choose "$fam"
    deb=$(fetch "$pkg" "$ver" "$sha")
  fi

  if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$stamp" ]; then
    log "$fam: $dir complete, kept"
  else
    t0=$(date +%s.%N)
    rm -rf "$dir" "$dir.new"
    mkdir -p "$dir.new"
    dpkg-deb -x "$deb" "$dir.new" || die "dpkg -x $deb failed"
    log "$fam: dpkg -x in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s"
    build_products "$dir.new" "$release"
    printf 'FAMILY=%s\nPACKAGE=%s\nVERSION=%s\nRELEASE=%s\n' "$fam" "$pkg" "$ver" "$release" >"$dir.new/kernel.env"
    echo "$stamp" >"$dir.new/.complete"
    mv "$dir.new" "$dir"
    log "$fam: $dir ready in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s"
  fi
  ln -sfn "$release" "$cache/$fam"
done
log "done: ${families[*]} in $cache"

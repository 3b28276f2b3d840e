#!/usr/bin/env bash
# fetch-debian-kernels.sh [--btf-merge PATH | --no-merged-btf] [FAMILY...]
#
# Fetches the newest Debian kernel of each family (default: 6.1 6.12 6.19
# 7.2; -amd64 flavour only, never -cloud/-rt/-dbg/-unsigned) and lays out,
# per kernel release, what the CO-RE check and the nested QEMU bed need:
#
#   family  suite                          packaging
#   6.1     bookworm (the machine's apt)   linux-image-R (boot/, lib/modules/)
#   6.12    bookworm (the machine's apt)   linux-image-R
#   6.19    trixie-backports (private)     linux-binary-R (vmlinuz) +
#   7.2     sid, trixie-backports (priv.)  linux-modules-R + linux-base-R (config)
#
# "private": apt runs against its own sources list and package lists under
# $TDPW_KERNEL_CACHE/apt (refreshed when a family is not found or a
# download fails); the machine's own apt configuration is never touched.
# The archive drops a superseded release's linux-modules/linux-base from
# its index before the signed linux-binary (seen with 6.19.14 in
# trixie-backports): such a package is fetched from the pool by its name
# and version, without an index checksum; the nested bed then boots with
# module.sig_enforce=1, so the kernel itself (whose package is checked)
# refuses any module Debian did not sign.
#
#   $TDPW_KERNEL_CACHE/                 default /var/cache/tdpwatch/kernels
#     <package>_<version>_amd64.deb     the downloads, reused when their
#                                       SHA256 matches the archive's
#     <release>/                        dpkg -x of the package(s)
#       vmlinuz                         the bzImage
#       irqbypass.ko ccp.ko kvm.ko kvm-amd.ko kvm-intel.ko (+ their modinfo
#                                       dependencies), decompressed
#       modules.load                    those modules, dependencies first
#       vmlinux.btf                     the kernel's BTF (.BTF of the ELF
#                                       vmlinux inside vmlinuz)
#       kvm.btf                         kvm.ko's split BTF (base: vmlinux.btf)
#       merged.btf                      vmlinux + kvm types in one file
#       config                          the kernel's config
#       kernel.env                      FAMILY PACKAGE VERSION RELEASE UNINDEXED
#     <family> -> <release>             e.g. 6.1 -> 6.1.0-56-amd64
#
# merged.btf is written by tdpw_btf_merge (tests/kernels/btf_merge.cc), given
# by --btf-merge or $TDPW_BTF_MERGE (the CMake test passes it).
#
# Idempotent: a release whose products are complete for the same .debs is
# left alone.  Needs apt (Debian's mirrors), dpkg, kmod (modinfo), xz-utils,
# zstd, binutils (objcopy), curl (pool fallback); apt-get update runs only
# when apt knows no package of a family.  Any failure exits non-zero with
# the reason.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TDPW_KERNEL_CACHE:-/var/cache/tdpwatch/kernels}
merge=${TDPW_BTF_MERGE:-}
want_merged=1
families=()
PRODUCTS_VERSION=2  # bump when the layout above changes: rebuilds every release

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
[ ${#families[@]} -gt 0 ] || families=(6.1 6.12 6.19 7.2)

for tool in apt-cache apt-get dpkg-deb modinfo objcopy xz zstd sha256sum curl; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
if [ "$want_merged" = 1 ]; then
  [ -n "$merge" ] || merge=$(command -v tdpw_btf_merge || true)
  if [ -z "$merge" ] || [ ! -x "$merge" ]; then
    die "merged.btf needs tdpw_btf_merge: build it (cmake target tdpw_btf_merge) and pass --btf-merge PATH, or --no-merged-btf"
  fi
fi

# Package-name pattern of a family's -amd64 kernel package: linux-image-R
# for the classic packaging, linux-binary-R (the image alone) for the split
# one, whose modules and config are in linux-modules-R and linux-base-R.
pattern() {
  case $1 in
    6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
    6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
    6.19) echo '^linux-binary-6\.19\.[0-9]+\+deb1[0-9]-amd64$' ;;
    7.2) echo '^linux-binary-7\.2\.[0-9]+\+deb1[0-9]-amd64$' ;;
    *) die "unknown family $1 (known: 6.1 6.12 6.19 7.2)" ;;
  esac
}
# Families not in Debian 12 come from newer suites, through private lists.
private_suites() {
  case $1 in
    6.19) echo "trixie-backports" ;;
    7.2) echo "sid trixie-backports" ;;
    *) echo "" ;;
  esac
}

# apt against the machine's configuration, or against the private one.
apt_dir=$cache/apt
apt_opts() {
  [ -n "$(private_suites "$1")" ] || return 0
  printf '%s\n' -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/none" \
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::status=$apt_dir/status" \
    -o "Acquire::Languages=none"
}
write_private_sources() {
  local s
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/none"
  : >"$apt_dir/status"
  : >"$apt_dir/sources.list.new"
  for s in trixie-backports sid; do
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $s main" \
      >>"$apt_dir/sources.list.new"
  done
  mv "$apt_dir/sources.list.new" "$apt_dir/sources.list"
}
apt_c() { local fam=$1; shift; mapfile -t o < <(apt_opts "$fam"); apt-cache "${o[@]}" "$@"; }
apt_g() { local fam=$1; shift; mapfile -t o < <(apt_opts "$fam"); apt-get "${o[@]}" "$@"; }

# (Nothing, not a failure, when none matches: set -e and pipefail.)
newest_package() {
  { apt_c "$1" search --names-only "$(pattern "$1" | sed 's/\[0-9\]+.*//')" 2>/dev/null || true; } |
    awk '{print $1}' | { grep -E "$(pattern "$1")" || true; } | sort -V | tail -n 1
}

declare -A apt_updated=()
apt_update() {
  local fam=$1 key=machine
  [ -n "$(private_suites "$fam")" ] && key=private
  [ -z "${apt_updated[$key]:-}" ] || return 1
  if [ $key = private ]; then
    write_private_sources
    log "private package lists ($(private_suites "$fam")): apt-get update"
    apt_g "$fam" update -qq -o APT::Sandbox::User="$(id -un)" || die "apt-get update of the private lists in $apt_dir failed (network or mirror?)"
  else
    [ "$(id -u)" = 0 ] || die "apt knows no kernel of $fam and apt-get update needs root"
    log "apt knows no kernel of $fam: apt-get update"
    apt-get update -qq || die "apt-get update failed"
  fi
  apt_updated[$key]=1
}

# resolve FAMILY: sets pkg to the family's newest kernel package, updating
# the package lists once when they know none (not in a subshell: the
# update is remembered).
resolve() {
  if [ -n "$(private_suites "$1")" ] && ! ls "$apt_dir/lists/"*Packages* >/dev/null 2>&1; then
    apt_update "$1" || true
  fi
  pkg=$(newest_package "$1")
  if [ -z "$pkg" ] && apt_update "$1"; then
    pkg=$(newest_package "$1")
  fi
  if [ -z "$pkg" ] && [ -n "$(private_suites "$1")" ]; then
    # sid and backports drop a series once a newer one lands: take the
    # next series the archive still has (its newest release), and say so.
    pkg=$(successor_package "$1")
    [ -z "$pkg" ] || log "warning: no $1 kernel is left in $(private_suites "$1"); family $1 takes $pkg, the next series there" >&2
  fi
  [ -n "$pkg" ] || die "no package matches $(pattern "$1") (is a Debian mirror reachable? suites: $(private_suites "$1"))"
}

# The newest linux-binary of the lowest series above family $1 (X.Y) in the
# private suites, or nothing.
successor_package() {
  local series
  series=$({ apt_c "$1" search --names-only '^linux-binary-[0-9]' 2>/dev/null || true; } | awk '{print $1}' |
    { grep -E '^linux-binary-[0-9]+\.[0-9]+\.[0-9]+\+deb1[0-9]-amd64$' || true; } |
    sed -E 's/^linux-binary-([0-9]+\.[0-9]+)\..*/\1/' | sort -uV |
    awk -v fam="$1" 'BEGIN { split(fam, f, ".") } { split($0, v, "."); if (v[1] > f[1] || (v[1] == f[1] && v[2] > f[2])) { print; exit } }')
  [ -n "$series" ] || return 0
  { apt_c "$1" search --names-only "^linux-binary-${series//./\\.}\\." 2>/dev/null || true; } |
    awk '{print $1}' | { grep -E "^linux-binary-${series//./\\.}\\.[0-9]+\\+deb1[0-9]-amd64$" || true; } |
    sort -V | tail -n 1
}

# field FAMILY PACKAGE FIELD, empty when the index does not list PACKAGE.
field() { apt_c "$1" show --no-all-versions "$2" 2>/dev/null | sed -n "s/^$3: //p" | head -n 1; }

# fetch FAMILY PACKAGE VERSION SHA256 [POOL] -> prints the .deb path.
# SHA256 empty: the index does not list PACKAGE; it comes from POOL (the
# pool directory of its source package) by name and version.
fetch() {
  local fam=$1 pkg=$2 ver=$3 sha=$4 pool=${5:-} deb t0
  deb="$cache/${pkg}_${ver//:/%3a}_amd64.deb"
  if [ -n "$sha" ] && [ -f "$deb" ] && echo "$sha  $deb" | sha256sum -c --status; then
    log "$pkg $ver: cached $(basename "$deb")" >&2
  elif [ -z "$sha" ] && [ -f "$deb" ] && dpkg-deb -f "$deb" Package >/dev/null 2>&1; then
    log "$pkg $ver: cached $(basename "$deb") (not in the index: no checksum)" >&2
  else
    rm -f "$deb"
    t0=$(date +%s.%N)
    if [ -n "$sha" ]; then
      # As root apt drops to _apt for downloads, which cannot write a
      # root-only cache: download as ourselves.
      (cd "$cache" && apt_g "$fam" download -q=2 -o APT::Sandbox::User="$(id -un)" "$pkg=$ver") ||
        { echo "fetch-debian-kernels: apt-get download $pkg=$ver failed (network or mirror?)" >&2; return 1; }
      [ -f "$deb" ] || die "apt-get download left no $deb"
      echo "$sha  $deb" | sha256sum -c --status || die "$deb: SHA256 differs from the archive's"
    else
      [ -n "$pool" ] || die "$pkg $ver: not in the archive's index and no pool to fetch it from"
      curl -fsS --retry 2 -o "$deb.part" "http://deb.debian.org/debian/$pool/${pkg}_${ver//:/%3a}_amd64.deb" ||
        { rm -f "$deb.part"; echo "fetch-debian-kernels: $pkg $ver is neither in the index nor in the pool ($pool)" >&2; return 1; }
      [ "$(dpkg-deb -f "$deb.part" Package 2>/dev/null)" = "$pkg" ] && [ "$(dpkg-deb -f "$deb.part" Version)" = "$ver" ] ||
        { rm -f "$deb.part"; die "$pkg $ver from the pool is not that package"; }
      mv "$deb.part" "$deb"
      log "$pkg $ver: not in the archive's index (superseded); fetched from the pool without a checksum" >&2
    fi
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
  local f1
  moddir="$dir/lib/modules/$release/kernel"
  [ -d "$moddir" ] || moddir="$dir/usr/lib/modules/$release/kernel"
  [ -d "$moddir" ] || die "$dir: no lib/modules/$release in the package(s)"
  # Classic packaging: boot/vmlinuz-R, boot/config-R; split (linux-binary
  # and linux-base, 7.x): usr/lib/modules/R/{vmlinuz,config}.
  for f1 in "$dir/boot/vmlinuz-$release" "$dir/usr/lib/modules/$release/vmlinuz" ""; do
    [ -z "$f1" ] && die "no vmlinuz of $release in the package(s)"
    [ -f "$f1" ] && cp "$f1" "$dir/vmlinuz" && break
  done
  for f1 in "$dir/boot/config-$release" "$dir/usr/lib/modules/$release/config" ""; do
    [ -z "$f1" ] && die "no config of $release in the package(s)"
    [ -f "$f1" ] && cp "$f1" "$dir/config" && break
  done

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

# The newest kernel of family $1 as apt knows it: sets pkg, ver, release,
# dir (its cache directory), parts (PACKAGE VERSION SHA256 POOL per line:
# the image, and for the split packaging its modules and base) and stamp
# (what a complete cache holds).
choose() {
  local fam=$1 sha src part psha
  resolve "$fam"
  ver=$(field "$fam" "$pkg" Version)
  sha=$(field "$fam" "$pkg" SHA256)
  if [ -z "$ver" ] || [ -z "$sha" ]; then die "apt-cache show $pkg: no Version/SHA256"; fi
  parts="$pkg $ver $sha -"
  case $pkg in
    linux-image-*) release=${pkg#linux-image-} ;;
    linux-binary-*)
      release=${pkg#linux-binary-}
      for part in "linux-modules-$release" "linux-base-$release"; do
        psha=$(field "$fam" "$part" SHA256)
        if [ -n "$psha" ]; then
          [ "$(field "$fam" "$part" Version)" = "$ver" ] || die "$part: index version differs from $pkg's $ver"
        else
          psha=-
        fi
        # Both come from the source package linux (the image from
        # linux-signed-amd64), at the image's version.
        parts+=$'\n'"$part $ver $psha pool/main/l/linux"
      done ;;
  esac
  dir="$cache/$release"
  stamp="products=$PRODUCTS_VERSION merged=$want_merged debs=$(echo "$parts" | awk '{printf "%s:%s:%s ", $1, $2, $3}')"
  log "$fam: $pkg $ver"
}

fetch_all() {
  local p v h pool
  debs=() unindexed=()
  while read -r p v h pool; do
    [ "$h" = - ] && h="" && unindexed+=("$p")
    [ "$pool" = - ] && pool=""
    debs+=("$(fetch "$1" "$p" "$v" "$h" "$pool")") || return 1
  done <<<"$parts"
}

# One family, in a subshell of its own (die ends only it).
fetch_family() {
  local fam=$1
  choose "$fam"
  if ! fetch_all "$fam"; then
    # Package lists older than the mirror name a .deb it no longer has:
    # refresh them once and take the newest again.
    if [ -z "$(private_suites "$fam")" ] && [ "$(id -u)" != 0 ]; then exit 1; fi
    log "$fam: download failed: apt-get update, then once more"
    apt_update "$fam" || exit 1
    choose "$fam"
    fetch_all "$fam" || die "$fam: download failed again"
  fi

  if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$stamp" ]; then
    log "$fam: $dir complete, kept"
  else
    t0=$(date +%s.%N)
    rm -rf "$dir" "$dir.new"
    mkdir -p "$dir.new"
    for deb in "${debs[@]}"; do
      dpkg-deb -x "$deb" "$dir.new" || die "dpkg -x $deb failed"
    done
    log "$fam: dpkg -x in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s"
    build_products "$dir.new" "$release"
    printf 'FAMILY=%s\nPACKAGE=%s\nVERSION=%s\nRELEASE=%s\nUNINDEXED="%s"\n' \
      "$fam" "$pkg" "$ver" "$release" "${unindexed[*]}" >"$dir.new/kernel.env"
    echo "$stamp" >"$dir.new/.complete"
    mv "$dir.new" "$dir"
    log "$fam: $dir ready in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s"
  fi
  ln -sfn "$release" "$cache/$fam"
}

for fam in "${families[@]}"; do pattern "$fam" >/dev/null; done  # unknown families: stop here

# A family that cannot be fetched does not stop the others; one whose
# previous release is complete in the cache keeps it (with a warning).
failed=()
for fam in "${families[@]}"; do
  if ! (fetch_family "$fam"); then
    if [ -f "$cache/$fam/.complete" ]; then
      log "warning: $fam: fetching failed (above); keeping the cached $(readlink "$cache/$fam")"
    else
      failed+=("$fam")
    fi
  fi
done
[ ${#failed[@]} -eq 0 ] || die "no kernel for: ${failed[*]} (reasons above)"
log "done: ${families[*]} in $cache"

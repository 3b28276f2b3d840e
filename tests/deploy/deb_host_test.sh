#!/usr/bin/env bash
# deb_host_test.sh SOURCE_DIR BUILD_DIR
#
# The Debian package for real on this machine: cpack builds the .deb (into a
# temporary directory, leaving the build tree alone), dpkg -i installs it,
# the files are where they belong, the installed unit verifies, the
# installed tdpwatchd runs under the installed unit's sandbox
# (run-as-unit.sh: no systemd as PID 1 here) and serves /metrics with its
# probes attached (without /dev/kvm too: tdpwatch_kvm_device_present says so);
# then dpkg -r and --purge leave nothing behind and nothing
# running.  Serialised across build trees with a lock; refuses to touch a
# tdpwatch package it did not install.  Needs root, dpkg, cpack, curl.
set -euo pipefail
src=${1:?usage: deb_host_test.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: deb_host_test.sh SOURCE_DIR BUILD_DIR}
# shellcheck source=../host/support/lib.sh
. "$(dirname "$0")/../host/support/lib.sh"
require_host dpkg dpkg-deb cpack curl systemd-analyze

exec 9>/run/lock/tdpwatch-deb-host-test.lock
flock -w 600 9 || fail "another deb_host_test holds /run/lock/tdpwatch-deb-host-test.lock"
if dpkg-query -W -f='${Status}' tdpwatch 2>/dev/null | grep -q installed; then
  fail "a tdpwatch package is already installed here; not touching it (dpkg --purge tdpwatch first)"
fi

TDPW_TMP=$(mktemp -d)
installed=0
cleanup() {
  tdpw_cleanup_keep=$TDPW_TMP
  TDPW_TMP=""
  tdpw_cleanup
  if [ "$installed" -eq 1 ]; then dpkg --purge tdpwatch >/dev/null 2>&1 || true; fi
  rm -rf "$tdpw_cleanup_keep"
  return 0
}
trap cleanup EXIT

# The build tree's binaries must come out of this untouched.
built=$build/bin/tdpwatchd
before=$(stat -c '%Y %s' "$built")

cpack --config "$build/CPackConfig.cmake" -B "$TDPW_TMP/pkg" >"$TDPW_TMP/cpack.log" 2>&1 ||
  fail "cpack: $(cat "$TDPW_TMP/cpack.log")"
deb=$(ls "$TDPW_TMP"/pkg/tdpwatch_*.deb)
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
[[ "$depends" == *libbpf1* && "$depends" == *libc6* ]] || fail "Depends lacks shlibdeps' libraries: $depends"

dpkg -i "$deb" >"$TDPW_TMP/dpkg.log" 2>&1 || { installed=1; fail "dpkg -i: $(cat "$TDPW_TMP/dpkg.log")"; }
installed=1
files=(/usr/bin/tdpwatchd /lib/systemd/system/tdpwatchd.service
       /usr/share/tdpwatch/grafana/tdpwatch.json /usr/share/tdpwatch/prometheus/tdpwatch-rules.yml
       /usr/share/tdpwatch/prometheus/tdpwatch-recording-rules.yml
       /usr/share/doc/tdpwatch/README.md /usr/share/doc/tdpwatch/README.deploy.md
       /usr/share/doc/tdpwatch/README.metrics.md)
conf=/etc/tdpwatch/tdpwatchd.conf
if [ -f "$src/deploy/tdpwatchd.conf" ]; then
  files+=("$conf")
  dpkg-query --showformat='${Conffiles}\n' --show tdpwatch | grep -q " $conf " ||
    fail "$conf is not a conffile"
else
  echo "NOTE: no deploy/tdpwatchd.conf in the tree yet: the package has no config file"
fi
[ -x /usr/bin/tdpwatch ] && files+=(/usr/bin/tdpwatch)
for f in "${files[@]}"; do
  [ -e "$f" ] || fail "$f not installed"
  dpkg -S "$f" >/dev/null 2>&1 || fail "$f not owned by the package"
done
echo "installed: ${files[*]}"
/usr/bin/tdpwatchd --version || fail "installed tdpwatchd does not run"
out=$(systemd-analyze verify /lib/systemd/system/tdpwatchd.service 2>&1) || fail "verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns on the installed unit: $out"

# The installed binary, with the unit's ExecStart= arguments when it knows
# --config.file, under the installed unit's sandbox, on a free port.
read -r -a exec_start <<<"$(sed -n 's/^ExecStart=//p' /lib/systemd/system/tdpwatchd.service)"
args=()
if /usr/bin/tdpwatchd --help 2>&1 | grep -q -- '--config.file' && [ -f "$conf" ]; then
  args=("${exec_start[@]:1}")
else
  echo "NOTE: the installed tdpwatchd has no --config.file (or no config is installed): running it without"
fi
args+=(--web.listen-address=127.0.0.1:0)
"$src/tests/deploy/run-as-unit.sh" /lib/systemd/system/tdpwatchd.service /usr/bin/tdpwatchd \
  "${args[@]}" 2>"$TDPW_TMP/daemon.log" &
daemon_pid=$!
TDPW_PIDS+=("$daemon_pid")
eventually 60 grep -qs "watching;" "$TDPW_TMP/daemon.log" || fail "installed tdpwatchd: $(cat "$TDPW_TMP/daemon.log")"
[ "$(readlink /proc/$daemon_pid/exe)" = /run/tdpw-unit-exec ] ||
  fail "pid $daemon_pid is not the sandboxed daemon ($(readlink /proc/$daemon_pid/exe))"
port=$(daemon_port "$TDPW_TMP/daemon.log")
metrics=$(curl -sf "http://127.0.0.1:$port/metrics") || fail "no /metrics on port $port"
grep -q '^tdpwatch_up 1$' <<<"$metrics" || fail "tdpwatch_up is not 1"
grep -Eq '^tdpwatch_probe_attached\{.*variant="[^n][^"]*"\} 1$' <<<"$metrics" || fail "no probe attached"
device=0
[ -c /dev/kvm ] && device=1
grep -q "^tdpwatch_kvm_device_present $device\$" <<<"$metrics" ||
  fail "tdpwatch_kvm_device_present is not $device: $(grep kvm_device <<<"$metrics")"
grep -q '^tdpwatch_build_info{' <<<"$metrics" || fail "no tdpwatch_build_info"
echo "installed tdpwatchd serves $(grep -c '^tdpwatch_' <<<"$metrics") samples on port $port"
kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
TDPW_PIDS=()
[ "$status" -eq 0 ] || fail "tdpwatchd exited $status on SIGTERM: $(tail -5 "$TDPW_TMP/daemon.log")"

# Remove: every file but the conffile goes; purge: the rest, and the
# enablement state deb-systemd-helper kept.
dpkg -r tdpwatch >"$TDPW_TMP/dpkg.log" 2>&1 || fail "dpkg -r: $(cat "$TDPW_TMP/dpkg.log")"
for f in "${files[@]}"; do
  [ "$f" = "$conf" ] && continue
  [ ! -e "$f" ] || fail "$f left after dpkg -r"
done
[ ! -d /usr/share/tdpwatch ] || fail "/usr/share/tdpwatch left after dpkg -r"
dpkg --purge tdpwatch >"$TDPW_TMP/dpkg.log" 2>&1 || fail "dpkg --purge: $(cat "$TDPW_TMP/dpkg.log")"
installed=0
! dpkg-query -W tdpwatch >/dev/null 2>&1 || fail "dpkg still knows tdpwatch after --purge"
[ ! -e /etc/tdpwatch ] || fail "/etc/tdpwatch left after purge"
left=$(find /etc/systemd /var/lib/systemd -name '*tdpwatchd*' 2>/dev/null || true)
[ -z "$left" ] || fail "left after purge: $left"
for p in /proc/[0-9]*; do
  case "$(readlink "$p/exe" 2>/dev/null)" in
    /usr/bin/tdpwatchd*|/run/tdpw-unit-exec*) fail "a tdpwatchd from the package still runs: ${p#/proc/}" ;;
  esac
done

[ "$(stat -c '%Y %s' "$built")" = "$before" ] || fail "the build tree's tdpwatchd changed"
echo "installed, ran, removed and purged cleanly"

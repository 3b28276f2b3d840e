#!/usr/bin/env bash
# web_security_test.sh TDPWATCHD
#
# --web.config.file for real (exporter/web_config.h): the real tdpwatchd
# (--no-probes: the web side is what is tested; it needs neither /dev/kvm
# nor BPF), certificates made here with openssl, and Debian's Prometheus
# scraping it over TLS with basic auth, and with a client certificate.
#   - promtool check web-config accepts the files used;
#   - Prometheus with tls_config.ca_file + basic_auth: target up, series in;
#     a job with a wrong password: down, 401;
#   - curl: no or wrong credentials -> 401 on every path; right -> 200 with
#     the configured header; plain HTTP to the TLS port gets no HTTP answer;
#   - RequireAndVerifyClientCert: Prometheus with cert_file/key_file up; curl
#     without a client certificate fails the handshake;
#   - reload: a new password and a renewed server certificate written over
#     the files take effect without a signal; a bad file (by SIGHUP) is kept
#     out, logged, and tdpwatch_web_config_last_reload_successful says 0;
#   - a bad file at start: exit status 2, one error line.
# Needs root? No. Needs prometheus, promtool, openssl, curl, jq, python3.
set -euo pipefail
daemon=${1:?usage: web_security_test.sh TDPWATCHD}
# shellcheck source=../support/lib.sh
. "$(dirname "$0")/../support/lib.sh"
for t in prometheus promtool openssl curl jq python3 ss; do
  command -v "$t" >/dev/null || fail "$t not found on PATH: run sudo ./scripts/install-deps.sh"
done
TDPW_TMP=$(mktemp -d)
trap tdpw_cleanup EXIT
cd "$TDPW_TMP"

# ---- certificates and passwords ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=tdpw-test-ca 2>/dev/null
server_cert() {  # server_cert SERIAL
  openssl req -newkey rsa:2048 -nodes -keyout server.key.new -out server.csr -subj /CN=127.0.0.1 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial "$1" -out server.crt.new \
    -days 2 -extfile san.ext 2>/dev/null
  mv server.key.new server.key
  mv server.crt.new server.crt
}
server_cert 1001
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=prometheus 2>/dev/null
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 2001 -out client.crt -days 2 2>/dev/null
bcrypt() { python3 -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' "$1"; }
web_config() {  # web_config PASSWORD > FILE
  cat <<YML
tls_server_config:
  cert_file: server.crt
  key_file: server.key
http_server_config:
  headers:
    X-Content-Type-Options: nosniff
basic_auth_users:
  prom: '$(bcrypt "$1")'
YML
}
web_config pw1 > web.yml
cat > mtls.yml <<YML
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
YML
promtool check web-config web.yml mtls.yml >/dev/null || fail "promtool check web-config refused: $(promtool check web-config web.yml mtls.yml 2>&1)"

# ---- a bad file at start: exit 2, one line ----
echo "tls_server_config: {cert_file: nothere.crt, key_file: nothere.key}" > bad.yml
set +e
"$daemon" --no-probes --web.listen-address 127.0.0.1:0 --web.config.file "$PWD/bad.yml" 2>bad.log
rc=$?
set -e
[ $rc = 2 ] || fail "a bad --web.config.file at start: exit $rc, want 2: $(cat bad.log)"
grep -q 'error.*bad.yml.*nothere.crt' bad.log || fail "no error line naming the file and the certificate: $(cat bad.log)"

# ---- the daemons: basic auth over TLS (A), client certificates (B) ----
start_daemon() {  # start_daemon NAME CONFIG
  "$daemon" --no-probes --interval 1 --web.listen-address 127.0.0.1:0 --web.config.file "$PWD/$2" \
    2>"$1.log" &
  TDPW_PIDS+=("$!")
  eval "${1}_pid=$!"
  eventually 30 grep -qs "serving https://" "$1.log" || fail "$1 did not serve TLS: $(cat "$1.log")"
  eval "${1}_port=$(sed -n 's|.*serving https://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$1.log" | head -1)"
}
start_daemon a web.yml
start_daemon b mtls.yml
# shellcheck disable=SC2154
A=https://127.0.0.1:$a_port B=https://127.0.0.1:$b_port
code() { curl -s -o /dev/null -w '%{http_code}' --cacert ca.crt "$@" || true; }
for p in /metrics / /api/v1/vms /api/v1/vms/1/pages /nothing; do
  [ "$(code "$A$p")" = 401 ] || fail "$p without credentials: $(code "$A$p"), want 401"
  [ "$(code -u prom:wrong "$A$p")" = 401 ] || fail "$p with a wrong password: want 401"
done
curl -sf --cacert ca.crt -u prom:pw1 -D headers "$A/metrics" -o metrics || fail "scrape with the right password failed"
grep -q '^tdpwatch_up ' metrics || fail "no tdpwatch_up in the scrape"
grep -qi '^X-Content-Type-Options: nosniff' headers || fail "configured header missing: $(cat headers)"
plain=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$a_port/metrics" || true)
[ "$plain" = 000 ] || fail "plain HTTP to the TLS port got HTTP $plain"
[ "$(code "$B/metrics")" = 000 ] || fail "client-certificate mode answered without a certificate"
[ "$(code --cert client.crt --key client.key "$B/metrics")" = 200 ] || fail "client certificate refused"

# ---- Prometheus over TLS ----
mkdir -p prom/data
PROM_PORT=$(free_port)
cat > prom/prometheus.yml <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: basic_auth
    scheme: https
    tls_config: {ca_file: $PWD/ca.crt}
    basic_auth: {username: prom, password: pw1}
    static_configs: [{targets: ['127.0.0.1:$a_port']}]
  - job_name: wrong_password
    scheme: https
    tls_config: {ca_file: $PWD/ca.crt}
    basic_auth: {username: prom, password: nope}
    static_configs: [{targets: ['127.0.0.1:$a_port']}]
  - job_name: client_cert
    scheme: https
    tls_config: {ca_file: $PWD/ca.crt, cert_file: $PWD/client.crt, key_file: $PWD/client.key}
    static_configs: [{targets: ['127.0.0.1:$b_port']}]
YML
prometheus --config.file=prom/prometheus.yml --storage.tsdb.path=prom/data \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn 2>prom/prometheus.log &
TDPW_PIDS+=("$!")
eventually 30 curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" -o /dev/null || fail "prometheus: $(cat prom/prometheus.log)"
eventually 30 prom_has 'up{job="basic_auth"} == 1' || fail "Prometheus cannot scrape over TLS with basic auth"
eventually 30 prom_has 'up{job="client_cert"} == 1' || fail "Prometheus cannot scrape with a client certificate"
eventually 30 prom_has 'tdpwatch_up{job="basic_auth"}' || fail "no tdpwatch series through TLS"
eventually 30 prom_has 'up{job="wrong_password"} == 0' || fail "a wrong password was not refused"
targets=$(curl -s "http://127.0.0.1:$PROM_PORT/api/v1/targets")
jq -e '.data.activeTargets[] | select(.labels.job == "wrong_password") | .lastError | test("401")' \
  <<<"$targets" >/dev/null || fail "wrong_password's error is not a 401: $targets"
echo "TDPW-WEB prometheus: basic_auth up, client_cert up, wrong_password down (401)"

# ---- reload: written over, no signal ----
serial() { echo | openssl s_client -connect "127.0.0.1:$1" -CAfile ca.crt 2>/dev/null | openssl x509 -noout -serial; }
[ "$(serial "$a_port")" = serial=03E9 ] || fail "first certificate serial: $(serial "$a_port")"
sleep 1.1  # a new mtime even on coarse clocks
server_cert 1002
web_config pw2 > web.yml.new && mv web.yml.new web.yml
new_password_works() { [ "$(code -u prom:pw2 "$A/metrics")" = 200 ]; }
eventually 15 new_password_works || fail "the new password never worked: $(grep -E "web config|error|warn" a.log | tail -5)"
[ "$(code -u prom:pw1 "$A/metrics")" = 401 ] || fail "the old password still works"
[ "$(serial "$a_port")" = serial=03EA ] || fail "the renewed certificate is not served: $(serial "$a_port")"
grep -q "changed on disk: web config .* reloaded" a.log || fail "no reload line: $(tail -3 a.log)"

# ---- reload: a bad file by SIGHUP is kept out ----
echo "basic_auth_users: [" > web.yml
# shellcheck disable=SC2154
kill -HUP "$a_pid"
eventually 10 grep -q "SIGHUP: web config not reloaded, keeping the running one" a.log ||
  fail "no error for the bad file: $(tail -3 a.log)"
[ "$(code -u prom:pw2 "$A/metrics")" = 200 ] || fail "the running config was not kept"
curl -s --cacert ca.crt -u prom:pw2 "$A/metrics" | grep -q '^tdpwatch_web_config_last_reload_successful 0' ||
  fail "tdpwatch_web_config_last_reload_successful is not 0"
kill -0 "$a_pid" || fail "tdpwatchd died"
echo "TDPW-WEB reload: password and certificate on change, bad file kept out; PASS"

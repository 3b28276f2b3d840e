#!/usr/bin/env python3
"""hostile_clients_test.py TDPWATCHD

The real tdpwatchd (--no-probes: the web side is what is tested) against
hostile clients on loopback, bounded in count and time: 1,000 idle
connections, 200 slowloris clients trickling headers, oversized headers,
malformed request lines, path traversal on the API, keys that do not exist
or do not parse, garbage queries.  Throughout, a normal scrape of /metrics
must keep succeeding within the request timeout, the daemon must stay alive
with its RSS bounded, and no reply may carry a file's content.  Prints
`TDPW-WEB attack=... scrapes=N p50_ms=... max_ms=... rss_kib=...` per attack.
"""
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REQUEST_TIMEOUT = 5  # --web.request-timeout for this test: slow clients are cut after it
RSS_LIMIT_KIB = 200 * 1024


PROBLEMS = []  # found by attack threads (sys.exit there would end only the thread)


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def problem(msg):
    PROBLEMS.append(msg)


def ours(reply):
    """A 200 must be one of tdpwatchd's own documents, never anything else."""
    return b"tdpwatch_up" in reply or b"<title>tdpwatchd</title>" in reply or b'"vms"' in reply


def start(daemon, tmp):
    log = open(os.path.join(tmp, "daemon.log"), "w+")
    p = subprocess.Popen([daemon, "--no-probes", "--interval", "1", "--web.listen-address",
                          "127.0.0.1:0", "--web.request-timeout", str(REQUEST_TIMEOUT)],
                         stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(300):
        log.seek(0)
        m = re.search(r"serving http://127\.0\.0\.1:(\d+)/", log.read())
        if m:
            return p, int(m.group(1)), log
        if p.poll() is not None:
            break
        time.sleep(0.1)
    log.seek(0)
    fail(f"tdpwatchd did not start: {log.read()}")


def raw(port, data, timeout=10):
    """Sends bytes, returns what comes back until close (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def status(reply):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    return int(m.group(1)) if m else None


def scrape(port):
    t0 = time.monotonic()
    reply = raw(port, b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n", timeout=REQUEST_TIMEOUT * 3)
    ms = (time.monotonic() - t0) * 1000
    if status(reply) != 200 or b"tdpwatch_up" not in reply:
        return None
    return ms


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def during(name, proc, port, attack, seconds=6.0):
    """Runs attack() in the background and scrapes every 0.2 s meanwhile."""
    stop = threading.Event()
    t = threading.Thread(target=attack, args=(stop,), daemon=True)
    t.start()
    times, failures = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ms = scrape(port)
        if ms is None:
            failures += 1
        else:
            times.append(ms)
        time.sleep(0.2)
    stop.set()
    t.join(timeout=REQUEST_TIMEOUT * 3)
    if proc.poll() is not None:
        fail(f"{name}: tdpwatchd died (exit {proc.returncode})")
    rss = rss_kib(proc.pid)
    p50 = statistics.median(times) if times else float("nan")
    mx = max(times) if times else float("nan")
    print(f"TDPW-WEB attack={name} scrapes={len(times)} failed={failures} "
          f"p50_ms={p50:.1f} max_ms={mx:.1f} rss_kib={rss}", flush=True)
    if PROBLEMS:
        fail(f"{name}: " + "; ".join(PROBLEMS[:5]))
    if failures or not times:
        fail(f"{name}: {failures} scrapes failed during the attack")
    if mx > REQUEST_TIMEOUT * 1000 * 2:
        fail(f"{name}: a scrape took {mx:.0f} ms, beyond twice the request timeout")
    if rss > RSS_LIMIT_KIB:
        fail(f"{name}: RSS {rss} KiB beyond {RSS_LIMIT_KIB}")
    if scrape(port) is None:
        fail(f"{name}: no scrape after the attack")


def main():
    if len(sys.argv) != 2:
        fail("usage: hostile_clients_test.py TDPWATCHD")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, log = start(sys.argv[1], tmp)
        try:
            run(proc, port)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print("PASS")


def run(proc, port):
    base = rss_kib(proc.pid)
    print(f"TDPW-WEB baseline rss_kib={base} scrape_ms={scrape(port):.1f}", flush=True)

    def idle_connections(stop, n=1000):
        socks = []
        for _ in range(n):
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                break
        stop.wait()
        print(f"TDPW-WEB idle connections opened={len(socks)}", flush=True)
        for s in socks:
            s.close()
    during("idle_1000", proc, port, idle_connections)

    def slowloris(stop, n=200):
        socks = []
        for _ in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            except OSError:
                break
        while not stop.is_set():
            for s in socks:
                try:
                    s.sendall(b"X-a: b\r\n")
                except OSError:
                    pass
            stop.wait(1.0)
        for s in socks:
            s.close()
    during("slowloris_200", proc, port, slowloris, seconds=REQUEST_TIMEOUT + 3)

    def oversized(stop):
        while not stop.is_set():
            reply = raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-big: " + b"a" * 100000 + b"\r\n\r\n")
            st = status(reply)
            if st is not None and st < 400:
                problem(f"oversized headers answered {st}")
    during("oversized_headers", proc, port, oversized)

    def malformed(stop):
        junk = [b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                b"BREW /pot HTCPCP/1.0\r\n\r\n", b"GET " + b"/" * 5000 + b" HTTP/1.0\r\n\r\n",
                b"GET /metrics HTTP/1.0\r\nContent-Length: -1\r\n\r\n", b"\r\n" * 1000,
                b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]
        while not stop.is_set():
            for j in junk:
                reply = raw(port, j, timeout=3)
                if status(reply) == 200 and not ours(reply):
                    problem(f"malformed request {j[:40]!r} answered 200 with {reply[:80]!r}")
    during("malformed", proc, port, malformed)

    def traversal(stop):
        paths = ["/api/v1/vms/../../etc/passwd", "/api/v1/vms/%2e%2e/%2e%2e/etc/passwd",
                 "/api/v1/vms/1/../../../etc/passwd", "/..%2f..%2fetc/passwd", "/%2e%2e/",
                 "/api/v1/vms/1/pages/../../../../etc/shadow", "//etc/passwd", "/etc/passwd",
                 "/api/v1/vms/18446744073709551616/pages", "/api/v1/vms/-1/audit",
                 "/api/v1/vms/0x10/pages", "/api/v1/vms/999999/pages", "/api/v1/vms/999999/audit?fresh=1",
                 "/api/v1/vms?%00%ff&&&=", "/metrics?" + "a=b&" * 500]
        while not stop.is_set():
            for p in paths:
                reply = raw(port, f"GET {p} HTTP/1.0\r\n\r\n".encode(), timeout=15)
                st = status(reply)
                # civetweb decodes and normalises the path ("..", "//") before
                # tdpwatchd routes it; only exact endpoints are served, so a
                # traversal ends at "/" (the landing page) or not found.
                if b"root:" in reply:
                    problem(f"{p}: a file's content came back")
                if st == 200 and not ours(reply):
                    problem(f"{p}: 200 with something that is not tdpwatchd's: {reply[:80]!r}")
                if st not in (200, 400, 404, 414):
                    problem(f"{p}: HTTP {st}")
                if "pages" in p or "audit" in p:
                    if st != 404:
                        problem(f"{p}: a key that is no VM's or does not parse: HTTP {st}, want 404")
    during("traversal_and_keys", proc, port, traversal)

    end = rss_kib(proc.pid)
    print(f"TDPW-WEB end rss_kib={end} (baseline {base})", flush=True)


if __name__ == "__main__":
    main()

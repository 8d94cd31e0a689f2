#!/usr/bin/env python3
"""End-to-end benchmark of the relay (see Benchmarks/e2e.sh and docs/performance.md).

Each repetition runs, against one nginx worker on loopback that answers 204 to every POST:

1. throughput: a fresh relay; N events pushed in batches (as fast as the API takes them) to a
   push feed; each matches one signed webhook subscription (ordering none, concurrency 64) to
   nginx. Deliveries/s from the first push to the last delivery nginx logged; relay CPU-µs per
   delivery (/proc/<pid>/stat utime+stime); RSS after the N deliveries.
2. curl: the same N webhook bodies (with the same headers) by `curl --parallel --parallel-max 64`.
3. soak: the same relay goes on to SOAK deliveries in all; RSS then (flatness) and peak (VmHWM).
4. latency: the same relay, RATE events/s pushed for SECONDS_STEADY seconds, one event per push
   request; latency from the push's 202 to nginx's $msec for the delivery (matched by webhook-id,
   the delivery id, via the relay's store).
5. outage: a fresh relay with nginx stopped; N events pushed (RSS with N pending); nginx
   restarted; time until the first delivery and until all N are delivered.
Only the Python standard library is used.
"""

import argparse
import base64
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import free_port, write_nginx_conf

CLK_TCK = os.sysconf("SC_CLK_TCK")
CONCURRENCY = 64
# ORDERING=key (the default for subscriptions) with APPS=64 measures a default subscription whose
# events are spread over 64 apps (each app's in order, apps side by side); none, the default here,
# trades order for throughput.
ORDERING = os.environ.get("ORDERING", "none")
APPS = int(os.environ.get("APPS", "1"))
BATCH = 500
PUSHERS = 2


def log(text):
    if os.environ.get("VERBOSE"):
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Nginx:
    def __init__(self, work, port):
        self.work, self.port, self.process = work, port, None
        self.log = os.path.join(work, "access.log")
        self.conf = os.path.join(work, "nginx.conf")
        os.makedirs(work, exist_ok=True)
        write_nginx_conf(
            work, port, f"log_format bench '$msec $http_user_agent $http_webhook_id';\n    access_log {self.log} bench buffer=256k flush=100ms;",
            "return 204;")

    def start(self):
        self.process = subprocess.Popen(["nginx", "-c", self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        CHILDREN.append(self.process)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise SystemExit("nginx did not start")

    def stop(self):
        if self.process:
            self.process.send_signal(signal.SIGQUIT)  # graceful: the access log is flushed
            self.process.wait(timeout=20)
            self.process = None


class LogTail:
    """Reads nginx's access log as it grows: relay lines (user agent EventRelay/...) and others."""

    def __init__(self, path):
        self.path, self.offset, self.partial = path, 0, b""
        self.relay = []  # (msec, webhook-id)
        self.other = []  # msec

    def poll(self):
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            parts = line.decode().split(" ")
            if parts[1].startswith("EventRelay"):
                self.relay.append((float(parts[0]), parts[2]))
            else:
                self.other.append(float(parts[0]))


class Relay:
    def __init__(self, binary, work, sink_port, tag):
        self.binary, self.tag = binary, tag
        self.dir = os.path.join(work, f"relay-{tag}")
        os.makedirs(os.path.join(self.dir, "rules"))
        self.port = free_port()
        self.token = base64.b64encode(os.urandom(18)).decode()
        self.secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        with open(os.path.join(self.dir, "config.yaml"), "w") as f:
            f.write(f"""
data_dir: {self.dir}/data
rules_dir: {self.dir}/rules
log_level: error
admin:
  listen: 127.0.0.1:{self.port}
  token_env: BENCH_ADMIN_TOKEN
  max_body_bytes: 16777216
delivery:
  allowed_networks: [127.0.0.0/8]
push:
  - {{name: bench, format: relay, auth: bearer, secret_env: BENCH_PUSH_TOKEN}}
""")
        with open(os.path.join(self.dir, "rules", "bench.yaml"), "w") as f:
            f.write(f"""
subscriptions:
  - id: bench-sink
    type: webhook
    url_env: BENCH_SINK_URL
    secret_env: BENCH_SINK_SECRET
    delivery: {{ordering: {ORDERING}, concurrency: {CONCURRENCY}}}
rules:
  - name: everything-benched
    filter: {{sources: [bench]}}
    subscriptions: [bench-sink]
""")
        self.env = dict(os.environ, BENCH_ADMIN_TOKEN=self.token, BENCH_PUSH_TOKEN=self.token,
                        BENCH_SINK_URL=f"http://127.0.0.1:{sink_port}/hook", BENCH_SINK_SECRET=self.secret)
        self.process = None

    def start(self):
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "w")
        self.process = subprocess.Popen([self.binary, "serve", "--config", os.path.join(self.dir, "config.yaml")],
                                        env=self.env, stdout=subprocess.DEVNULL, stderr=self.stderr)
        CHILDREN.append(self.process)
        for _ in range(500):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"relay exited: see {self.dir}/stderr.log")
            time.sleep(0.02)
        raise SystemExit("relay did not start")

    @property
    def pid(self):
        return self.process.pid

    def stop(self):
        if self.process:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None
            self.stderr.close()

    def delivery_events(self):
        """webhook-id (delivery id) -> event id."""
        db = sqlite3.connect(f"file:{self.dir}/data/event-relay.sqlite?mode=ro", uri=True, timeout=30)
        try:
            return {d: k.split(":", 1)[1] for d, k in db.execute("SELECT id, event_key FROM deliveries")}
        finally:
            db.close()


def event(tag, i):
    app = "web-prod" if APPS <= 1 else f"web-{i % APPS:04d}"  # the same length either way
    return {
        "source": "bench", "id": f"{tag}-{i}", "type": "deployment", "category": "deploy.succeeded",
        "time": "2026-01-02T03:04:05.678Z", "app": app, "app_id": "ap-0123456789abcdef",
        "environment": "production", "actor": {"id": "us-42", "name": "ann", "email": "ann@example.com"},
        "summary": f"Deployment {i} of web-prod succeeded",
        "raw": {"id": f"{tag}-{i}", "type": "deployment", "app_name": "web-prod", "user": {"username": "ann"},
                "type_data": {"status": "success", "git_ref": "0123456789abcdef0123456789abcdef01234567",
                              "deployment_id": f"dep-{i}", "duration": 42, "pusher": "ann"}},
    }


def webhook_body(tag, i):
    """What the relay sends for event i (same shape and size; the curl reference posts these)."""
    e = dict(event(tag, i))
    raw = e.pop("raw")
    e["feed"] = "bench"
    doc = {"delivery_id": f"dlv_{i:028x}", "event": e, "matched_by": "everything-benched", "raw": raw,
           "subscription_id": "bench-sink", "type": "event"}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


class Pusher:
    def __init__(self, relay):
        self.relay = relay
        self.local = threading.local()

    def post(self, events):
        c = getattr(self.local, "c", None)
        if c is None:
            c = self.local.c = http.client.HTTPConnection("127.0.0.1", self.relay.port, timeout=120)
        body = json.dumps(events if len(events) > 1 else events[0], separators=(",", ":"))
        c.request("POST", "/v1/ingest/bench", body=body,
                  headers={"Authorization": f"Bearer {self.relay.token}", "Content-Type": "application/json"})
        r = c.getresponse()
        text = r.read()
        if r.status != 202:
            raise SystemExit(f"push answered {r.status}: {text[:300]!r}")
        return time.time()

    def burst(self, tag, start, count):
        """Pushes events start..<start+count in batches from PUSHERS threads; returns (first send, last 202)."""
        batches = [list(range(i, min(i + BATCH, start + count))) for i in range(start, start + count, BATCH)]
        lock = threading.Lock()
        done = []

        def work():
            while True:
                with lock:
                    if not batches:
                        return
                    batch = batches.pop(0)
                done.append(self.post([event(tag, i) for i in batch]))

        threads = [threading.Thread(target=work) for _ in range(PUSHERS)]
        first = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return first, max(done)


def wait_for(tail, count, timeout, what):
    log(f"{what}: waiting for {count} deliveries")
    deadline = time.time() + timeout
    while len(tail.relay) < count:
        if time.time() > deadline:
            raise SystemExit(f"{what}: only {len(tail.relay)} of {count} deliveries arrived within {timeout} s")
        time.sleep(0.02)
        tail.poll()


def run_curl(work, sink_port, tag, n):
    config = os.path.join(work, f"curl-{tag}.cfg")
    with open(config, "w") as f:
        for i in range(n):
            body = webhook_body(tag, i).replace("\\", "\\\\").replace('"', '\\"')
            f.write(f'url = "http://127.0.0.1:{sink_port}/hook"\n'
                    f'header = "Content-Type: application/json"\nheader = "webhook-id: dlv_{i:028x}"\n'
                    f'header = "webhook-timestamp: 1767323045"\n'
                    f'header = "webhook-signature: v1,{base64.b64encode(os.urandom(32)).decode()}"\n'
                    f'data-binary = "{body}"\noutput = "/dev/null"\n' + ("next\n" if i + 1 < n else ""))
    started = time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(["curl", "--silent", "--show-error", "--fail", "--parallel", "--parallel-max", "64", "--config", config],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"curl failed: {result.stderr[-2000:]}")
    elapsed = time.time() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return n / elapsed, cpu * 1e6 / n


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


CHILDREN = []


def stop_children(*_):
    for child in CHILDREN:
        if child.poll() is None:
            child.kill()
    raise SystemExit("stopped")


def one_run(args, work, run):
    figures = {}
    nginx = Nginx(os.path.join(work, f"nginx-{run}"), free_port())
    nginx.start()
    tail = LogTail(nginx.log)
    n = args.events

    # 1. throughput
    relay = Relay(args.binary, work, nginx.port, f"{run}-main")
    relay.start()
    log("relay started")
    pusher = Pusher(relay)
    cpu0 = proc_cpu_seconds(relay.pid)
    first, pushed = pusher.burst(f"r{run}", 0, n)
    log(f"pushed {n} in {pushed - first:.2f} s")
    wait_for(tail, n, 600, "throughput")
    cpu1 = proc_cpu_seconds(relay.pid)
    last = max(t for t, _ in tail.relay[:n])
    figures["relay_per_s"] = n / (last - first)
    figures["push_per_s"] = n / (pushed - first)
    figures["cpu_us"] = (cpu1 - cpu0) * 1e6 / n
    figures["rss_20k_mb"] = proc_status_kb(relay.pid, "VmRSS") / 1024

    # 2. curl, same bodies, same sink
    figures["curl_per_s"], figures["curl_cpu_us"] = run_curl(work, nginx.port, f"c{run}", n)
    figures["ratio"] = figures["relay_per_s"] / figures["curl_per_s"]

    # 3. soak
    done = n
    while done < args.soak:
        count = min(n, args.soak - done)
        pusher.burst(f"r{run}", done, count)
        done += count
        wait_for(tail, done, 600, "soak")
    figures["rss_soak_mb"] = proc_status_kb(relay.pid, "VmRSS") / 1024
    figures["rss_growth_mb"] = figures["rss_soak_mb"] - figures["rss_20k_mb"]

    # 4. latency at a steady rate, one event per push, from LATENCY_THREADS connections
    base = len(tail.relay)
    sent, accepted = {}, {}
    total = int(args.rate * args.seconds)
    threads = 4
    start = time.time() + 0.1

    def steady(k):
        for i in range(k, total, threads):
            due = start + i / args.rate
            now = time.time()
            if due > now:
                time.sleep(due - now)
            sent[f"l{run}-{i}"] = time.time()
            accepted[f"l{run}-{i}"] = pusher.post([event(f"l{run}", i)])

    workers = [threading.Thread(target=steady, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    achieved = total / (time.time() - start)
    wait_for(tail, base + total, 120, "latency")
    figures["peak_rss_mb"] = proc_status_kb(relay.pid, "VmHWM") / 1024
    relay.stop()
    events = relay.delivery_events()
    latencies = [(t - accepted[events[d]]) * 1000 for t, d in tail.relay[base:] if events.get(d) in accepted]
    from_sent = [(t - sent[events[d]]) * 1000 for t, d in tail.relay[base:] if events.get(d) in sent]
    figures["latency_p50_ms"] = percentile(latencies, 50)
    figures["latency_p99_ms"] = percentile(latencies, 99)
    figures["sent_p50_ms"] = percentile(from_sent, 50)
    figures["sent_p99_ms"] = percentile(from_sent, 99)
    figures["steady_rate"] = achieved

    # 5. outage: N pending while the receiver is down, then restored
    nginx.stop()
    tail.poll()
    relay = Relay(args.binary, work, nginx.port, f"{run}-outage")
    relay.start()
    Pusher(relay).burst(f"o{run}", 0, n)
    time.sleep(3)
    figures["rss_pending_mb"] = proc_status_kb(relay.pid, "VmRSS") / 1024
    base = len(tail.relay)
    cpu0 = proc_cpu_seconds(relay.pid)
    restored = time.time()
    nginx.start()
    wait_for(tail, base + 1, 120, "outage (first)")
    wait_for(tail, base + n, 600, "outage (drain)")
    figures["cpu_us_send"] = (proc_cpu_seconds(relay.pid) - cpu0) * 1e6 / n
    stamps = sorted(t for t, _ in tail.relay[base:])
    figures["first_after_restore_s"] = stamps[0] - restored
    figures["drain_s"] = stamps[-1] - restored
    figures["drain_per_s"] = n / max(1e-3, stamps[-1] - stamps[0])
    relay.stop()
    nginx.stop()
    return figures


ROWS = [
    ("relay_per_s", "relay deliveries/s ({n} events, first push → last delivery)", "{:.0f}"),
    ("curl_per_s", "curl --parallel-max 64, same bodies, same nginx (/s)", "{:.0f}"),
    ("ratio", "relay / curl (target ≥ 1.0)", "{:.2f}"),
    ("push_per_s", "push ingest, batches of 500 (events/s)", "{:.0f}"),
    ("cpu_us", "relay CPU-µs per delivery, ingest included (target ≤ 80)", "{:.0f}"),
    ("curl_cpu_us", "curl CPU-µs per request (reference: HTTP only, nothing stored)", "{:.0f}"),
    ("cpu_us_send", "relay CPU-µs per delivery, sending only (the outage's drain)", "{:.0f}"),
    ("rss_pending_mb", "RSS with {n} pending, receiver down (MB, target ≤ 64)", "{:.1f}"),
    ("rss_20k_mb", "RSS after {n} deliveries (MB)", "{:.1f}"),
    ("rss_soak_mb", "RSS after {soak} deliveries (MB)", "{:.1f}"),
    ("rss_growth_mb", "RSS growth {n} → {soak} (MB, target ≤ 10)", "{:+.1f}"),
    ("peak_rss_mb", "peak RSS, VmHWM (MB)", "{:.1f}"),
    ("steady_rate", "steady push rate achieved (events/s, one per request)", "{:.0f}"),
    ("latency_p50_ms", "latency p50, 202 → nginx (ms)", "{:.1f}"),
    ("latency_p99_ms", "latency p99, 202 → nginx (ms, target ≤ 20)", "{:.1f}"),
    ("sent_p50_ms", "latency p50, push sent → nginx (ms)", "{:.1f}"),
    ("sent_p99_ms", "latency p99, push sent → nginx (ms)", "{:.1f}"),
    ("first_after_restore_s", "outage: receiver back → first delivery (s)", "{:.2f}"),
    ("drain_s", "outage: receiver back → {n} delivered (s)", "{:.2f}"),
    ("drain_per_s", "outage: drain rate after the first delivery (/s)", "{:.0f}"),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "3")))
    parser.add_argument("--soak", type=int, default=int(os.environ.get("SOAK", "100000")))
    parser.add_argument("--rate", type=float, default=float(os.environ.get("RATE", "1000")))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SECONDS_STEADY", "10")))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop_children)
    work = tempfile.mkdtemp(prefix="event-relay-e2e-")
    os.chmod(work, 0o755)
    try:
        cores = os.cpu_count()
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        kernel = os.uname().release
        swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        nginx_version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
        curl_version = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {cores} cores, {mem:.0f} GiB, Linux {kernel}; {swift}")
        print(f"{nginx_version}; {curl_version}")
        print(f"{args.events} events, {args.runs} runs, soak {args.soak}, steady {args.rate:.0f}/s for {args.seconds:.0f} s; "
              f"ordering {ORDERING}, {APPS} app(s), concurrency {CONCURRENCY}")
        results = []
        for run in range(args.runs):
            figures = one_run(args, work, run)
            results.append(figures)
            print(f"run {run + 1}: " + ", ".join(f"{k}={v:.2f}" for k, v in figures.items()), flush=True)
        print()
        print("| figure | median | runs |")
        print("| --- | --- | --- |")
        for key, label, fmt in ROWS:
            values = [r[key] for r in results]
            label = label.format(n=args.events, soak=args.soak)
            print(f"| {label} | {fmt.format(statistics.median(values))} | {' / '.join(fmt.format(v) for v in values)} |")
    finally:
        for child in CHILDREN:
            if child.poll() is None:
                child.kill()
        if os.environ.get("PROFILE") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Admin API throughput against nginx serving the same body as a static file, in the same run.

The release relay starts with SUBSCRIPTIONS subscriptions from a rule file (no feed, no events);
the body of `GET <path>` (with the token) is saved and served by a one-worker nginx on loopback as
a static file with the same Content-Type. wrk (same threads, connections and duration) then loads
the relay and nginx in turn, RUNS times; requests/s of each, their ratio per run, and medians.
Only the ratio within a run is meant to be compared between machines or commits.
"""
import argparse
import base64
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import free_port, write_nginx_conf

CHILDREN = []


def wait_for_port(port, process, what):
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{what} exited")
            time.sleep(0.02)
    raise SystemExit(f"{what} did not start")


def start_relay(binary, work, subscriptions):
    port = free_port()
    token = base64.b64encode(os.urandom(18)).decode()
    os.makedirs(os.path.join(work, "rules"))
    with open(os.path.join(work, "config.yaml"), "w") as f:
        f.write(f"""
data_dir: {work}/data
rules_dir: {work}/rules
log_level: error
admin:
  listen: 127.0.0.1:{port}
  token_env: BENCH_ADMIN_TOKEN
""")
    kinds = ["webhook", "slack"]
    lines = ["subscriptions:"]
    for i in range(subscriptions):
        kind = kinds[i % len(kinds)]
        secret = "    secret_env: BENCH_SECRET\n" if kind == "webhook" else "    slack_username: Relay\n"
        lines.append(f"  - id: bench-{i:03d}\n    type: {kind}\n    url_env: BENCH_URL\n{secret.rstrip()}")
    lines.append("rules:")
    lines.append("  - {name: all, filter: {sources: [bench]}, subscriptions: [%s]}" % ", ".join(f"bench-{i:03d}" for i in range(subscriptions)))
    with open(os.path.join(work, "rules", "bench.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    env = dict(os.environ, BENCH_ADMIN_TOKEN=token, BENCH_URL="https://hooks.example.com/services/T0/B0/secretpart",
               BENCH_SECRET="whsec_" + base64.b64encode(os.urandom(32)).decode())
    stderr = open(os.path.join(work, "stderr.log"), "w")
    process = subprocess.Popen([binary, "serve", "--config", os.path.join(work, "config.yaml")], env=env,
                               stdout=subprocess.DEVNULL, stderr=stderr)
    CHILDREN.append(process)
    wait_for_port(port, process, f"the relay (see {work}/stderr.log)")
    return process, port, token


def start_nginx(work, body, path, content_type):
    port = free_port()
    root = os.path.join(work, "www")
    target = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(body)
    # nginx's worker runs as an unprivileged user when started as root: it must be able to read the file.
    os.chmod(target, 0o644)
    for folder in (os.path.dirname(work), work, root, os.path.dirname(target)):
        os.chmod(folder, 0o755)
    conf = write_nginx_conf(
        work, port, "access_log off;", f'default_type "{content_type}"; add_header Cache-Control no-store;', root=root)
    process = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    CHILDREN.append(process)
    wait_for_port(port, process, "nginx")
    return process, port


def get(port, path, token):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    return response.status, response.getheader("Content-Type"), response.read()


def wrk(url, token, args):
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency",
               "-H", f"Authorization: Bearer {token}", url]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    if "Non-2xx" in result.stdout or "Socket errors" in result.stdout:
        raise SystemExit(f"wrk saw errors against {url}:\n{result.stdout}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", result.stdout)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)] if p99 else float("nan")
    return rate, p99_ms


def stop_children(*_):
    for child in CHILDREN:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in CHILDREN:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--path", default=os.environ.get("API_PATH", "/v1/subscriptions"))
    parser.add_argument("--subscriptions", type=int, default=int(os.environ.get("SUBSCRIPTIONS", "20")))
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "3")))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("SECONDS_PER_RUN", "10")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("THREADS", "1")))
    parser.add_argument("--connections", type=int, default=int(os.environ.get("CONNECTIONS", "32")))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (stop_children(), sys.exit(1)))
    work = tempfile.mkdtemp(prefix="event-relay-api-bench-")
    try:
        relay, relay_port, token = start_relay(args.binary, os.path.join(work, "relay"), args.subscriptions)
        status, content_type, body = get(relay_port, args.path, token)
        if status != 200:
            raise SystemExit(f"GET {args.path}: {status} {body[:200]!r}")
        nginx, nginx_port = start_nginx(os.path.join(work, "nginx"), body, args.path, content_type)
        status, _, served = get(nginx_port, args.path, token)
        if status != 200 or served != body:
            raise SystemExit("nginx does not serve the same body")
        nginx_version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
        wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
        print(f"GET {args.path}: {len(body)} bytes ({args.subscriptions} subscriptions), Content-Type {content_type}")
        print(f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, {args.runs} runs; {nginx_version} (1 worker); {wrk_version}")
        # Warm both up, then alternate.
        wrk(f"http://127.0.0.1:{relay_port}{args.path}", token, argparse.Namespace(**{**vars(args), "seconds": 2}))
        wrk(f"http://127.0.0.1:{nginx_port}{args.path}", token, argparse.Namespace(**{**vars(args), "seconds": 2}))
        rows = []
        for run in range(args.runs):
            relay_rate, relay_p99 = wrk(f"http://127.0.0.1:{relay_port}{args.path}", token, args)
            nginx_rate, nginx_p99 = wrk(f"http://127.0.0.1:{nginx_port}{args.path}", token, args)
            rows.append((relay_rate, nginx_rate, relay_rate / nginx_rate, relay_p99, nginx_p99))
            print(f"run {run + 1}: relay {relay_rate:.0f}/s (p99 {relay_p99:.2f} ms), nginx {nginx_rate:.0f}/s "
                  f"(p99 {nginx_p99:.2f} ms), ratio {relay_rate / nginx_rate:.3f}")
        median = [statistics.median(column) for column in zip(*rows)]
        print(f"median: relay {median[0]:.0f}/s, nginx {median[1]:.0f}/s, relay / nginx {median[2]:.3f} "
              f"(p99 relay {median[3]:.2f} ms, nginx {median[4]:.2f} ms)")
    finally:
        stop_children()
        if os.environ.get("PROFILE"):
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

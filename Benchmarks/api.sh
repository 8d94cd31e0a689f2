#!/usr/bin/env bash
# Admin API throughput: wrk against the release relay's GET /v1/subscriptions and against a
# one-worker nginx serving the same body as a static file, in the same run; the ratio is the figure.
#
#   Benchmarks/api.sh
#
# Environment: RUNS (default 3; medians reported), SECONDS_PER_RUN (10), THREADS (1) and
# CONNECTIONS (32) for wrk, SUBSCRIPTIONS (20, from a rule file), API_PATH (/v1/subscriptions),
# SCRATCH_PATH (the release build's folder, default .build), PROFILE=1 (keep the work folder).
# Installs wrk and nginx from Debian's packages when they are missing. Figures: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/benchlib.sh
install_missing_packages nginx wrk
binary="$(relay_release_binary)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r); $(swift --version 2>&1 | head -1); $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet -- Sources 2>/dev/null || echo ' (Sources modified)')"
exec python3 Benchmarks/api.py --binary "$binary"

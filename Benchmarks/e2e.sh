#!/usr/bin/env bash
# End-to-end benchmark: the release binary relays pushed events to a one-worker nginx on
# loopback, and `curl --parallel --parallel-max 64` posts the same bodies to the same nginx.
#
#   Benchmarks/e2e.sh [N]        N events per throughput run (default 20000)
#
# Environment: RUNS (repetitions, default 3; medians are reported), SOAK (deliveries for the
# RSS-flatness check, default 100000), RATE and SECONDS_STEADY (the latency run: events/s and
# its length, default 1000 and 10), PROFILE=1 (keep the work folder), ORDERING (the
# subscription's: none by default here; key is what a subscription that sets none gets) and APPS
# (how many apps the events are spread over, default 1). Installs nginx and curl
# from Debian's packages when they are missing. Figures and how to read them: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/benchlib.sh
install_missing_packages nginx curl
binary="$(relay_release_binary)"
exec python3 Benchmarks/e2e.py --binary "$binary" --events "${1:-20000}"

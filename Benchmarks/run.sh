#!/usr/bin/env bash
# Builds the benchmarks in release and runs them. BENCH_SCALE=N multiplies the work.
# Record the figures, with the machine and date, in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/packages.sh
install_missing_packages
require_swift
swift build -c release --product EventRelayBench
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(swift --version 2>&1 | head -1)"
/usr/bin/time -v .build/release/EventRelayBench 2>&1 | grep -Ev "^\s+(Average|Exit|Socket|Signals|Swaps|File system|Page size|Minor|Major|Voluntary|Involuntary|Percent|System time|User time)"

#!/usr/bin/env bash
# Sets up and runs EventRelay on the embedded defaults: SQLite store under ./data, admin API on
# 127.0.0.1:8080, rules from ./rules. Extra arguments go to `event-relay serve` (e.g. --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/packages.sh
install_missing_packages
require_swift
swift build -c release --product event-relay
exec .build/release/event-relay serve "$@"

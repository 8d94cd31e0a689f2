#!/usr/bin/env bash
# Sets up and runs the whole test suite (unit, store, admin API, end-to-end and process tests).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/packages.sh
install_missing_packages
require_swift
# Build everything first: the process tests run the event-relay binary itself.
swift build --build-tests
swift test --skip-build

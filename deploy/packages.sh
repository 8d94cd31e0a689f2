#!/usr/bin/env bash
# Installs the Debian packages EventRelay builds against, when any is missing.
# Sourced by deploy/run.sh and deploy/test.sh.
set -euo pipefail

EVENT_RELAY_PACKAGES=(libcurl4-openssl-dev libmicrohttpd-dev libsqlite3-dev pkg-config)

# Extra package names (e.g. the benchmark's nginx and curl) are installed with them.
install_missing_packages() {
    local missing=()
    for package in "${EVENT_RELAY_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "Installing Debian packages: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

require_swift() {
    command -v swift >/dev/null 2>&1 && return 0
    [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH" && return 0
    echo "Swift 6 is required (swift.org toolchain on PATH, or at /opt/swift)." >&2
    exit 1
}

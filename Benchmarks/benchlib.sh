#!/usr/bin/env bash
# What the end-to-end benchmarks (e2e.sh, api.sh) share: sourced after `cd` to the repository.
# relay_release_binary builds event-relay in release (SCRATCH_PATH: the build folder, .build by
# default) and prints the binary's path.
source deploy/packages.sh
require_swift  # here, not in the function: its PATH must reach the caller (the function runs in $(…))

relay_release_binary() {
    local scratch="${SCRATCH_PATH:-.build}"
    swift build -c release --product event-relay --scratch-path "$scratch" >&2
    echo "$(swift build -c release --scratch-path "$scratch" --show-bin-path)/event-relay"
}

#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs what the tests
# need, then builds and runs every test. Used as-is by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests run the real binary and real servers on 127.0.0.1; nothing else
# is needed for the core suite beyond the Rust toolchain.
if ! command -v cargo >/dev/null; then
    echo "cargo is required (https://rustup.rs)" >&2
    exit 1
fi

cargo test --locked

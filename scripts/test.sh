#!/usr/bin/env bash
# The whole test suite: set-up, formatting, lints, then every test of the workspace
# (unit tests, CLI tests, conformance suites, differential tests) in release mode, and a
# sample compiled by the compiler built with its invariants checked.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release --locked -- -D warnings
# The compiler with debug assertions, overflow checks and regalloc2's checker, for
# tests/checked.rs.
cargo build --profile checked --locked --bin wasm2pvm
cargo test --workspace --release --locked

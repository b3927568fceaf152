#!/usr/bin/env bash
# The whole test suite: set-up, formatting, lints, then every test of the workspace
# (unit tests, CLI tests, conformance suites, differential tests) in release mode; the
# compiler crate keeps its debug assertions and overflow checks there (Cargo.toml).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release --locked -- -D warnings
cargo test --workspace --release --locked

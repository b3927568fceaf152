#!/usr/bin/env bash
# Builds the example JAM service of examples/counter with the pinned AssemblyScript
# compiler of vendor/ and the toolchain: examples/counter/service.jam (with metadata).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup.sh
cargo build --release --locked --bins
dir=examples/counter
node vendor/node_modules/assemblyscript/bin/asc.js "$dir/service.ts" -o "$dir/service.wasm" --runtime stub -O3 --noAssert
target/release/wasm2pvm "$dir/service.wasm" \
  | target/release/jam-pack --name counter --version 0.1.0 --license "MIT OR Apache-2.0" --author "pvm-toolchain" \
  > "$dir/service.jam"
echo "$dir/service.jam"

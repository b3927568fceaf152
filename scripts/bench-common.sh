# Shared set-up of the benchmark scripts, sourced after they parse their arguments.
# Sets `root`, `bench` (../shared/bench, or $BENCH_DIR), the node packages (`cli`: the
# reference CLI, `asc`: the AssemblyScript compiler); `bench_build NAME` installs what
# is missing, builds the release binaries, and sets `bin` and `out` (target/NAME);
# `build_assemblyscript SRC WASM` builds an AssemblyScript bench program as the bench
# README says, unless WASM is newer than SRC.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
cli=$root/vendor/node_modules/@fluffylabs/anan-as/dist/bin/index.js
asc=$root/vendor/node_modules/assemblyscript/bin/asc.js

bench_build() {
    "$root/scripts/setup.sh" >&2
    (cd "$root" && cargo build --release --locked --bins --quiet)
    bin=${CARGO_TARGET_DIR:-$root/target}/release
    out=$root/target/$1
    mkdir -p "$out"
}

build_assemblyscript() {
    [[ -f $2 && $2 -nt $1 ]] || node "$asc" "$1" -o "$2" --runtime stub -O3 --noAssert
}

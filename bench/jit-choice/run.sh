#!/usr/bin/env bash
# The JIT library choice, in figures: for dynasmrt and iced-x86, a clean release build of
# this prototype with that library alone (CPU seconds, user + system, and wall seconds),
# the crates it pulls in (cargo tree: normal and build dependencies, proc macros
# included), their source size and the binary's size; then the prototype itself
# (translation time, run speed and code size of fib's loop, see src/main.rs).
#
# usage: bench/jit-choice/run.sh [N]    (N: fib's argument for the speed run)
set -euo pipefail
cd "$(dirname "$0")"
registry=$(ls -d ~/.cargo/registry/src/*/ | head -1)
cargo fetch --quiet
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
TIMEFORMAT='%U %S %R'

printf '%-10s %9s %9s %7s %12s %11s\n' library "build cpu" "build s" crates "source KiB" "binary KiB"
for feature in dynasm iced; do
    times=$({ time cargo build --release --quiet --no-default-features --features "$feature" \
        --target-dir "$scratch/$feature" >/dev/null 2>&1; } 2>&1)
    crates=$(cargo tree --quiet --no-default-features --features "$feature" -e normal,build --prefix none \
        | sed 's/ (\*)$//; s/ (proc-macro)$//' | sort -u | grep -v '^jit-choice ')
    kib=0
    while read -r name version; do
        kib=$((kib + $(du -sk "$registry/$name-${version#v}" | cut -f1)))
    done <<<"$crates"
    binary=$(($(stat -c %s "$scratch/$feature/release/jit-choice") / 1024))
    awk -v f="$feature" -v t="$times" -v c="$(wc -l <<<"$crates")" -v k="$kib" -v b="$binary" \
        'BEGIN { split(t, x, " "); printf "%-10s %9.1f %9.1f %7d %12d %11d\n", f, x[1] + x[2], x[3], c, k, b }'
done
echo
cargo build --release --quiet
target/release/jit-choice "$@"

#!/usr/bin/env bash
# PVM-in-PVM, the main job: compiles the anan-as PVM interpreter (compiler.wasm of
# @fluffylabs/anan-as 1.2.0) to compiler.jam, compiles the inner program, runs the inner
# program inside the interpreter on pvm-run, and prints the artifacts and the decoded
# inner outcome.
#
#   scripts/pvm-in-pvm.sh                        # the TRAP program, then add(5, 7)
#   scripts/pvm-in-pvm.sh INNER.wat|.wasm|.jam [INNER_ARGS_HEX]
#
# Builds whatever is missing (set-up, the four programs, compiler.jam); uses only the
# toolchain's programs and coreutils. Artifacts go to $PVM_IN_PVM_OUT (default
# target/pvm-in-pvm).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
(cd "$root" && cargo build --release --locked --quiet --bins)
bin="${CARGO_TARGET_DIR:-$root/target}/release"
out="${PVM_IN_PVM_OUT:-$root/target/pvm-in-pvm}"
mkdir -p "$out"

interpreter_wasm="$root/vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm"
imports="$root/scripts/anan-as-imports.txt"
interpreter="$out/compiler.jam"
if [ ! -f "$interpreter" ] || [ "$interpreter_wasm" -nt "$interpreter" ] || [ "$bin/wasm2pvm" -nt "$interpreter" ]; then
  "$bin/wasm2pvm" --imports "$imports" "$interpreter_wasm" | "$bin/jam-pack" -o "$interpreter"
fi

artifact() {
  printf '  %-44s %8s bytes\n' "$1" "$(stat -c %s "$1")"
}

# Compiles (or copies) an inner program to $out/NAME.jam and prints its path.
inner_jam() {
  local source=$1 name
  name=$(basename "${source%.*}")
  case "$source" in
    *.jam) cp "$source" "$out/$name.jam" ;;
    *.wat|*.wasm) "$bin/wasm2pvm" "$source" | "$bin/jam-pack" -o "$out/$name.jam" ;;
    *) echo "pvm-in-pvm: $source: expected a .wat, .wasm or .jam file" >&2; exit 2 ;;
  esac
  echo "$out/$name.jam"
}

nested() {
  local label=$1 inner=$2 args=$3
  echo "== $label"
  echo "artifacts:"
  artifact "$interpreter_wasm"
  artifact "$interpreter"
  artifact "$inner"
  "$bin/pvm-run" "$interpreter" --inner "$inner" --inner-args "$args" --gas 1000000000 \
    | grep -E '^(Status|Gas remaining|Inner)' | sed 's/^/  outer /; s/^  outer Inner/  inner/'
}

if [ $# -eq 0 ]; then
  printf 'trap\n' | "$bin/jam-pack" -o "$out/trap.jam"
  nested "TRAP (21 bytes)" "$out/trap.jam" ""
  nested "add(5, 7)" "$(inner_jam "$root/../shared/bench/add.wat")" "0500000007000000"
else
  nested "$(basename "$1") ${2:-}" "$(inner_jam "$1")" "${2:-}"
fi

#!/usr/bin/env bash
# PVM-in-PVM figures, like the table of ../shared/docs/mission.md: for each inner
# program, its .jam and code size, the outer gas of running it inside compiler.jam (the
# anan-as interpreter compiled by wasm2pvm), the gas of running it directly, the overhead
# (outer gas per direct instruction), and the wall time of the outer run on pvm-run and
# on the reference CLI (@fluffylabs/anan-as 1.2.0) with the same input. Both outer runs
# must agree on status, gas left and result.
#
# usage: scripts/bench-pvm-in-pvm.sh [--no-reference]
set -euo pipefail

source "$(dirname "$0")/bench-common.sh"
reference=1
[[ ${1:-} == --no-reference ]] && reference=0

bench_build bench-pvm-in-pvm

interpreter=$out/compiler.jam
"$bin/wasm2pvm" --imports "$root/scripts/anan-as-imports.txt" \
    "$root/vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm" | "$bin/jam-pack" -o "$interpreter"

outer_gas=10000000000
inner_gas=100000000
now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
field() { sed -n "s/^$1: //p"; }
code_of() { "$bin/jam-inspect" --json "$1" | sed -n 's/.*"code_length": \([0-9]*\).*/\1/p' | head -1; }
# $1 in little-endian hex, $2 bytes wide.
le() {
    local i hex=""
    for ((i = 0; i < $2; i++)); do hex+=$(printf '%02x' $((($1 >> (8 * i)) & 255))); done
    echo "$hex"
}

# name, source (trap = the 21-byte TRAP program), inner args
programs="TRAP trap -
add(5,7) add.wat 0500000007000000
fib(20) fib.wat 14000000
as_fib(10) as_fib.ts 0a000000
as_gcd(2017,200) as_gcd.ts e1070000c8000000
fib(10000) fib.wat 10270000"

printf '%-17s %7s %7s %12s %10s %9s %11s %9s %8s\n' program "jam B" "code B" "outer gas" "direct gas" overhead "pvm-run s" "ref s" ratio
while read -r name source args; do
    [[ $args == - ]] && args=""
    jam=$out/${source%.*}.jam
    case $source in
        trap) printf 'trap\n' | "$bin/jam-pack" -o "$jam" ;;
        *.ts)
            build_assemblyscript "$bench/$source" "$out/${source%.*}.wasm"
            "$bin/wasm2pvm" "$out/${source%.*}.wasm" | "$bin/jam-pack" -o "$jam"
            ;;
        *) "$bin/wasm2pvm" "$bench/$source" | "$bin/jam-pack" -o "$jam" ;;
    esac

    # Any status but HALT (the TRAP program panics) exits non-zero; the report is there.
    direct=$("$bin/pvm-run" "$jam" $args --gas "$inner_gas" || true)
    direct_gas=$((inner_gas - $(field "Gas remaining" <<<"$direct")))

    start=$(now)
    ours=$("$bin/pvm-run" "$interpreter" --inner "$jam" --inner-args "$args" --inner-gas "$inner_gas" --gas "$outer_gas")
    end=$(now)
    ours_s=$(seconds "$start" "$end")
    used=$((outer_gas - $(field "Gas remaining" <<<"$ours")))

    theirs_s=- ratio=-
    if ((reference)); then
        program_hex=$(od -An -v -tx1 "$jam" | tr -d ' \n')
        input=$(le "$inner_gas" 8)$(le 0 4)$(le "$(stat -c %s "$jam")" 4)$(le $((${#args} / 2)) 4)$program_hex$args
        start=$(now)
        theirs=$(node "$cli" run --spi --no-logs --gas "$outer_gas" "$interpreter" "0x$input" 2>&1)
        end=$(now)
        theirs_s=$(seconds "$start" "$end")
        for f in Status "Gas remaining" Result; do
            if [[ $(field "$f" <<<"$ours" | cut -d' ' -f1) != "$(field "$f" <<<"$theirs" | cut -d' ' -f1)" ]]; then
                echo "bench-pvm-in-pvm: $name: $f differs: pvm-run $(field "$f" <<<"$ours"), reference $(field "$f" <<<"$theirs")" >&2
                exit 1
            fi
        done
        ratio=$(awk -v a="$theirs_s" -v b="$ours_s" 'BEGIN { printf "%.0fx", a / b }')
    fi
    printf '%-17s %7d %7d %12d %10d %9.0f %11s %9s %8s\n' "$name" "$(stat -c %s "$jam")" "$(code_of "$jam")" \
        "$used" "$direct_gas" "$(awk -v a="$used" -v b="$direct_gas" 'BEGIN { print a / b }')" "$ours_s" "$theirs_s" "$ratio"
done <<<"$programs"
printf '\ncompiler.jam: %d bytes, code %d bytes\n' "$(stat -c %s "$interpreter")" "$(code_of "$interpreter")"

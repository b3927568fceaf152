#!/usr/bin/env bash
# What the address checks cost (docs/memory.md): each bench program (its longer case) and
# the anan-as interpreter compiled by the same wasm2pvm without the checks
# (--no-wild-address-traps, "before") and with them (the default, "after"): code bytes
# and gas on pvm-run, every result checked; then the outer gas of PVM-in-PVM with
# compiler.jam built each way (inner programs compiled with the default).
#
# usage: scripts/bench-address-checks.sh
set -euo pipefail

source "$(dirname "$0")/bench-common.sh"
[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,8p' "$0"; exit 0; }

bench_build bench-address-checks

# program, args, expected result
cases="add.wat 0500000007000000 0c000000
fib.wat a0860100 7b4a1634
factorial.wat 0a000000 005f3700
is_prime.wat fbffffff 01000000
fib_rec.wat 14000000 6d1a0000
sieve.wat 60ea0000 a9170000
sort.wat d007000001000000 a42656bc
hash.wat e8030000010000000200000003000000 25af294ce31689b5
dispatch.wat a0860100 68005880a880a880
memcopy.wat 64000000 e25fa6cd
as_fib.ts 2f000000 e12419b1
as_gcd.ts e1070000c8000000 01000000
as_objects.ts e8030000 0dba32348892ef66"

field() { sed -n "s/^$1: //p"; }
code_of() { "$bin/jam-inspect" --json "$1" | sed -n 's/.*"code_length": \([0-9]*\).*/\1/p' | head -1; }
change() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == 0) print "-"; else printf "%+.2f%%", 100 * (b - a) / a }'; }
gas=100000000000

# Compiles $1 (.wat or .ts) to $2 with the wasm2pvm flags that follow.
compile() {
    local source=$1 jam=$2 wasm=$1
    shift 2
    if [[ $source == *.ts ]]; then
        wasm=$out/$(basename "${source%.*}").wasm
        build_assemblyscript "$source" "$wasm"
    fi
    "$bin/wasm2pvm" "$@" "$wasm" | "$bin/jam-pack" -o "$jam"
}

# Gas of running $1 with args $2, checking the result $3.
gas_of() {
    local report
    report=$("$bin/pvm-run" "$1" "$2" --gas "$gas")
    if [[ $(sed -n 's/^Result: \[0x\(.*\)\]/\1/p' <<<"$report") != "$3" ]]; then
        echo "bench-address-checks: $1 $2: result $(field Result <<<"$report"), expected $3" >&2
        exit 1
    fi
    echo $((gas - $(field "Gas remaining" <<<"$report" | cut -d' ' -f1)))
}

echo "| program | args | code B before | code B after | gas before | gas after | gas change |"
echo "|---|---|---:|---:|---:|---:|---:|"
while read -r program args expected; do
    name=${program%.*}
    compile "$bench/$program" "$out/$name.before.jam" --no-wild-address-traps
    compile "$bench/$program" "$out/$name.jam"
    before=$(gas_of "$out/$name.before.jam" "$args" "$expected")
    after=$(gas_of "$out/$name.jam" "$args" "$expected")
    echo "| $program | $args | $(code_of "$out/$name.before.jam") | $(code_of "$out/$name.jam") | $before | $after | $(change "$before" "$after") |"
done <<<"$cases"

interpreter=$root/vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm
imports=(--imports "$root/scripts/anan-as-imports.txt")
"$bin/wasm2pvm" "${imports[@]}" --no-wild-address-traps "$interpreter" | "$bin/jam-pack" -o "$out/compiler.before.jam"
"$bin/wasm2pvm" "${imports[@]}" "$interpreter" | "$bin/jam-pack" -o "$out/compiler.jam"
echo "| compiler.wasm | - | $(code_of "$out/compiler.before.jam") | $(code_of "$out/compiler.jam") | - | - | - |"

echo
echo "| inner program | outer gas before | outer gas after | change |"
echo "|---|---:|---:|---:|"
inner_gas=100000000
programs="TRAP trap -
add(5,7) add.wat 0500000007000000
fib(20) fib.wat 14000000
as_fib(10) as_fib.ts 0a000000
fib(10000) fib.wat 10270000"
while read -r name source args; do
    [[ $args == - ]] && args=""
    jam=$out/inner.${source%.*}.jam
    case $source in
        trap) printf 'trap\n' | "$bin/jam-pack" -o "$jam" ;;
        *) compile "$bench/$source" "$jam" ;;
    esac
    used=()
    for interp in compiler.before compiler; do
        report=$("$bin/pvm-run" "$out/$interp.jam" --inner "$jam" --inner-args "$args" --inner-gas "$inner_gas" --gas "$gas")
        used+=($((gas - $(field "Gas remaining" <<<"$report" | cut -d' ' -f1))))
    done
    echo "| $name | ${used[0]} | ${used[1]} | $(change "${used[0]}" "${used[1]}") |"
done <<<"$programs"

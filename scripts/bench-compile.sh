#!/usr/bin/env bash
# Generated-code figures: every correctness case of ../shared/bench/README.md and the
# anan-as interpreter (compiler.wasm), compiled with wasm2pvm | jam-pack and run on
# pvm-run. Prints, per row: .wasm size, .jam size, code size, gas used (= PVM
# instructions executed), compile time (wasm2pvm alone, best of 3 runs), and the reference compiler's code size and gas
# from ../shared/docs/mission.md with our share of each. Every result is checked.
#
# usage: scripts/bench-compile.sh [--record LABEL] [-- WASM2PVM_FLAGS...]
#   --record LABEL  also append the table, the date and the command to docs/results.md
#   WASM2PVM_FLAGS  passed to every wasm2pvm run (e.g. -O0, --no-...)
set -euo pipefail

source "$(dirname "$0")/bench-common.sh"
record=""
flags=()
while (($#)); do
    case $1 in
        --record) record=$2; shift 2 ;;
        --) shift; flags=("$@"); break ;;
        -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "bench-compile: unknown argument $1" >&2; exit 2 ;;
    esac
done

bench_build bench-compile

# program, args, expected result, reference code bytes, reference gas (- = wrong)
cases="add.wat 0500000007000000 0c000000 91 25
add.wat 00000000ffffffff ffffffff 91 -
fib.wat 14000000 6d1a0000 130 367
fib.wat a0860100 7b4a1634 130 1700027
factorial.wat 0a000000 005f3700 104 121
is_prime.wat 19000000 00000000 293 93
is_prime.wat fbffffff 01000000 293 655405
fib_rec.wat 14000000 6d1a0000 248 875648
fib_rec.wat 19000000 11250100 248 -
sieve.wat 60ea0000 a9170000 303 2677523
sort.wat d007000001000000 a42656bc 612 22372251
hash.wat e8030000010000000200000003000000 25af294ce31689b5 188 305028
dispatch.wat a0860100 68005880a880a880 418 36000027
memcopy.wat 64000000 e25fa6cd 537 -
as_fib.ts 0a000000 37000000 461 275
as_fib.ts 2f000000 e12419b1 461 -
as_gcd.ts e1070000c8000000 01000000 456 154
as_gcd.ts 2f040000ce010000 15000000 456 -
as_objects.ts 0a000000 e1748ea1182ab1be 9310 11500
as_objects.ts e8030000 0dba32348892ef66 9310 1949420"

now() { date +%s%N; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "-" || b == 0) print "-"; else printf "%.0f%%", 100 * a / b }'; }

# Compiles $1 (a .wat/.wasm/.ts) with extra wasm2pvm flags; prints "jam-path compile-ms".
compile() {
    local source=$1 name wasm jam start end
    shift
    name=$(basename "${source%.*}")
    wasm=$source
    if [[ $source == *.ts ]]; then
        wasm=$out/$name.wasm
        build_assemblyscript "$source" "$wasm"
    fi
    jam=$out/$name.jam
    local best="" run start end
    for run in 1 2 3; do
        start=$(now)
        "$bin/wasm2pvm" "${flags[@]}" "$@" "$wasm" -o "$out/$name.s"
        end=$(now)
        if [[ -z $best ]] || ((end - start < best)); then best=$((end - start)); fi
    done
    "$bin/jam-pack" -o "$jam" <"$out/$name.s"
    echo "$jam $((best / 1000000))"
}

size_of() { stat -c %s "$1"; }
code_of() { "$bin/jam-inspect" --json "$1" | sed -n 's/.*"code_length": \([0-9]*\).*/\1/p' | head -1; }
wasm_of() {
    case $1 in
        *.ts) echo "$out/$(basename "${1%.*}").wasm" ;;
        *) echo "$1" ;;
    esac
}

table=$(mktemp)
trap 'rm -f "$table"' EXIT
{
    printf '| program | args | wasm B | jam B | code B | ref code B | code %% | gas | ref gas | gas %% | compile ms |\n'
    printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    while read -r program args expected ref_code ref_gas; do
        read -r jam ms < <(compile "$bench/$program")
        report=$("$bin/pvm-run" "$jam" "$args" --gas 100000000000)
        result=$(sed -n 's/^Result: \[0x\(.*\)\]/\1/p' <<<"$report")
        if [[ $result != "$expected" ]]; then
            echo "bench-compile: $program $args returned $result, expected $expected" >&2
            exit 1
        fi
        gas=$((100000000000 - $(sed -n 's/^Gas remaining: //p' <<<"$report")))
        wasm=$(wasm_of "$bench/$program")
        code=$(code_of "$jam")
        printf '| %s | %s | %d | %d | %d | %s | %s | %d | %s | %s | %d |\n' "$program" "$args" \
            "$(size_of "$wasm")" "$(size_of "$jam")" "$code" "$ref_code" "$(percent "$code" "$ref_code")" \
            "$gas" "$ref_gas" "$(percent "$gas" "$ref_gas")" "$ms"
    done <<<"$cases"
    interpreter=$root/vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm
    read -r jam ms < <(compile "$interpreter" --imports "$root/scripts/anan-as-imports.txt")
    code=$(code_of "$jam")
    printf '| compiler.wasm | - | %d | %d | %d | 77425 | %s | - | - | - | %d |\n' \
        "$(size_of "$interpreter")" "$(size_of "$jam")" "$code" "$(percent "$code" 77425)" "$ms"
} >"$table"
cat "$table"

if [[ -n $record ]]; then
    {
        printf '\n## %s\n\n' "$record"
        printf '%s, `scripts/bench-compile.sh%s`\n\n' "$(date -u +%Y-%m-%d)" "${flags:+ -- ${flags[*]}}"
        cat "$table"
    } >>"$root/docs/results.md"
    echo "recorded in docs/results.md" >&2
fi

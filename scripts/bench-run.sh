#!/usr/bin/env bash
# Runner speed: the long runs of ../shared/bench/README.md, compiled with wasm2pvm and
# jam-pack, run on pvm-run and on the reference CLI (@fluffylabs/anan-as 1.2.0) on the
# same .jam. Prints a table: PVM instructions executed, wall time and instructions per
# second of each, and the speed ratio. Both runs must give the expected result.
#
# usage: scripts/bench-run.sh [--no-reference] [PROGRAM...]
#   PROGRAM filters the rows by file name, with or without extension (fib.wat, fib).
set -euo pipefail

source "$(dirname "$0")/bench-common.sh"
reference=1
filters=()
for arg in "$@"; do
    case $arg in
        --no-reference) reference=0 ;;
        -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
        *) filters+=("$arg") ;;
    esac
done

bench_build bench-run

# program, args, expected result
runs="fib_rec.wat 20000000 053d2100
dispatch.wat 80969800 60006080a080a080
sort.wat a00f000007000000 bdc61d23
hash.wat 80841e0009000000080000000700000006000000050000000400000003000000 2523dfc7cd4b02c2
memcopy.wat d0070000 2d50eb32
fib.wat 80f0fa02 c58a89b7"

gas=100000000000
now() { date +%s.%N; }
field() { sed -n "s/^$1: //p"; }

printf '%-13s %14s %10s %12s %10s %12s %8s\n' program instructions "pvm-run s" "pvm-run M/s" "ref s" "ref M/s" ratio
total_instructions=0
total_ours=0
for filter in "${filters[@]}"; do
    grep -qE "^${filter%.wat}\.wat " <<<"$runs" || { echo "bench-run: no long run of $filter" >&2; exit 2; }
done
while read -r program args expected; do
    if ((${#filters[@]})) && [[ ! " ${filters[*]} " == *" $program "* && ! " ${filters[*]} " == *" ${program%.wat} "* ]]; then
        continue
    fi
    jam=$out/${program%.*}.jam
    "$bin/wasm2pvm" "$bench/$program" | "$bin/jam-pack" -o "$jam"

    start=$(now)
    report=$("$bin/pvm-run" "$jam" "$args" --gas "$gas")
    end=$(now)
    result=$(field Result <<<"$report" | tr -d '[]')
    if [[ $result != "0x$expected" ]]; then
        echo "$program: pvm-run returned $result, expected 0x$expected" >&2
        exit 1
    fi
    instructions=$((gas - $(field "Gas remaining" <<<"$report")))
    ours=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
    ours_rate=$(awk -v n="$instructions" -v t="$ours" 'BEGIN { printf "%.1f", n / t / 1e6 }')
    total_instructions=$((total_instructions + instructions))
    total_ours=$(awk -v a="$total_ours" -v b="$ours" 'BEGIN { print a + b }')

    theirs=- theirs_rate=- ratio=-
    if ((reference)); then
        start=$(now)
        report=$(node "$cli" run --spi --no-logs --gas "$gas" "$jam" "0x$args" 2>&1)
        end=$(now)
        result=$(field Result <<<"$report" | tr -d '[]')
        left=$(field "Gas remaining" <<<"$report")
        if [[ $result != "0x$expected" || $((gas - left)) != "$instructions" ]]; then
            echo "$program: the reference returned $result after $((gas - left)) instructions" >&2
            exit 1
        fi
        theirs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
        theirs_rate=$(awk -v n="$instructions" -v t="$theirs" 'BEGIN { printf "%.1f", n / t / 1e6 }')
        ratio=$(awk -v a="$theirs" -v b="$ours" 'BEGIN { printf "%.0fx", a / b }')
    fi
    printf '%-13s %14d %10s %12s %10s %12s %8s\n' "$program" "$instructions" "$ours" "$ours_rate" "$theirs" "$theirs_rate" "$ratio"
done <<<"$runs"
printf '%-13s %14d %10s %12s\n' total "$total_instructions" "$total_ours" \
    "$(awk -v n="$total_instructions" -v t="$total_ours" 'BEGIN { printf "%.1f", n / t / 1e6 }')"

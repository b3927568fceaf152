#!/usr/bin/env bash
# Runner speed: the long runs of ../shared/bench/README.md, compiled with wasm2pvm and
# jam-pack, run on pvm-run and on the reference CLI (@fluffylabs/anan-as 1.2.0) on the
# same .jam, pvm-run once per engine (--engine interp, --engine native). Prints a table:
# PVM instructions executed, CPU time (user + system: the machine is shared, so wall
# time measures the neighbours too) and instructions per second of each, the speed of
# the native engine over the interpreter and of the interpreter over the reference.
# Every run must give the expected result and execute the same instructions. Then the
# start-up costs: the translation of compiler.jam (the anan-as interpreter, about 23,000
# instructions), a tiny program per engine, and a short run of compiler.jam on `auto`
# against the interpreter, and PVM-in-PVM fib(10000) per engine, with the native run time
# apart from loading and translating (mean CPU time of 20 runs each).
#
# With --polkavm it builds bench/polkavm (PolkaVM 0.37 through the adapter of
# ../shared/docs/polkavm.md; its own workspace, so the toolchain's build never compiles
# PolkaVM) and adds PolkaVM's interpreter and recompiler: the seconds inside its `run`
# (wall time: the recompiler's guest runs in a sandbox process whose CPU time the
# shell does not see), which must give the same result and gas used.
#
# usage: scripts/bench-run.sh [--no-reference] [--polkavm] [PROGRAM...]
#   PROGRAM filters the rows by file name, with or without extension (fib.wat, fib).
set -euo pipefail

source "$(dirname "$0")/bench-common.sh"
reference=1
polkavm=0
filters=()
for arg in "$@"; do
    case $arg in
        --no-reference) reference=0 ;;
        --polkavm) polkavm=1 ;;
        -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
        *) filters+=("$arg") ;;
    esac
done

bench_build bench-run
if ((polkavm)); then
    (cd "$root/bench/polkavm" && cargo build --release --quiet)
    polkavm_bench=$root/bench/polkavm/target/release/polkavm-bench
fi

# program, args, expected result
runs="fib_rec.wat 20000000 053d2100
dispatch.wat 80969800 60006080a080a080
sort.wat a00f000007000000 bdc61d23
hash.wat 80841e0009000000080000000700000006000000050000000400000003000000 2523dfc7cd4b02c2
memcopy.wat d0070000 2d50eb32
fib.wat 80f0fa02 c58a89b7"

gas=100000000000
TIMEFORMAT='%U %S'
# cpu OUT CMD...: runs CMD with its output to OUT; prints its CPU seconds.
cpu() {
    local out=$1 times
    shift
    times=$({ time "$@" >"$out" 2>/dev/null; } 2>&1) || true
    awk -v t="$times" 'BEGIN { split(t, f, " "); printf "%.3f", f[1] + f[2] }'
}
# mean_ms CMD...: mean CPU milliseconds of 20 runs of CMD.
mean_ms() {
    local total=0 i
    for ((i = 0; i < 20; i++)); do total=$(awk -v a="$total" -v b="$(cpu /dev/null "$@")" 'BEGIN { print a + b }'); done
    awk -v t="$total" 'BEGIN { printf "%.1f", t / 20 * 1000 }'
}
field() { sed -n "s/^$1: //p"; }

printf '%-13s %14s %9s %9s %9s %9s %8s %9s %9s %8s\n' program instructions "interp s" "interp M/s" \
    "native s" "native M/s" "native/i" "ref s" "ref M/s" "interp/r"
total_instructions=0
declare -A total=([interp]=0 [native]=0 [interpreter]=0 [compiler]=0)
polkavm_rows=""
for filter in "${filters[@]}"; do
    grep -qE "^${filter%.wat}\.wat " <<<"$runs" || { echo "bench-run: no long run of $filter" >&2; exit 2; }
done
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.1f", n / t / 1e6 }'; }
while read -r program args expected; do
    if ((${#filters[@]})) && [[ ! " ${filters[*]} " == *" $program "* && ! " ${filters[*]} " == *" ${program%.wat} "* ]]; then
        continue
    fi
    jam=$out/${program%.*}.jam
    "$bin/wasm2pvm" "$bench/$program" | "$bin/jam-pack" -o "$jam"

    declare -A secs=()
    instructions=
    for engine in interp native; do
        secs[$engine]=$(cpu "$out/report" "$bin/pvm-run" "$jam" "$args" --gas "$gas" --engine "$engine")
        report=$(cat "$out/report")
        result=$(field Result <<<"$report" | tr -d '[]')
        used=$((gas - $(field "Gas remaining" <<<"$report")))
        if [[ $result != "0x$expected" || (-n $instructions && $used != "$instructions") ]]; then
            echo "$program: pvm-run --engine $engine returned $result after $used instructions" >&2
            exit 1
        fi
        instructions=$used
        total[$engine]=$(awk -v a="${total[$engine]}" -v b="${secs[$engine]}" 'BEGIN { print a + b }')
    done
    total_instructions=$((total_instructions + instructions))
    if ((polkavm)); then
        row=$(printf '%-13s' "$program")
        for backend in interpreter compiler; do
            report=$("$polkavm_bench" "$backend" "$jam" "$args" "$gas")
            result=$(field Result <<<"$report" | tr -d '[]')
            if [[ $result != "0x$expected" || $(field "Gas used" <<<"$report") != "$instructions" ]]; then
                echo "$program: PolkaVM's $backend returned $result after $(field "Gas used" <<<"$report") gas" >&2
                exit 1
            fi
            seconds=$(field Seconds <<<"$report")
            total[$backend]=$(awk -v a="${total[$backend]}" -v b="$seconds" 'BEGIN { print a + b }')
            row+=$(printf ' %9s %9s' "$seconds" "$(rate "$instructions" "$seconds")")
        done
        polkavm_rows+="$row $(awk -v a="$seconds" -v b="${secs[native]}" 'BEGIN { printf "%8.2fx", a / b }')"$'\n'
    fi
    speedup=$(awk -v a="${secs[interp]}" -v b="${secs[native]}" 'BEGIN { printf "%.1fx", a / b }')

    theirs=- theirs_rate=- ratio=-
    if ((reference)); then
        theirs=$(cpu "$out/report" node "$cli" run --spi --no-logs --gas "$gas" "$jam" "0x$args")
        report=$(cat "$out/report")
        result=$(field Result <<<"$report" | tr -d '[]')
        left=$(field "Gas remaining" <<<"$report")
        if [[ $result != "0x$expected" || $((gas - left)) != "$instructions" ]]; then
            echo "$program: the reference returned $result after $((gas - left)) instructions" >&2
            exit 1
        fi
        theirs_rate=$(rate "$instructions" "$theirs")
        ratio=$(awk -v a="$theirs" -v b="${secs[interp]}" 'BEGIN { printf "%.0fx", a / b }')
    fi
    printf '%-13s %14d %9s %9s %9s %9s %8s %9s %9s %8s\n' "$program" "$instructions" "${secs[interp]}" \
        "$(rate "$instructions" "${secs[interp]}")" "${secs[native]}" "$(rate "$instructions" "${secs[native]}")" \
        "$speedup" "$theirs" "$theirs_rate" "$ratio"
done <<<"$runs"
printf '%-13s %14d %9s %9s %9s %9s %8s\n' total "$total_instructions" "${total[interp]}" \
    "$(rate "$total_instructions" "${total[interp]}")" "${total[native]}" \
    "$(rate "$total_instructions" "${total[native]}")" \
    "$(awk -v a="${total[interp]}" -v b="${total[native]}" 'BEGIN { printf "%.1fx", a / b }')"

if ((polkavm)); then
    printf '\n%-13s %9s %9s %9s %9s %9s\n' program "pvi s" "pvi M/s" "pvc s" "pvc M/s" "pvc/native"
    printf '%s' "$polkavm_rows"
    printf '%-13s %9s %9s %9s %9s %8sx\n' total "${total[interpreter]}" \
        "$(rate "$total_instructions" "${total[interpreter]}")" "${total[compiler]}" \
        "$(rate "$total_instructions" "${total[compiler]}")" \
        "$(awk -v a="${total[compiler]}" -v b="${total[native]}" 'BEGIN { printf "%.2f", a / b }')"
fi

if ((${#filters[@]} == 0)); then
    compiler=$out/compiler.jam
    "$bin/wasm2pvm" --imports "$root/scripts/anan-as-imports.txt" \
        "$root/vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm" | "$bin/jam-pack" -o "$compiler"
    tiny=$out/add.jam
    "$bin/wasm2pvm" "$bench/add.wat" | "$bin/jam-pack" -o "$tiny"
    ops=$("$bin/jam-inspect" --asm "$compiler" | grep -c "^    ")
    interp_start=$(mean_ms "$bin/pvm-run" "$compiler" --gas 1 --engine interp)
    native_start=$(mean_ms "$bin/pvm-run" "$compiler" --gas 1 --engine native)
    auto_short=$(mean_ms "$bin/pvm-run" "$compiler" --gas 100000 --engine auto)
    interp_short=$(mean_ms "$bin/pvm-run" "$compiler" --gas 100000 --engine interp)
    printf '\ncompiler.jam (%s instructions): translation %s ms (native %s ms - interp %s ms, a run of 1 gas)\n' \
        "${ops:-?}" "$(awk -v a="$native_start" -v b="$interp_start" 'BEGIN { printf "%.1f", a - b }')" \
        "$native_start" "$interp_start"
    printf 'compiler.jam, a short run (100,000 gas): auto %s ms, interp %s ms\n' "$auto_short" "$interp_short"
    printf 'start-up, add.wat: interp %s ms, native %s ms, auto %s ms\n' \
        "$(mean_ms "$bin/pvm-run" "$tiny" 05000000 07000000 --engine interp)" \
        "$(mean_ms "$bin/pvm-run" "$tiny" 05000000 07000000 --engine native)" \
        "$(mean_ms "$bin/pvm-run" "$tiny" 05000000 07000000 --engine auto)"
    # PVM-in-PVM fib(10000) in compiler.jam; its run time on the native engine is the
    # whole run less a run that stops at the first instruction (loading, translation).
    inner=("$compiler" --inner "$out/fib.jam" --inner-args 10270000 --inner-gas 100000000)
    nested_native=$(mean_ms "$bin/pvm-run" "${inner[@]}" --gas 10000000000 --engine native)
    nested_load=$(mean_ms "$bin/pvm-run" "${inner[@]}" --gas 1 --engine native)
    printf 'PVM-in-PVM fib(10000): native %s ms of run (%s ms in all, %s ms loading and translating), interp %s ms, auto %s ms\n' \
        "$(awk -v a="$nested_native" -v b="$nested_load" 'BEGIN { printf "%.1f", a - b }')" "$nested_native" \
        "$nested_load" "$(mean_ms "$bin/pvm-run" "${inner[@]}" --gas 10000000000 --engine interp)" \
        "$(mean_ms "$bin/pvm-run" "${inner[@]}" --gas 10000000000 --engine auto)"
fi

#!/usr/bin/env bash
# Gas per float operation of the software routines (docs/abi.md#floating-point): for
# each operator, a program applies it to 1,000 pairs of random normal operands (drawn by
# an integer generator in the program, exponents within ±16 of 1.0) and the same program
# without the operator is subtracted; the table prints the average gas per operation,
# with every optimisation on (the routine inlined where LLVM finds it pays).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"
bench_build bench-floats
count=1000

# program OPERAND_TYPE RESULT_EXPR: RESULT_EXPR combines $a and $b (operand bits).
program() {
    local ty=$1 expr=$2
    cat <<EOF
(module
  (memory 1)
  (global \$seed (mut i64) (i64.const 0x2545f4914f6cdd1d))
  (func \$next (result i64)
    (global.set \$seed (i64.add (i64.mul (global.get \$seed) (i64.const 6364136223846793005))
                                (i64.const 1442695040888963407)))
    (global.get \$seed))
  ;; A random normal operand: sign, exponent within 16 of 1.0's, random fraction.
  (func \$f32 (result f32)
    (local \$r i64)
    (local.set \$r (call \$next))
    (f32.reinterpret_i32 (i32.wrap_i64 (i64.or
      (i64.and (i64.shr_u (local.get \$r) (i64.const 32)) (i64.const 0x807fffff))
      (i64.shl (i64.add (i64.const 111) (i64.and (local.get \$r) (i64.const 31))) (i64.const 23))))))
  (func \$f64 (result f64)
    (local \$r i64)
    (local.set \$r (call \$next))
    (f64.reinterpret_i64 (i64.or
      (i64.and (local.get \$r) (i64.const 0x800fffffffffffff))
      (i64.shl (i64.add (i64.const 1007) (i64.and (i64.shr_u (local.get \$r) (i64.const 52)) (i64.const 31)))
               (i64.const 52)))))
  (func (export "main") (param i32 i32) (result i64)
    (local \$i i32) (local \$acc i64) (local \$a $ty) (local \$b $ty)
    (loop \$l
      (local.set \$a (call \$$ty))
      (local.set \$b (call \$$ty))
      (local.set \$acc (i64.xor (local.get \$acc) $expr))
      (br_if \$l (i32.ne (local.tee \$i (i32.add (local.get \$i) (i32.const 1))) (i32.const $count))))
    (i64.store (i32.const 0) (local.get \$acc))
    (i64.const 0x800000000)))
EOF
}

gas() {
    local name=$1
    program "$2" "$3" >"$out/$name.wat"
    "$bin/wasm2pvm" "$out/$name.wat" | "$bin/jam-pack" >"$out/$name.jam"
    local initial=1000000000
    local left
    left=$("$bin/pvm-run" --gas $initial "$out/$name.jam" | sed -n 's/^Gas remaining: //p')
    echo $((initial - left))
}

bits32='(i64.extend_i32_u (i32.reinterpret_f32 %s))'
bits64='(i64.reinterpret_f64 %s)'
a32=$(printf "$bits32" '(local.get $a)')
a64=$(printf "$bits64" '(local.get $a)')
base32=$(gas base32 f32 "(i64.xor $a32 $(printf "$bits32" '(local.get $b)'))")
base64=$(gas base64 f64 "(i64.xor $a64 $(printf "$bits64" '(local.get $b)'))")

printf '| operation | gas per operation |\n|---|---:|\n'
row() {
    # Like the baseline, every program reads both operands.
    local label=$1 ty=$2 expr=$3 base
    base=$([[ $ty == f32 ]] && echo "$base32" || echo "$base64")
    local total
    [[ $expr == *'$b'* ]] || expr="(i64.xor $expr $(printf "$([[ $ty == f32 ]] && echo "$bits32" || echo "$bits64")" '(local.get $b)'))"
    total=$(gas "${label//[^a-z0-9_]/_}" "$ty" "$expr")
    printf '| %s | %s |\n' "$label" "$(awk -v t="$total" -v b="$base" -v n="$count" 'BEGIN { printf "%.0f", (t - b) / n }')"
}
for w in 32 64; do
    t=f$w
    bits=$([[ $w == 32 ]] && echo "$bits32" || echo "$bits64")
    for op in add sub mul div min; do
        row "$t.$op" $t "$(printf "$bits" "($t.$op (local.get \$a) (local.get \$b))")"
    done
    for op in sqrt nearest floor; do
        row "$t.$op" $t "$(printf "$bits" "($t.$op (local.get \$a))")"
    done
    row "$t.lt" $t "(i64.extend_i32_u ($t.lt (local.get \$a) (local.get \$b)))"
    row "i32.trunc_sat_${t}_s" $t "(i64.extend_i32_u (i32.trunc_sat_${t}_s (local.get \$a)))"
    row "i64.trunc_sat_${t}_s" $t "(i64.trunc_sat_${t}_s (local.get \$a))"
    # Conversions from integers take the operand's bits as the integer.
    row "$t.convert_i32_s" $t "$(printf "$bits" "($t.convert_i32_s (i32.wrap_i64 $(printf "$bits" '(local.get $a)')))")"
    row "$t.convert_i64_s" $t "$(printf "$bits" "($t.convert_i64_s $(printf "$bits" '(local.get $a)'))")"
done
row "f64.promote_f32" f32 "(i64.reinterpret_f64 (f64.promote_f32 (local.get \$a)))"
row "f32.demote_f64" f64 "(i64.extend_i32_u (i32.reinterpret_f32 (f32.demote_f64 (local.get \$a))))"

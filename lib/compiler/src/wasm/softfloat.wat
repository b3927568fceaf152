;; IEEE 754 binary32 and binary64 arithmetic in integer-only WebAssembly, for the
;; floating-point operators of WebAssembly (see softfloat.rs and docs/abi.md).
;;
;; Every routine works on the bit pattern of a float in an i64 (binary32 zero-extended).
;; The part between `@begin` and `@end` is written once and instantiated per format:
;; `@` becomes 32 or 64 and `{NAME}` a constant of the format. Each exported function
;; is named like the WebAssembly operator it implements and has its exact signature.
;;
;; Rounding is to nearest, ties to even. Every NaN result is the format's canonical
;; quiet NaN with the sign bit clear ({QNAN}).
;;
;; A significand travels with three extra low bits (guard, round, sticky): `$pack@`
;; takes a sign, a biased exponent `e` and a significand `m` of any size whose value is
;; m * 2^(e - BIAS - M - 3), normalises it, rounds it and packs it.
(module
  ;; The high 64 bits of the unsigned 128-bit product (one PVM instruction,
  ;; `abi::Pseudo::MulUpperUU`).
  (import "__pvm" "mul_upper_u_u" (func $mul_upper_u_u (param i64 i64) (result i64)))

  ;; x >> n, with bit 0 set if any bit shifted out was set (n >= 0).
  (func $shr_sticky (param $x i64) (param $n i64) (result i64)
    (if (result i64) (i64.ge_u (local.get $n) (i64.const 64))
      (then (i64.extend_i32_u (i64.ne (local.get $x) (i64.const 0))))
      (else
        (i64.or
          (i64.shr_u (local.get $x) (local.get $n))
          (i64.extend_i32_u
            (i64.ne
              (i64.and (local.get $x) (i64.sub (i64.shl (i64.const 1) (local.get $n)) (i64.const 1)))
              (i64.const 0)))))))

  ;; floor(sqrt(n)) for 0 < n < 2^63: Newton's iteration from 2^ceil(bits / 2), which is
  ;; above the root, down to the root.
  (func $isqrt (param $n i64) (result i64)
    (local $x i64) (local $y i64)
    (local.set $x
      (i64.shl (i64.const 1) (i64.shr_u (i64.sub (i64.const 65) (i64.clz (local.get $n))) (i64.const 1))))
    (loop $step
      (local.set $y (i64.shr_u (i64.add (local.get $x) (i64.div_u (local.get $n) (local.get $x))) (i64.const 1)))
      (if (i64.lt_u (local.get $y) (local.get $x))
        (then (local.set $x (local.get $y)) (br $step))))
    (local.get $x))

  ;; @begin
  (func $ext@ (param $x {T}) (result i64) {EXT})
  (func $wrap@ (param $x i64) (result {T}) {WRAP})

  (func $is_nan@ (param $x i64) (result i32)
    (i64.gt_u (i64.and (local.get $x) (i64.const {MAG})) (i64.const {INF})))
  (func $is_inf@ (param $x i64) (result i32)
    (i64.eq (i64.and (local.get $x) (i64.const {MAG})) (i64.const {INF})))
  (func $is_zero@ (param $x i64) (result i32)
    (i64.eqz (i64.and (local.get $x) (i64.const {MAG}))))
  ;; A signed integer that orders non-NaN floats as they compare (both zeros are 0).
  (func $key@ (param $x i64) (result i64)
    (if (result i64) (i64.eqz (i64.and (local.get $x) (i64.const {SIGN})))
      (then (local.get $x))
      (else (i64.sub (i64.const 0) (i64.and (local.get $x) (i64.const {MAG}))))))

  ;; The significand of a finite non-zero x, normalised to [2^M, 2^(M+1)).
  (func $sig@ (param $x i64) (result i64)
    (local $f i64)
    (local.set $f (i64.and (local.get $x) (i64.const {FMASK})))
    (if (result i64) (i64.eqz (i64.and (local.get $x) (i64.const {EXPMASK})))
      (then (i64.shl (local.get $f) (i64.sub (i64.clz (local.get $f)) (i64.const {UNPACK_LZ}))))
      (else (i64.or (local.get $f) (i64.const {IMPL})))))
  ;; The biased exponent that goes with `$sig@` (below 1 for subnormals).
  (func $exp@ (param $x i64) (result i64)
    (local $e i64)
    (local.set $e (i64.and (i64.shr_u (local.get $x) (i64.const {M})) (i64.const {EMAX})))
    (if (result i64) (i64.eqz (local.get $e))
      (then
        (i64.sub (i64.const 1)
          (i64.sub (i64.clz (i64.and (local.get $x) (i64.const {FMASK}))) (i64.const {UNPACK_LZ}))))
      (else (local.get $e))))

  ;; Rounds and packs sign s (in place), biased exponent k + 1 (0 <= k < EMAX - 1) and n,
  ;; whose leading one is bit 63, for the value n * 2^(k + 1 - BIAS - 63): n's top M + 1
  ;; bits are kept and rounded to nearest, ties to even, by the bits below them. A carry
  ;; out of rounding adds one to the exponent (and reaches infinity's pattern exactly at
  ;; the top).
  (func $round_top@ (param $s i64) (param $k i64) (param $n i64) (result i64)
    (local $kept i64) (local $rest i64)
    (local.set $kept (i64.shr_u (local.get $n) (i64.const {TOP_DROP})))
    (local.set $rest (i64.shl (local.get $n) (i64.const {TOP_KEEP})))
    ;; Up when the rest is above half, or half with the kept bits odd.
    (local.set $kept
      (i64.add (local.get $kept)
        (i64.extend_i32_u
          (i64.gt_u (local.get $rest)
            (i64.sub (i64.const -0x8000000000000000) (i64.and (local.get $kept) (i64.const 1)))))))
    ;; The kept bits' leading one adds 1 to the exponent field.
    (i64.or (local.get $s) (i64.add (i64.shl (local.get $k) (i64.const {M})) (local.get $kept))))

  ;; Normalises, rounds and packs sign s (in place), exponent e and significand m != 0.
  (func $pack@ (param $s i64) (param $e i64) (param $m i64) (result i64)
    (local $shift i64)
    (local.set $shift (i64.sub (i64.clz (local.get $m)) (i64.const {PACK_LZ})))
    (if (i64.ge_s (local.get $shift) (i64.const 0))
      (then (local.set $m (i64.shl (local.get $m) (local.get $shift))))
      (else (local.set $m (call $shr_sticky (local.get $m) (i64.sub (i64.const 0) (local.get $shift))))))
    (local.set $e (i64.sub (local.get $e) (local.get $shift)))
    (if (i64.ge_s (local.get $e) (i64.const {EMAX}))
      (then (return (i64.or (local.get $s) (i64.const {INF})))))
    (if (i64.lt_s (local.get $e) (i64.const 1))
      (then
        (local.set $m (call $shr_sticky (local.get $m) (i64.sub (i64.const 1) (local.get $e))))
        (local.set $e (i64.const 1))))
    ;; To nearest, ties to even: adding 3 and the last kept bit carries into the kept bits
    ;; exactly when the three extra bits are above half, or half with the last bit odd.
    (local.set $m
      (i64.shr_u
        (i64.add (local.get $m) (i64.add (i64.and (i64.shr_u (local.get $m) (i64.const 3)) (i64.const 1)) (i64.const 3)))
        (i64.const 3)))
    ;; The significand's leading one adds 1 to the exponent field; a carry out of
    ;; rounding adds one more (and reaches infinity's pattern exactly at the top).
    (i64.or (local.get $s)
      (i64.add (i64.shl (i64.sub (local.get $e) (i64.const 1)) (i64.const {M})) (local.get $m))))

  ;; a + b. The common case directly: the larger magnitude's exponent field within
  ;; [{ADD_ELO}, EMAX - 2], where a zero or subnormal other operand is below a quarter of
  ;; its last place and the sum is normal and at most rounds to infinity. The rest in
  ;; `$add_general@`. `flip` is 0 for a + b and -2^(N - 1) for a - b in format N: it
  ;; flips b's sign bit, and a binary32 b's bits above its own (which `$narrow@` clears).
  ;; The result's bits above its format are undefined.
  (func $add@ (param $a i64) (param $b i64) (param $flip i64) (result i64)
    (local $ka i64) (local $kb i64) (local $less i32) (local $s i64) (local $x i64) (local $y i64)
    (local $ex i64) (local $d i64) (local $my i64) (local $r i64) (local $shift i64)
    ;; The magnitudes as integers that order as the magnitudes do: x the larger, y the
    ;; other, s the operand of the larger magnitude (its sign is the sum's).
    (local.set $ka (call $add_key@ (local.get $a)))
    (local.set $kb (call $add_key@ (local.get $b)))
    (local.set $less (i64.lt_u (local.get $ka) (local.get $kb)))
    (local.set $s (select (i64.xor (local.get $b) (local.get $flip)) (local.get $a) (local.get $less)))
    (local.set $x (select (local.get $kb) (local.get $ka) (local.get $less)))
    (local.set $y (select (local.get $ka) (local.get $kb) (local.get $less)))
    (local.set $ex (i64.shr_u (local.get $x) (i64.const {ADD_KEY_EXP})))
    (if (i64.ge_u (i64.sub (local.get $ex) (i64.const {ADD_ELO})) (i64.const {ADD_ERANGE}))
      (then
        (return (call $add_general@ (local.get $a) (call $narrow@ (i64.xor (local.get $b) (local.get $flip)))))))
    ;; Exponents 64 or more apart: y is below a quarter of x's last place, the sum
    ;; rounds to s.
    (local.set $d (i64.sub (local.get $ex) (i64.shr_u (local.get $y) (i64.const {ADD_KEY_EXP}))))
    (if (i64.gt_u (local.get $d) (i64.const 63)) (then (return (local.get $s))))
    ;; y's significand shifted right by the exponents' difference, bit 0 set if any bit
    ;; shifted out was set.
    (local.set $my (call $add_sig@ (local.get $y)))
    (local.set $r (i64.shr_u (local.get $my) (local.get $d)))
    (local.set $my
      (i64.or (local.get $r)
        (i64.extend_i32_u (i64.lt_u (i64.shl (local.get $r) (local.get $d)) (local.get $my)))))
    (if (i64.eqz (i64.and (i64.xor (i64.xor (local.get $a) (local.get $b)) (local.get $flip)) (i64.const {SIGN})))
      (then (local.set $r (i64.add (call $add_sig@ (local.get $x)) (local.get $my))))
      (else
        (local.set $r (i64.sub (call $add_sig@ (local.get $x)) (local.get $my)))
        ;; x - x is +0.
        (if (i64.eqz (local.get $r)) (then (return (i64.const 0))))))
    ;; The sum's leading one to bit {ADD_TOP}; each place it moves changes the exponent.
    (local.set $shift (i64.sub (i64.clz (local.get $r)) (i64.const {ADD_LZ})))
    (local.set $r (i64.shl (local.get $r) (local.get $shift)))
    ;; Rounded to nearest, ties to even, at bit {ADD_CUT}: adding half less one and the
    ;; last kept bit carries exactly when the rest is above half, or half with the last
    ;; kept bit odd. The kept bits' leading one adds 1 to the exponent field, a carry out
    ;; of rounding one more (reaching infinity's pattern exactly at the top); s's sign
    ;; bits stay in place above its exponent field.
    (i64.add
      (i64.shl (i64.sub (i64.shr_u (local.get $s) (i64.const {M})) (local.get $shift)) (i64.const {M}))
      (i64.shr_u
        (i64.add (local.get $r)
          (i64.add (i64.and (i64.shr_u (local.get $r) (i64.const {ADD_CUT})) (i64.const 1)) (i64.const {ADD_HALF_1})))
        (i64.const {ADD_CUT}))))

  ;; The bits of a binary32 without those above them.
  (func $narrow@ (param $x i64) (result i64) {NARROW})
  ;; An integer that orders the magnitudes as they compare, its exponent field at the
  ;; top.
  (func $add_key@ (param $x i64) (result i64) {ADD_KEY})
  ;; The significand of x (a magnitude key of `$add@`, with a normal exponent field) with
  ;; its leading one at bit {ADD_SIG_TOP} and zeros below.
  (func $add_sig@ (param $x i64) (result i64) {ADD_SIG})

  ;; a + b for any operands.
  (func $add_general@ (param $a i64) (param $b i64) (result i64)
    (local $ea i64) (local $eb i64) (local $ma i64) (local $mb i64) (local $t i64)
    (local.set $ea (i64.and (i64.shr_u (local.get $a) (i64.const {M})) (i64.const {EMAX})))
    (local.set $eb (i64.and (i64.shr_u (local.get $b) (i64.const {M})) (i64.const {EMAX})))
    (if (i32.or (i64.eq (local.get $ea) (i64.const {EMAX})) (i64.eq (local.get $eb) (i64.const {EMAX})))
      (then
        (if (i32.or (call $is_nan@ (local.get $a)) (call $is_nan@ (local.get $b)))
          (then (return (i64.const {QNAN}))))
        (if (i64.ne (local.get $ea) (i64.const {EMAX})) (then (return (local.get $b))))
        (if (i64.ne (local.get $eb) (i64.const {EMAX})) (then (return (local.get $a))))
        (if (i64.eq (local.get $a) (local.get $b)) (then (return (local.get $a))))
        (return (i64.const {QNAN}))))
    ;; Make |a| >= |b|.
    (if (i64.lt_u (i64.and (local.get $a) (i64.const {MAG})) (i64.and (local.get $b) (i64.const {MAG})))
      (then
        (local.set $t (local.get $a)) (local.set $a (local.get $b)) (local.set $b (local.get $t))
        (local.set $t (local.get $ea)) (local.set $ea (local.get $eb)) (local.set $eb (local.get $t))))
    (if (call $is_zero@ (local.get $b))
      (then
        ;; -0 + -0 is -0, +0 + -0 is +0.
        (if (call $is_zero@ (local.get $a)) (then (return (i64.and (local.get $a) (local.get $b)))))
        (return (local.get $a))))
    (local.set $ma (i64.and (local.get $a) (i64.const {FMASK})))
    (local.set $mb (i64.and (local.get $b) (i64.const {FMASK})))
    (if (i64.eqz (local.get $ea))
      (then (local.set $ea (i64.const 1)))
      (else (local.set $ma (i64.or (local.get $ma) (i64.const {IMPL})))))
    (if (i64.eqz (local.get $eb))
      (then (local.set $eb (i64.const 1)))
      (else (local.set $mb (i64.or (local.get $mb) (i64.const {IMPL})))))
    (local.set $ma (i64.shl (local.get $ma) (i64.const 3)))
    (local.set $mb (call $shr_sticky (i64.shl (local.get $mb) (i64.const 3)) (i64.sub (local.get $ea) (local.get $eb))))
    (if (i64.eqz (i64.and (i64.xor (local.get $a) (local.get $b)) (i64.const {SIGN})))
      (then (local.set $ma (i64.add (local.get $ma) (local.get $mb))))
      (else (local.set $ma (i64.sub (local.get $ma) (local.get $mb)))))
    ;; x - x is +0.
    (if (i64.eqz (local.get $ma)) (then (return (i64.const 0))))
    (call $pack@ (i64.and (local.get $a) (i64.const {SIGN})) (local.get $ea) (local.get $ma)))

  ;; a * b. The common case, both operands normal and a normal result, directly; the
  ;; rest in `$mul_general@`.
  (func $mul@ (param $a i64) (param $b i64) (result i64)
    (local $ea i64) (local $eb i64) (local $ma i64) (local $mb i64) (local $n i64) (local $lz i64) (local $k i64)
    (local.set $ea (i64.and (i64.shr_u (local.get $a) (i64.const {M})) (i64.const {EMAX})))
    (local.set $eb (i64.and (i64.shr_u (local.get $b) (i64.const {M})) (i64.const {EMAX})))
    ;; Exponent fields 0 (zero, subnormal) and EMAX (infinity, NaN) are the rare ones.
    (if (i32.or
          (i64.ge_u (i64.sub (local.get $ea) (i64.const 1)) (i64.const {EMAX_1}))
          (i64.ge_u (i64.sub (local.get $eb) (i64.const 1)) (i64.const {EMAX_1})))
      (then (return (call $mul_general@ (local.get $a) (local.get $b)))))
    ;; The significands with their leading one at bit 63; their product's high half has
    ;; its leading one at bit 62 or 63, the low half is the sticky bit.
    (local.set $ma (i64.or (i64.shl (local.get $a) (i64.const {TOP_DROP})) (i64.const -0x8000000000000000)))
    (local.set $mb (i64.or (i64.shl (local.get $b) (i64.const {TOP_DROP})) (i64.const -0x8000000000000000)))
    (local.set $n
      (i64.or
        (call $mul_upper_u_u (local.get $ma) (local.get $mb))
        (i64.extend_i32_u (i64.ne (i64.mul (local.get $ma) (local.get $mb)) (i64.const 0)))))
    (local.set $lz (i64.clz (local.get $n)))
    (local.set $k (i64.sub (i64.add (local.get $ea) (local.get $eb)) (i64.add (local.get $lz) (i64.const {BIAS}))))
    ;; A subnormal or infinite result.
    (if (i64.ge_u (local.get $k) (i64.const {EMAX_1}))
      (then (return (call $mul_general@ (local.get $a) (local.get $b)))))
    (call $round_top@ (i64.and (i64.xor (local.get $a) (local.get $b)) (i64.const {SIGN})) (local.get $k)
      (i64.shl (local.get $n) (local.get $lz))))

  ;; a * b for any operands.
  (func $mul_general@ (param $a i64) (param $b i64) (result i64)
    (local $s i64) (local $ma i64) (local $mb i64)
    (local.set $s (i64.and (i64.xor (local.get $a) (local.get $b)) (i64.const {SIGN})))
    (if (i32.or (call $is_nan@ (local.get $a)) (call $is_nan@ (local.get $b)))
      (then (return (i64.const {QNAN}))))
    (if (i32.or (call $is_inf@ (local.get $a)) (call $is_inf@ (local.get $b)))
      (then
        (if (i32.or (call $is_zero@ (local.get $a)) (call $is_zero@ (local.get $b)))
          (then (return (i64.const {QNAN}))))
        (return (i64.or (local.get $s) (i64.const {INF})))))
    (if (i32.or (call $is_zero@ (local.get $a)) (call $is_zero@ (local.get $b)))
      (then (return (local.get $s))))
    ;; The product of the significands, shifted left by {MUL_SHIFT_A} + {MUL_SHIFT_B} (its
    ;; high half then holds M + 4 or M + 5 bits), and its low half as the sticky bit.
    (local.set $ma (i64.shl (call $sig@ (local.get $a)) (i64.const {MUL_SHIFT_A})))
    (local.set $mb (i64.shl (call $sig@ (local.get $b)) (i64.const {MUL_SHIFT_B})))
    (call $pack@ (local.get $s)
      (i64.sub (i64.add (call $exp@ (local.get $a)) (call $exp@ (local.get $b))) (i64.const {BIAS}))
      (i64.or
        (call $mul_upper_u_u (local.get $ma) (local.get $mb))
        (i64.extend_i32_u (i64.ne (i64.mul (local.get $ma) (local.get $mb)) (i64.const 0))))))

  (func $div@ (param $a i64) (param $b i64) (result i64)
    (local $s i64) (local $r i64) (local $d i64) (local $q i64) (local $n i64) (local $k i64)
    (local.set $s (i64.and (i64.xor (local.get $a) (local.get $b)) (i64.const {SIGN})))
    (if (i32.or (call $is_nan@ (local.get $a)) (call $is_nan@ (local.get $b)))
      (then (return (i64.const {QNAN}))))
    (if (call $is_inf@ (local.get $a))
      (then
        (if (call $is_inf@ (local.get $b)) (then (return (i64.const {QNAN}))))
        (return (i64.or (local.get $s) (i64.const {INF})))))
    (if (call $is_inf@ (local.get $b)) (then (return (local.get $s))))
    (if (call $is_zero@ (local.get $b))
      (then
        (if (call $is_zero@ (local.get $a)) (then (return (i64.const {QNAN}))))
        (return (i64.or (local.get $s) (i64.const {INF})))))
    (if (call $is_zero@ (local.get $a)) (then (return (local.get $s))))
    ;; Long division, {DIV_STEP} quotient bits per step, {DIV_BITS} bits in all.
    (local.set $r (call $sig@ (local.get $a)))
    (local.set $d (call $sig@ (local.get $b)))
    (local.set $n (i64.const {DIV_BITS}))
    (loop $step
      (local.set $k (local.get $n))
      (if (i64.gt_u (local.get $k) (i64.const {DIV_STEP})) (then (local.set $k (i64.const {DIV_STEP}))))
      (local.set $r (i64.shl (local.get $r) (local.get $k)))
      (local.set $q (i64.or (i64.shl (local.get $q) (local.get $k)) (i64.div_u (local.get $r) (local.get $d))))
      (local.set $r (i64.rem_u (local.get $r) (local.get $d)))
      (local.set $n (i64.sub (local.get $n) (local.get $k)))
      (br_if $step (i64.ne (local.get $n) (i64.const 0))))
    (call $pack@ (local.get $s)
      (i64.add (i64.sub (call $exp@ (local.get $a)) (call $exp@ (local.get $b))) (i64.const {DIV_EXP}))
      (i64.or (local.get $q) (i64.extend_i32_u (i64.ne (local.get $r) (i64.const 0))))))

  (func $sqrt@ (param $a i64) (result i64)
    (local $m i64) (local $k i64) (local $q i64) (local $r i64) (local $blocks i64)
    (local $bits i64) (local $big i64) (local $twice i64) (local $d i64)
    (if (call $is_nan@ (local.get $a)) (then (return (i64.const {QNAN}))))
    (if (call $is_zero@ (local.get $a)) (then (return (local.get $a))))
    (if (i64.ne (i64.and (local.get $a) (i64.const {SIGN})) (i64.const 0)) (then (return (i64.const {QNAN}))))
    (if (call $is_inf@ (local.get $a)) (then (return (local.get $a))))
    ;; a = m * 2^k with k even.
    (local.set $m (call $sig@ (local.get $a)))
    (local.set $k (i64.sub (call $exp@ (local.get $a)) (i64.const {SQRT_K})))
    (if (i32.wrap_i64 (i64.and (local.get $k) (i64.const 1)))
      (then
        (local.set $m (i64.shl (local.get $m) (i64.const 1)))
        (local.set $k (i64.sub (local.get $k) (i64.const 1)))))
    ;; q = isqrt(m << {SQRT_SHIFT}) and its remainder r, then more root bits a block at a
    ;; time ({SQRT_BLOCKS}: the block sizes, lowest byte first).
    (local.set $big (i64.shl (local.get $m) (i64.const {SQRT_SHIFT})))
    (local.set $q (call $isqrt (local.get $big)))
    (local.set $r (i64.sub (local.get $big) (i64.mul (local.get $q) (local.get $q))))
    (local.set $blocks (i64.const {SQRT_BLOCKS}))
    (block $done
      (loop $block
        (br_if $done (i64.eqz (local.get $blocks)))
        (local.set $bits (i64.and (local.get $blocks) (i64.const 0xff)))
        (local.set $blocks (i64.shr_u (local.get $blocks) (i64.const 8)))
        ;; The root grows to q * 2^bits + d, the remainder to r * 4^bits - d * (twice + d)
        ;; with twice = q * 2^(bits + 1); r * 4^bits / twice is d or a little more.
        (local.set $big (i64.shl (local.get $r) (i64.shl (local.get $bits) (i64.const 1))))
        (local.set $twice (i64.shl (local.get $q) (i64.add (local.get $bits) (i64.const 1))))
        (local.set $d (i64.div_u (local.get $big) (local.get $twice)))
        (local.set $r
          (i64.sub (local.get $big) (i64.mul (local.get $d) (i64.add (local.get $twice) (local.get $d)))))
        (block $fits
          (loop $lower
            (br_if $fits (i64.ge_s (local.get $r) (i64.const 0)))
            (local.set $r
              (i64.add (local.get $r)
                (i64.sub (i64.add (local.get $twice) (i64.shl (local.get $d) (i64.const 1))) (i64.const 1))))
            (local.set $d (i64.sub (local.get $d) (i64.const 1)))
            (br $lower)))
        (local.set $q (i64.add (i64.shl (local.get $q) (local.get $bits)) (local.get $d)))
        (br $block)))
    (call $pack@ (i64.const 0)
      (i64.add (i64.shr_s (local.get $k) (i64.const 1)) (i64.const {SQRT_EXP}))
      (i64.or (local.get $q) (i64.extend_i32_u (i64.ne (local.get $r) (i64.const 0))))))

  (func $min@ (param $a i64) (param $b i64) (result i64)
    (if (i32.or (call $is_nan@ (local.get $a)) (call $is_nan@ (local.get $b)))
      (then (return (i64.const {QNAN}))))
    (if (i64.lt_s (call $key@ (local.get $a)) (call $key@ (local.get $b))) (then (return (local.get $a))))
    (if (i64.lt_s (call $key@ (local.get $b)) (call $key@ (local.get $a))) (then (return (local.get $b))))
    ;; Equal: the same value, or zeros (-0 is the smaller).
    (i64.or (local.get $a) (local.get $b)))

  (func $max@ (param $a i64) (param $b i64) (result i64)
    (if (i32.or (call $is_nan@ (local.get $a)) (call $is_nan@ (local.get $b)))
      (then (return (i64.const {QNAN}))))
    (if (i64.gt_s (call $key@ (local.get $a)) (call $key@ (local.get $b))) (then (return (local.get $a))))
    (if (i64.gt_s (call $key@ (local.get $b)) (call $key@ (local.get $a))) (then (return (local.get $b))))
    (i64.and (local.get $a) (local.get $b)))

  ;; Rounds to an integral value: mode 0 toward zero, 1 down, 2 up, 3 to nearest even.
  (func $round@ (param $a i64) (param $mode i32) (result i64)
    (local $e i64) (local $s i64) (local $one i64) (local $unit i64) (local $fraction i64) (local $t i64)
    (local $half i64)
    (local.set $e (i64.and (i64.shr_u (local.get $a) (i64.const {M})) (i64.const {EMAX})))
    (local.set $s (i64.and (local.get $a) (i64.const {SIGN})))
    (if (call $is_nan@ (local.get $a)) (then (return (i64.const {QNAN}))))
    (if (i64.ge_u (local.get $e) (i64.const {INTEGRAL_EXP})) (then (return (local.get $a))))
    (if (call $is_zero@ (local.get $a)) (then (return (local.get $a))))
    (if (i64.lt_u (local.get $e) (i64.const {BIAS}))
      (then
        ;; 0 < |a| < 1: the result is ±0 or ±1.
        (local.set $one (i64.or (local.get $s) (i64.const {ONE})))
        (if (i32.eq (local.get $mode) (i32.const 1))
          (then (return (select (local.get $one) (local.get $s) (i64.ne (local.get $s) (i64.const 0))))))
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then (return (select (local.get $s) (local.get $one) (i64.ne (local.get $s) (i64.const 0))))))
        (if (i32.eq (local.get $mode) (i32.const 3))
          (then
            (return
              (select (local.get $one) (local.get $s)
                (i32.and
                  (i64.eq (local.get $e) (i64.const {HALF_EXP}))
                  (i64.ne (i64.and (local.get $a) (i64.const {FMASK})) (i64.const 0)))))))
        (return (local.get $s))))
    (local.set $unit (i64.shl (i64.const 1) (i64.sub (i64.const {INTEGRAL_EXP}) (local.get $e))))
    (local.set $fraction (i64.and (local.get $a) (i64.sub (local.get $unit) (i64.const 1))))
    (local.set $t (i64.xor (local.get $a) (local.get $fraction)))
    (if (i64.eqz (local.get $fraction)) (then (return (local.get $a))))
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (return (select (i64.add (local.get $t) (local.get $unit)) (local.get $t) (i64.ne (local.get $s) (i64.const 0))))))
    (if (i32.eq (local.get $mode) (i32.const 2))
      (then
        (return (select (local.get $t) (i64.add (local.get $t) (local.get $unit)) (i64.ne (local.get $s) (i64.const 0))))))
    (if (i32.eq (local.get $mode) (i32.const 3))
      (then
        (local.set $half (i64.shr_u (local.get $unit) (i64.const 1)))
        (return
          (select (i64.add (local.get $t) (local.get $unit)) (local.get $t)
            (i32.or
              (i64.gt_u (local.get $fraction) (local.get $half))
              (i32.and
                (i64.eq (local.get $fraction) (local.get $half))
                (i64.ne (i64.and (local.get $t) (local.get $unit)) (i64.const 0))))))))
    (local.get $t))

  (func $eq@ (param $a i64) (param $b i64) (result i32)
    (if (i32.or (call $is_nan@ (local.get $a)) (call $is_nan@ (local.get $b))) (then (return (i32.const 0))))
    (i32.or (i64.eq (local.get $a) (local.get $b)) (call $is_zero@ (i64.or (local.get $a) (local.get $b)))))
  (func $lt@ (param $a i64) (param $b i64) (result i32)
    (if (i32.or (call $is_nan@ (local.get $a)) (call $is_nan@ (local.get $b))) (then (return (i32.const 0))))
    (i64.lt_s (call $key@ (local.get $a)) (call $key@ (local.get $b))))
  (func $le@ (param $a i64) (param $b i64) (result i32)
    (if (i32.or (call $is_nan@ (local.get $a)) (call $is_nan@ (local.get $b))) (then (return (i32.const 0))))
    (i64.le_s (call $key@ (local.get $a)) (call $key@ (local.get $b))))

  ;; The float nearest to the integer m (any 64 bits) with sign s (in place): m shifted
  ;; up to bit 63, then rounded.
  (func $from_int@ (param $s i64) (param $m i64) (result i64)
    (local $lz i64)
    (if (i64.eqz (local.get $m)) (then (return (i64.const 0))))
    (local.set $lz (i64.clz (local.get $m)))
    (call $round_top@ (local.get $s) (i64.sub (i64.const {LZ_EXP}) (local.get $lz))
      (i64.shl (local.get $m) (local.get $lz))))
  (func $from_signed@ (param $x i64) (result i64)
    (if (result i64) (i64.lt_s (local.get $x) (i64.const 0))
      (then (call $from_int@ (i64.const {SIGN}) (i64.sub (i64.const 0) (local.get $x))))
      (else (call $from_int@ (i64.const 0) (local.get $x)))))

  ;; Truncates to a `bits`-bit integer (signed or not). Out of range or NaN: a trap, or
  ;; with `saturate` the nearest representable value (0 for NaN).
  (func $to_int@ (param $a i64) (param $signed i32) (param $bits i64) (param $saturate i32) (result i64)
    (local $e i64) (local $u i64) (local $m i64) (local $negative i32) (local $max i64) (local $min_magnitude i64)
    (if (local.get $signed)
      (then
        (local.set $max (i64.shr_u (i64.const -1) (i64.sub (i64.const 65) (local.get $bits))))
        (local.set $min_magnitude (i64.add (local.get $max) (i64.const 1))))
      (else
        (local.set $max (i64.shr_u (i64.const -1) (i64.sub (i64.const 64) (local.get $bits))))))
    (if (call $is_nan@ (local.get $a))
      (then
        (if (local.get $saturate) (then (return (i64.const 0))))
        (unreachable)))
    (local.set $negative (i64.ne (i64.and (local.get $a) (i64.const {SIGN})) (i64.const 0)))
    (local.set $e (i64.and (i64.shr_u (local.get $a) (i64.const {M})) (i64.const {EMAX})))
    (if (i64.lt_u (local.get $e) (i64.const {BIAS})) (then (return (i64.const 0))))
    (block $overflow
      (local.set $u (i64.sub (local.get $e) (i64.const {BIAS})))
      (br_if $overflow (i64.ge_u (local.get $u) (i64.const 64)))
      (local.set $m (i64.or (i64.and (local.get $a) (i64.const {FMASK})) (i64.const {IMPL})))
      (local.set $m
        (if (result i64) (i64.ge_u (local.get $u) (i64.const {M}))
          (then (i64.shl (local.get $m) (i64.sub (local.get $u) (i64.const {M}))))
          (else (i64.shr_u (local.get $m) (i64.sub (i64.const {M}) (local.get $u))))))
      (if (local.get $negative)
        (then
          (br_if $overflow (i64.gt_u (local.get $m) (local.get $min_magnitude)))
          (return (i64.sub (i64.const 0) (local.get $m)))))
      (br_if $overflow (i64.gt_u (local.get $m) (local.get $max)))
      (return (local.get $m)))
    (if (i32.eqz (local.get $saturate)) (then (unreachable)))
    (select (i64.sub (i64.const 0) (local.get $min_magnitude)) (local.get $max) (local.get $negative)))

  (func (export "f@.add") (param {T} {T}) (result {T})
    (call $wrap@ (call $add@ (call $ext@ (local.get 0)) (call $ext@ (local.get 1)) (i64.const 0))))
  (func (export "f@.sub") (param {T} {T}) (result {T})
    (call $wrap@
      (call $add@ (call $ext@ (local.get 0)) (call $ext@ (local.get 1)) (i64.const {WIDE_SIGN}))))
  (func (export "f@.mul") (param {T} {T}) (result {T})
    (call $wrap@ (call $mul@ (call $ext@ (local.get 0)) (call $ext@ (local.get 1)))))
  (func (export "f@.div") (param {T} {T}) (result {T})
    (call $wrap@ (call $div@ (call $ext@ (local.get 0)) (call $ext@ (local.get 1)))))
  (func (export "f@.min") (param {T} {T}) (result {T})
    (call $wrap@ (call $min@ (call $ext@ (local.get 0)) (call $ext@ (local.get 1)))))
  (func (export "f@.max") (param {T} {T}) (result {T})
    (call $wrap@ (call $max@ (call $ext@ (local.get 0)) (call $ext@ (local.get 1)))))
  (func (export "f@.sqrt") (param {T}) (result {T})
    (call $wrap@ (call $sqrt@ (call $ext@ (local.get 0)))))
  (func (export "f@.trunc") (param {T}) (result {T})
    (call $wrap@ (call $round@ (call $ext@ (local.get 0)) (i32.const 0))))
  (func (export "f@.floor") (param {T}) (result {T})
    (call $wrap@ (call $round@ (call $ext@ (local.get 0)) (i32.const 1))))
  (func (export "f@.ceil") (param {T}) (result {T})
    (call $wrap@ (call $round@ (call $ext@ (local.get 0)) (i32.const 2))))
  (func (export "f@.nearest") (param {T}) (result {T})
    (call $wrap@ (call $round@ (call $ext@ (local.get 0)) (i32.const 3))))
  (func (export "f@.eq") (param {T} {T}) (result i32)
    (call $eq@ (call $ext@ (local.get 0)) (call $ext@ (local.get 1))))
  (func (export "f@.ne") (param {T} {T}) (result i32)
    (i32.eqz (call $eq@ (call $ext@ (local.get 0)) (call $ext@ (local.get 1)))))
  (func (export "f@.lt") (param {T} {T}) (result i32)
    (call $lt@ (call $ext@ (local.get 0)) (call $ext@ (local.get 1))))
  (func (export "f@.gt") (param {T} {T}) (result i32)
    (call $lt@ (call $ext@ (local.get 1)) (call $ext@ (local.get 0))))
  (func (export "f@.le") (param {T} {T}) (result i32)
    (call $le@ (call $ext@ (local.get 0)) (call $ext@ (local.get 1))))
  (func (export "f@.ge") (param {T} {T}) (result i32)
    (call $le@ (call $ext@ (local.get 1)) (call $ext@ (local.get 0))))
  (func (export "f@.convert_i32_s") (param i32) (result {T})
    (call $wrap@ (call $from_signed@ (i64.extend_i32_s (local.get 0)))))
  (func (export "f@.convert_i32_u") (param i32) (result {T})
    (call $wrap@ (call $from_int@ (i64.const 0) (i64.extend_i32_u (local.get 0)))))
  (func (export "f@.convert_i64_s") (param i64) (result {T})
    (call $wrap@ (call $from_signed@ (local.get 0))))
  (func (export "f@.convert_i64_u") (param i64) (result {T})
    (call $wrap@ (call $from_int@ (i64.const 0) (local.get 0))))
  (func (export "i32.trunc_f@_s") (param {T}) (result i32)
    (i32.wrap_i64 (call $to_int@ (call $ext@ (local.get 0)) (i32.const 1) (i64.const 32) (i32.const 0))))
  (func (export "i32.trunc_f@_u") (param {T}) (result i32)
    (i32.wrap_i64 (call $to_int@ (call $ext@ (local.get 0)) (i32.const 0) (i64.const 32) (i32.const 0))))
  (func (export "i64.trunc_f@_s") (param {T}) (result i64)
    (call $to_int@ (call $ext@ (local.get 0)) (i32.const 1) (i64.const 64) (i32.const 0)))
  (func (export "i64.trunc_f@_u") (param {T}) (result i64)
    (call $to_int@ (call $ext@ (local.get 0)) (i32.const 0) (i64.const 64) (i32.const 0)))
  (func (export "i32.trunc_sat_f@_s") (param {T}) (result i32)
    (i32.wrap_i64 (call $to_int@ (call $ext@ (local.get 0)) (i32.const 1) (i64.const 32) (i32.const 1))))
  (func (export "i32.trunc_sat_f@_u") (param {T}) (result i32)
    (i32.wrap_i64 (call $to_int@ (call $ext@ (local.get 0)) (i32.const 0) (i64.const 32) (i32.const 1))))
  (func (export "i64.trunc_sat_f@_s") (param {T}) (result i64)
    (call $to_int@ (call $ext@ (local.get 0)) (i32.const 1) (i64.const 64) (i32.const 1)))
  (func (export "i64.trunc_sat_f@_u") (param {T}) (result i64)
    (call $to_int@ (call $ext@ (local.get 0)) (i32.const 0) (i64.const 64) (i32.const 1)))
  ;; @end

  (func (export "f64.promote_f32") (param $x i32) (result i64)
    (local $a i64) (local $s i64) (local $e i64) (local $f i64) (local $shift i64)
    (local.set $a (i64.extend_i32_u (local.get $x)))
    (local.set $s (i64.shl (i64.and (local.get $a) (i64.const 0x80000000)) (i64.const 32)))
    (local.set $e (i64.and (i64.shr_u (local.get $a) (i64.const 23)) (i64.const 0xff)))
    (local.set $f (i64.and (local.get $a) (i64.const 0x7fffff)))
    (if (i64.eq (local.get $e) (i64.const 0xff))
      (then
        (if (i64.ne (local.get $f) (i64.const 0)) (then (return (i64.const 0x7ff8000000000000))))
        (return (i64.or (local.get $s) (i64.const 0x7ff0000000000000)))))
    (if (i64.eqz (local.get $e))
      (then
        (if (i64.eqz (local.get $f)) (then (return (local.get $s))))
        ;; A subnormal binary32 is a normal binary64.
        (local.set $shift (i64.sub (i64.clz (local.get $f)) (i64.const 40)))
        (local.set $f (i64.and (i64.shl (local.get $f) (local.get $shift)) (i64.const 0x7fffff)))
        (local.set $e (i64.sub (i64.const 1) (local.get $shift)))))
    (i64.or (local.get $s)
      (i64.or
        (i64.shl (i64.add (local.get $e) (i64.const 896)) (i64.const 52))
        (i64.shl (local.get $f) (i64.const 29)))))

  (func (export "f32.demote_f64") (param $a i64) (result i32)
    (local $s i64) (local $e i64) (local $f i64)
    (local.set $s (i64.and (i64.shr_u (local.get $a) (i64.const 32)) (i64.const 0x80000000)))
    (local.set $e (i64.and (i64.shr_u (local.get $a) (i64.const 52)) (i64.const 0x7ff)))
    (local.set $f (i64.and (local.get $a) (i64.const 0xfffffffffffff)))
    (if (i64.eq (local.get $e) (i64.const 0x7ff))
      (then
        (if (i64.ne (local.get $f) (i64.const 0)) (then (return (i32.const 0x7fc00000))))
        (return (i32.wrap_i64 (i64.or (local.get $s) (i64.const 0x7f800000))))))
    (if (i64.eqz (local.get $e))
      (then
        (if (i64.eqz (local.get $f)) (then (return (i32.wrap_i64 (local.get $s)))))
        (local.set $e (i64.const 1)))
      (else (local.set $f (i64.or (local.get $f) (i64.const 0x10000000000000)))))
    ;; The binary64 value f * 2^(e - 1023 - 52) in binary32's terms.
    (i32.wrap_i64 (call $pack32 (local.get $s) (i64.sub (local.get $e) (i64.const 925)) (i64.shl (local.get $f) (i64.const 3)))))
)

;; mandelbrot: escape-time iteration over an n × n grid of [-2, 1] × [-1.5, 1.5] in f64.
;; Arguments: n (u32) and the iteration limit (u32). The result (16 bytes at address 0):
;; the total iteration count (u64) and the sum over the escaped points of |z| at escape
;; (f64 bits), so that every float result reaches the output.
(module
  (memory (export "memory") 1)
  (func $escape (param $cr f64) (param $ci f64) (param $limit i32) (result i32)
    (local $zr f64) (local $zi f64) (local $zr2 f64) (local $zi2 f64) (local $i i32)
    (block $out
      (loop $step
        (br_if $out (i32.ge_u (local.get $i) (local.get $limit)))
        (local.set $zr2 (f64.mul (local.get $zr) (local.get $zr)))
        (local.set $zi2 (f64.mul (local.get $zi) (local.get $zi)))
        (br_if $out (f64.gt (f64.add (local.get $zr2) (local.get $zi2)) (f64.const 4)))
        (local.set $zi (f64.add (f64.mul (f64.mul (f64.const 2) (local.get $zr)) (local.get $zi))
                                (local.get $ci)))
        (local.set $zr (f64.add (f64.sub (local.get $zr2) (local.get $zi2)) (local.get $cr)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $step)))
    ;; The escape radius of the points that escaped goes into the checksum.
    (if (i32.lt_u (local.get $i) (local.get $limit))
      (then
        (f64.store (i32.const 8)
          (f64.add (f64.load (i32.const 8))
                   (f64.sqrt (f64.add (f64.mul (local.get $zr) (local.get $zr))
                                      (f64.mul (local.get $zi) (local.get $zi))))))))
    (local.get $i))
  (func (export "main") (param $args i32) (param $len i32) (result i64)
    (local $n i32) (local $limit i32) (local $x i32) (local $y i32) (local $total i64)
    (local $scale f64)
    (local.set $n (i32.load (local.get $args)))
    (local.set $limit (i32.load offset=4 (local.get $args)))
    (local.set $scale (f64.div (f64.const 3) (f64.convert_i32_u (local.get $n))))
    (f64.store (i32.const 8) (f64.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $y) (local.get $n)))
        (local.set $x (i32.const 0))
        (block $columns_done
          (loop $columns
            (br_if $columns_done (i32.ge_u (local.get $x) (local.get $n)))
            (local.set $total
              (i64.add (local.get $total)
                (i64.extend_i32_u
                  (call $escape
                    (f64.sub (f64.mul (f64.convert_i32_u (local.get $x)) (local.get $scale)) (f64.const 2))
                    (f64.sub (f64.mul (f64.convert_i32_u (local.get $y)) (local.get $scale)) (f64.const 1.5))
                    (local.get $limit)))))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $columns)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rows)))
    (i64.store (i32.const 0) (local.get $total))
    (i64.or (i64.const 0) (i64.shl (i64.const 16) (i64.const 32)))))

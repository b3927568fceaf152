//! Loops in the back end: the instructions one iteration executes, measured as the gas
//! difference between runs of one more iteration (every instruction costs one gas), with
//! the loop optimisations on and each one off. The loop's back edge is its conditional
//! branch (`fallthrough`), the values it carries share their phis' registers
//! (`loop-carried`), and 64-bit constants stay in registers (`loop-constants`).

mod support;

use pvm_compiler::{OptLevel, Optimization, Optimizations, Options};
use pvm_runner::{InputForm, Instance, Status};
use support::shared;

/// Gas a run of `source` with `args` uses; the run must halt.
fn gas(jam: &[u8], args: &[u8]) -> i64 {
    let start = 1 << 40;
    let mut vm = Instance::load(jam, InputForm::Jam, args, start).unwrap();
    assert_eq!(vm.run(), Status::Halt);
    start - vm.state().gas()
}

/// Instructions per iteration of the loop `args(n)` runs n times: the same for each of
/// three consecutive counts.
fn per_iteration(source: &[u8], options: &Options, args: impl Fn(u32) -> Vec<u8>) -> i64 {
    let jam = support::compile_jam(source, options).unwrap().0;
    let runs: Vec<i64> = (10..13).map(|n| gas(&jam, &args(n))).collect();
    assert_eq!(runs[2] - runs[1], runs[1] - runs[0], "the loop's cost is not linear: {runs:?}");
    runs[1] - runs[0]
}

fn without(off: &[Optimization]) -> Options {
    let mut optimizations = Optimizations::all();
    for &o in off {
        optimizations.disable(o);
    }
    Options { optimizations, ..Options::default() }
}

fn bench(name: &str) -> Vec<u8> {
    std::fs::read(shared().join("bench").join(name)).unwrap()
}

/// fib(n): `add_32` into a third register, `add_imm_32`, the two moves of the
/// loop-carried values (copied before the branch, `loop-carried`) and the branch back.
#[test]
fn fib_loop() {
    let args = |n: u32| n.to_le_bytes().to_vec();
    let source = bench("fib.wat");
    assert_eq!(per_iteration(&source, &Options::default(), args), 5);
    // The allocator's swap through a third register on the back edge, and a jump.
    assert_eq!(per_iteration(&source, &without(&[Optimization::LoopCarried]), args), 7);
    // The exit test branches out and a jump closes the loop.
    assert_eq!(per_iteration(&source, &without(&[Optimization::Fallthrough]), args), 7);
    assert_eq!(per_iteration(&source, &without(&[Optimization::Fallthrough, Optimization::LoopCarried]), args), 8);
}

/// hash: per argument byte (one round): `load_ind_u8` at `args_ptr + i` (`args_ptr` in
/// its offset), `xor`, `mul_64` with the FNV prime kept in a register, the index
/// increment and the branch back. The read needs no address check (docs/memory.md): `i`
/// counts from 0 while `i + 1 != args_len`, entered only when `args_len != 0`, so it
/// stays below the arguments' length (`loop-range`).
#[test]
fn hash_byte_loop() {
    let args = |n: u32| [1u32.to_le_bytes().to_vec(), vec![7; n as usize]].concat();
    let source = bench("hash.wat");
    assert_eq!(per_iteration(&source, &Options::default(), args), 5);
    // The check, made on `i` against the argument zone's end.
    assert_eq!(per_iteration(&source, &without(&[Optimization::LoopRange]), args), 6);
    // Without folding, `args + i` wrapped to 32 bits by an `add_imm_32`, the access at
    // offset 0 by another.
    assert_eq!(per_iteration(&source, &without(&[Optimization::FoldAddress]), args), 7);
    // Without either, the address is checked as a whole, and the argument bytes take
    // the check's rare path: its branch and the two compares of the zone.
    assert_eq!(per_iteration(&source, &without(&[Optimization::FoldAddress, Optimization::LoopRange]), args), 10);
    let unchecked = |off: &[Optimization]| Options { wild_address_traps: false, ..without(off) };
    assert_eq!(per_iteration(&source, &unchecked(&[]), args), 5);
    // The prime reloaded in every iteration.
    assert_eq!(per_iteration(&source, &unchecked(&[Optimization::LoopConstants]), args), 6);
    // The exit test branches out and a jump closes the loop.
    assert_eq!(per_iteration(&source, &unchecked(&[Optimization::Fallthrough]), args), 7);
    assert_eq!(per_iteration(&source, &unchecked(&[Optimization::Fallthrough, Optimization::LoopConstants]), args), 8);
    assert_eq!(per_iteration(&source, &unchecked(&[Optimization::FoldAddress]), args), 7);
    // At -Oz the loop is not rotated: `i != args_len` tested in its header, a jump back;
    // `i` stays at most the length, so the read needs no check there either.
    let small = |off: &[Optimization]| Options { opt_level: OptLevel::Oz, ..without(off) };
    assert_eq!(per_iteration(&source, &small(&[]), args), 6);
    assert_eq!(per_iteration(&source, &small(&[Optimization::LoopRange]), args), 7);
}

/// A byte sum whose exit test is at the bottom: the address check of `offset=64`
/// (docs/memory.md), load, add, increment, branch back.
#[test]
fn sum_loop() {
    let source = br#"(module
      (memory 1)
      (func (export "main") (param $ptr i32) (param $len i32) (result i64)
        (local $i i32) (local $s i32) (local $n i32)
        (local.set $n (i32.load (local.get $ptr)))
        (loop $l
          (local.set $s (i32.add (local.get $s) (i32.load8_u offset=64 (local.get $i))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        (i32.store (i32.const 16) (local.get $s))
        (i64.or (i64.const 16) (i64.shl (i64.const 4) (i64.const 32)))))"#;
    let args = |n: u32| n.to_le_bytes().to_vec();
    assert_eq!(per_iteration(source, &Options::default(), args), 5);
}

/// Two loops, in two functions, call one function too large for LLVM's inliner
/// (`hot-calls`, `lib/compiler/src/hot_calls.rs`): inlined into both, each iteration saves
/// the call, the return and the moves of the arguments and the result.
#[test]
fn calls_in_loops() {
    let mix = "(local.set $h (i32.mul (local.get $h) (i32.const 0x01000193)))
      (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
      (local.set $h (i32.add (local.get $h) (i32.rotl (local.get $h) (i32.const 5))))
      (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 7))))
      (local.set $h (i32.mul (local.get $h) (i32.const 0x2c1b3c6d)))
      (local.set $h (i32.xor (local.get $h) (i32.shl (local.get $h) (i32.const 11))))
      (local.set $h (i32.add (local.get $h) (i32.rotr (local.get $h) (i32.const 9))))"
        .repeat(3);
    let source = format!(
        r#"(module
      (memory 1)
      (func $mix (param $h i32) (param $b i32) (result i32)
        (local.set $h (i32.xor (local.get $h) (local.get $b)))
        {mix}
        (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
      (func $up (param $n i32) (result i32)
        (local $i i32) (local $h i32)
        (loop $l
          (local.set $h (call $mix (local.get $h) (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        (local.get $h))
      (func $down (param $n i32) (result i32)
        (local $h i32)
        (loop $l
          (local.set $h (call $mix (local.get $h) (local.get $n)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br_if $l (local.get $n)))
        (local.get $h))
      (func (export "main") (param $ptr i32) (param $len i32) (result i64)
        (local $n i32)
        (local.set $n (i32.load (local.get $ptr)))
        (i32.store (i32.const 16) (call $up (local.get $n)))
        (i32.store (i32.const 20) (call $down (local.get $n)))
        (i64.or (i64.const 16) (i64.shl (i64.const 8) (i64.const 32)))))"#
    );
    let args = |n: u32| n.to_le_bytes().to_vec();
    // One iteration of each loop.
    assert_eq!(per_iteration(source.as_bytes(), &Options::default(), args), 146);
    assert_eq!(per_iteration(source.as_bytes(), &without(&[Optimization::HotCalls]), args), 160);
}

/// An insertion sort of values already in order (`a[i] = i`), so each element stops its
/// shift loop at the first compare: per element, the fill's store, the outer loop's load
/// of the key and the shift loop's load of its neighbour (after a `fallthrough` into the
/// shift loop), each after the check of its address `4·j`, and the store of the key. The key's store needs no check of its own:
/// its address is the one the shift loop checked last, or 0 when `j` ran down to 0
/// (`phi-checks`, `backend/phi_checks.rs`); without it, `4·j` is shifted and checked
/// again.
#[test]
fn insertion_sort_loop() {
    let source = br#"(module
      (memory 1)
      (func (export "main") (param $ptr i32) (param $len i32) (result i64)
        (local $n i32) (local $i i32) (local $j i32) (local $key i32) (local $prev i32)
        (local.set $n (i32.load (local.get $ptr)))
        (block $filled
          (loop $fill
            (br_if $filled (i32.ge_u (local.get $i) (local.get $n)))
            (i32.store offset=1024 (i32.shl (local.get $i) (i32.const 2)) (local.get $i))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $fill)))
        (local.set $i (i32.const 1))
        (block $done
          (loop $outer
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $key (i32.load offset=1024 (i32.shl (local.get $i) (i32.const 2))))
            (local.set $j (local.get $i))
            (block $placed
              (loop $shift
                (br_if $placed (i32.eqz (local.get $j)))
                (local.set $prev (i32.load offset=1020 (i32.shl (local.get $j) (i32.const 2))))
                (br_if $placed (i32.le_u (local.get $prev) (local.get $key)))
                (i32.store offset=1024 (i32.shl (local.get $j) (i32.const 2)) (local.get $prev))
                (local.set $j (i32.sub (local.get $j) (i32.const 1)))
                (br $shift)))
            (i32.store offset=1024 (i32.shl (local.get $j) (i32.const 2)) (local.get $key))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $outer)))
        (i64.const 0)))"#;
    let args = |n: u32| n.to_le_bytes().to_vec();
    assert_eq!(per_iteration(source, &Options::default(), args), 17);
    assert_eq!(per_iteration(source, &without(&[Optimization::PhiChecks]), args), 19);
}

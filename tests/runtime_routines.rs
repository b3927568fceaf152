//! The compiler's `memset` and `memmove` routines around page boundaries: a program runs
//! a list of `memory.fill` and `memory.copy` operations (lengths unknown to the compiler,
//! so every one calls a routine) with ends on both sides of page boundaries, overlapping
//! upward and downward, then hashes the memory. The hash must equal a byte-by-byte
//! model's, on our runner and on the reference, which mishandles accesses that straddle
//! two pages (docs/runner.md): a routine that straddled a page would show there.

mod support;

use pvm_compiler::{Optimizations, Options};
use support::{Job, compile_jam, hex, run_ours, run_reference};

/// Where the operations work: [START, END) of linear memory, pages 1 to 5.
const START: u32 = 0x1000;
const END: u32 = 0x6000;
/// Where the operation list lives (above the pages it works on, in the one page of memory).
const OPS_AT: u32 = END;

#[derive(Clone, Copy)]
enum Op {
    Fill { dst: u32, byte: u32, len: u32 },
    Copy { dst: u32, src: u32, len: u32 },
}

/// Ends on both sides of the boundaries at 0x3000 and 0x4000, lengths around the
/// routines' 1-, 8- and 32-byte steps and longer than a page.
fn operations() -> Vec<Op> {
    let lengths = [1, 7, 8, 9, 31, 32, 33, 63, 100, 4095, 4097];
    let mut ops = Vec::new();
    for (k, &len) in lengths.iter().enumerate() {
        for boundary in [0x3000u32, 0x4000] {
            for before in [1, 3, 8, 13, 40] {
                let dst = boundary - before;
                ops.push(Op::Fill { dst, byte: 0x30 + k as u32 + before, len });
                for delta in [-9i32, -1, 1, 5, 8, 300] {
                    let src = dst.wrapping_add_signed(delta);
                    ops.push(Op::Copy { dst, src, len });
                }
            }
        }
    }
    ops.retain(|op| match *op {
        Op::Fill { dst, len, .. } => dst + len <= END,
        Op::Copy { dst, src, len } => dst + len <= END && src + len <= END && src >= START,
    });
    ops
}

fn module(ops: &[Op]) -> String {
    let mut data = String::new();
    for op in ops {
        let words = match *op {
            Op::Fill { dst, byte, len } => [0, dst, byte, len],
            Op::Copy { dst, src, len } => [1, dst, src, len],
        };
        for w in words {
            for b in w.to_le_bytes() {
                data.push_str(&format!("\\{b:02x}"));
            }
        }
    }
    let ops_end = OPS_AT + 16 * ops.len() as u32;
    assert!(ops_end <= 0x1_0000);
    format!(
        r#"(module
  (memory 1)
  (data (i32.const {OPS_AT}) "{data}")
  (func (export "main") (param $args i32) (param $len i32) (result i64)
    (local $i i32) (local $p i32) (local $h i64)
    (local.set $i (i32.const {START}))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $i) (i32.const {END})))
      (i32.store (local.get $i) (i32.mul (local.get $i) (i32.const 0x9e3779b1)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l)))
    (local.set $p (i32.const {OPS_AT}))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $p) (i32.const {ops_end})))
      (if (i32.load (local.get $p))
        (then (memory.copy (i32.load offset=4 (local.get $p)) (i32.load offset=8 (local.get $p))
                           (i32.load offset=12 (local.get $p))))
        (else (memory.fill (i32.load offset=4 (local.get $p)) (i32.load offset=8 (local.get $p))
                           (i32.load offset=12 (local.get $p)))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $l)))
    (local.set $h (i64.const 0xcbf29ce484222325))
    (local.set $i (i32.const {START}))
    (block $b (loop $l
      (br_if $b (i32.ge_u (local.get $i) (i32.const {END})))
      (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load8_u (local.get $i))) (i64.const 0x100000001b3)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i64.store (i32.const 0) (local.get $h))
    (i64.const 0x800000000)))"#
    )
}

/// The hash the program must print, from a byte-by-byte model of the operations.
fn model(ops: &[Op]) -> String {
    let mut memory = vec![0u8; END as usize];
    for i in (START..END).step_by(4) {
        memory[i as usize..i as usize + 4].copy_from_slice(&i.wrapping_mul(0x9e37_79b1).to_le_bytes());
    }
    for op in ops {
        match *op {
            Op::Fill { dst, byte, len } => memory[dst as usize..(dst + len) as usize].fill(byte as u8),
            Op::Copy { dst, src, len } => memory.copy_within(src as usize..(src + len) as usize, dst as usize),
        }
    }
    let hash = memory[START as usize..]
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    hex(&hash.to_le_bytes())
}

#[test]
fn fills_and_copies_across_pages_agree_with_a_model_on_both_runners() {
    let ops = operations();
    assert!(ops.len() > 600, "{} operations", ops.len());
    let source = module(&ops);
    let expected = model(&ops);
    let jobs: Vec<Job> = [Optimizations::all(), Optimizations::none()]
        .into_iter()
        .map(|optimizations| {
            let options = Options { optimizations, ..Options::default() };
            let (program, _) = compile_jam(source.as_bytes(), &options).unwrap();
            Job { program, args: Vec::new(), gas: 1_000_000_000 }
        })
        .collect();
    let reference = run_reference(&jobs);
    for (job, theirs) in jobs.iter().zip(&reference) {
        let ours = run_ours(job);
        assert_eq!(ours.status, 0, "status {}", ours.status);
        assert_eq!(ours.result, expected);
        assert_eq!(&ours, theirs, "our runner and the reference differ");
    }
}

//! The stack a program declares: the deepest chain of frames its calls can build when
//! they cannot recur, the requested size (`--stack-size`) otherwise
//! (`lib/compiler/src/backend/stack_depth.rs`).

mod support;

use pvm_compiler::{Optimization, Optimizations, Options};
use pvm_runner::{InputForm, Instance, Status};
use support::shared;

const PAGE: u32 = 4096;
const DEFAULT_STACK: u32 = 64 * 1024;

fn bench(name: &str) -> Vec<u8> {
    std::fs::read(shared().join("bench").join(name)).unwrap()
}

/// The SPI stack size the compiled program declares.
fn declared_stack(source: &[u8], options: &Options) -> u32 {
    support::compile_jam(source, options).unwrap().1.program.stack_size
}

/// Runs a compiled program with its stack declared `stack` bytes large.
fn run_with_stack(source: &[u8], options: &Options, stack: u32, args: &[u8]) -> (Status, Vec<u8>) {
    let mut program = pvm_compiler::compile(&pvm_compiler::read_input(source).unwrap(), options).unwrap().program;
    program.stack_size = stack;
    let jam = pvm_asm::assemble(&program).unwrap().jam;
    let mut vm = Instance::load(&jam, InputForm::Jam, args, 1 << 40).unwrap();
    let status = vm.run();
    (status, vm.result())
}

/// A chain `main → f1 → … → f{depth}` of direct calls, each passing 40 arguments (most
/// on the stack) that the last one sums, with inlining off so that every frame stays:
/// `main(n)` returns `40·n + depth - 1`.
fn chain(depth: usize) -> (String, Options) {
    let params: String = (0..40).map(|_| " i32").collect();
    let mut wat = String::from("(module (memory 1)\n");
    for k in 1..=depth {
        let body = if k == depth {
            (1..40).fold("(local.get 0)".to_string(), |sum, a| format!("(i32.add {sum} (local.get {a}))"))
        } else {
            let args: String = (0..40).map(|a| format!(" (local.get {})", (a + k) % 40)).collect();
            format!("(i32.add (call $f{} {args}) (i32.const 1))", k + 1)
        };
        wat += &format!("(func $f{k} (param{params}) (result i32) {body})\n");
    }
    let args: String = (0..40).map(|_| " (local.get $n)").collect();
    wat += &format!(
        "(func (export \"main\") (param i32 i32) (result i64) (local $n i32)
           (local.set $n (i32.load (local.get 0)))
           (i32.store (i32.const 0) (call $f1 {args}))
           (i64.const 17179869184))
        )"
    );
    let mut optimizations = Optimizations::all();
    optimizations.disable(Optimization::Inline);
    (wat, Options { optimizations, ..Options::default() })
}

#[test]
fn a_program_without_calls_declares_no_stack() {
    assert_eq!(declared_stack(&bench("add.wat"), &Options::default()), 0);
    assert_eq!(declared_stack(&bench("fib.wat"), &Options::default()), 0);
}

#[test]
fn a_recursive_program_keeps_the_requested_stack() {
    assert_eq!(declared_stack(&bench("fib_rec.wat"), &Options::default()), DEFAULT_STACK);
    let options = Options { stack_size: 1 << 20, ..Options::default() };
    assert_eq!(declared_stack(&bench("fib_rec.wat"), &options), 1 << 20);
}

#[test]
fn a_chain_of_calls_declares_the_pages_its_frames_take() {
    let (wat, options) = chain(16);
    let stack = declared_stack(wat.as_bytes(), &options);
    // 16 frames, each with the stack arguments of its call: several pages.
    assert!((3 * PAGE..DEFAULT_STACK).contains(&stack), "declared {stack}");
    assert_eq!(stack % PAGE, 0);
    let args = 5u32.to_le_bytes();
    assert_eq!(run_with_stack(wat.as_bytes(), &options, stack, &args), (Status::Halt, 215u32.to_le_bytes().to_vec()));
    // One page less, and the deepest call faults: the bound is tight to the page.
    let status = run_with_stack(wat.as_bytes(), &options, stack - PAGE, &args).0;
    assert!(matches!(status, Status::Fault(_)), "{status:?}");
}

#[test]
fn a_chain_deeper_than_the_requested_stack_keeps_the_requested_size() {
    let (wat, mut options) = chain(16);
    options.stack_size = PAGE;
    assert_eq!(declared_stack(wat.as_bytes(), &options), PAGE);
    let args = 5u32.to_le_bytes();
    let status = run_with_stack(wat.as_bytes(), &options, PAGE, &args).0;
    assert!(matches!(status, Status::Fault(_)), "{status:?}");
}

#[test]
fn a_call_through_the_table_reaches_every_function_in_it() {
    // $leaf is small; $deep recurses: a call through a table holding it may recur.
    let module = |elements: &str| {
        format!(
            "(module (memory 1) (type $t (func (param i32) (result i32)))
               (table 2 funcref) (elem (i32.const 0) {elements})
               (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
               (func $deep (param i32) (result i32)
                 (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
                   (else (i32.add (call $deep (i32.sub (local.get 0) (i32.const 1))) (i32.const 2)))))
               (func (export \"main\") (param i32 i32) (result i64)
                 (i32.store (i32.const 0)
                   (call_indirect (type $t) (i32.load (local.get 0)) (i32.load offset=4 (local.get 0))))
                 (i64.const 4294967296)))"
        )
    };
    let small = declared_stack(module("$leaf $leaf").as_bytes(), &Options::default());
    assert!(small < DEFAULT_STACK, "declared {small}");
    assert_eq!(declared_stack(module("$leaf $deep").as_bytes(), &Options::default()), DEFAULT_STACK);
}

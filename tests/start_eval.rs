//! The compile-time evaluation of the start function (`start-eval`,
//! lib/compiler/src/wasm/start_eval.rs): where it applies, the program gives the result it
//! gives with the start function run at run time, for less gas; where its outcome is not sure to be every run's (an import call, float
//! arithmetic, a trap, no end, a segment drop, a memory too large), the start function
//! stays and runs: the program is the same as with the evaluation off.

mod support;

use pvm_compiler::{Optimization, Options};
use pvm_runner::Engine;
use support::{Job, RunResult, compile_jam, run_on};

/// Compiles `wat` with the start function evaluated or not and runs it: the run and the
/// program's assembly.
fn run(wat: &str, evaluate: bool) -> (RunResult, String) {
    let mut options = Options::default();
    if !evaluate {
        options.optimizations.disable(Optimization::StartEval);
    }
    let (jam, compiled) = compile_jam(wat.as_bytes(), &options).expect("compiles");
    let (outcome, _) = run_on(&Job { program: jam, args: Vec::new(), gas: 10_000_000 }, Engine::Interpreter);
    (outcome, compiled.program.to_string())
}

/// Runs `wat` both ways; they must agree on the status and the result. Returns the runs,
/// and whether the programs are the same.
fn both(wat: &str) -> (RunResult, RunResult, bool) {
    let evaluated = run(wat, true);
    let at_run_time = run(wat, false);
    assert_eq!(
        (evaluated.0.status, &evaluated.0.result),
        (at_run_time.0.status, &at_run_time.0.result),
        "evaluated at compile time and run at run time differ"
    );
    (evaluated.0, at_run_time.0, evaluated.1 == at_run_time.1)
}

#[test]
fn the_start_functions_memory_globals_and_memory_size_become_the_initial_state() {
    let wat = r#"(module
  (memory 1 4)
  (global $counter (mut i32) (i32.const 5))
  (global $wide (mut i64) (i64.const 0))
  (global $heap (mut i32) (i32.const 0))
  (data (i32.const 100) "\01\02\03")
  (func $fill (param $n i32) (local $i i32)
    (loop $next
      (i32.store (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))
        (i32.mul (local.get $i) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n)))))
  (func $init
    (call $fill (i32.const 50))
    (global.set $counter (i32.add (global.get $counter) (memory.grow (i32.const 1))))
    (global.set $wide (i64.const 0x123456789abcdef0))
    (global.set $heap (i32.const 4096))
    (i32.store8 (i32.const 101) (i32.const 0))
    (i32.store (i32.const 70000) (i32.const 0xabcd)))
  (start $init)
  (func (export "main") (param i32 i32) (result i64)
    (i32.store (i32.const 0) (i32.load (i32.const 100)))
    (i32.store (i32.const 4) (i32.load (i32.const 1052)))
    (i32.store (i32.const 8) (global.get $counter))
    (i32.store (i32.const 12) (memory.size))
    (i64.store (i32.const 16) (global.get $wide))
    (i32.store (i32.const 24) (i32.load (i32.const 70000)))
    (i32.store (i32.const 28) (memory.grow (i32.const 2)))
    (i32.store (i32.const 32) (memory.grow (i32.const 1)))
    (global.set $heap (i32.add (global.get $heap) (i32.const 8)))
    (i32.store (i32.const 36) (global.get $heap))
    (i64.const 0x2800000000)))"#;
    let (evaluated, at_run_time, same_program) = both(wat);
    // 01 00 03 00: the data with the byte the start function cleared; 49 = 7 * 7; the
    // counter 5 + 1 (memory.grow's old size); 2 pages; the i64; the store in the grown
    // page; then growing by 2 succeeds (old size 2) and by 1 more fails (maximum 4); the
    // global main also writes: 4096 + 8.
    assert_eq!(evaluated.result, "01000300310000000600000002000000f0debc9a78563412cdab000002000000ffffffff08100000");
    assert_eq!(evaluated.status, 0);
    assert!(!same_program, "the start function was not evaluated");
    // The start function ran 50 loop iterations and more: at least 250 instructions.
    assert!(evaluated.gas - at_run_time.gas > 250, "{} vs {} gas left", evaluated.gas, at_run_time.gas);
}

/// Each module's start function leaves 1 at address 0 if it returns; `main` returns that
/// byte.
fn kept(start_body: &str, extra: &str) -> String {
    format!(
        r#"(module
  (import "env" "note" (func $note))
  (memory 1)
  {extra}
  (func $init {start_body} (i32.store8 (i32.const 0) (i32.const 1)))
  (start $init)
  (func (export "main") (param i32 i32) (result i64) (i64.const 0x100000000)))"#
    )
}

#[test]
fn a_start_function_whose_outcome_may_differ_runs_at_run_time() {
    let cases = [
        ("an import call", kept("(call $note)", ""), 0, "01"),
        (
            "float arithmetic",
            kept("(i32.store (i32.const 8) (i32.reinterpret_f32 (f32.add (f32.const 1.5) (f32.const 2.25))))", ""),
            0,
            "01",
        ),
        ("a trap", kept("(if (i32.eqz (i32.load (i32.const 4))) (then unreachable))", ""), 1, ""),
        ("no end", kept("(loop $forever (br $forever))", ""), 4, ""),
        ("a segment drop", kept("(data.drop $passive)", r#"(data $passive "abc")"#), 0, "01"),
        ("a memory too large", kept("(drop (memory.grow (i32.const 2000)))", ""), 0, "01"),
        ("a table too large", kept("", "(table 70000 funcref)"), 0, "01"),
    ];
    for (what, wat, status, result) in cases {
        let (evaluated, _, same_program) = both(&wat);
        assert!(same_program, "{what}: the start function was evaluated");
        assert_eq!((evaluated.status, evaluated.result.as_str()), (status, result), "{what}");
    }
}

#[test]
fn the_start_function_of_the_anan_as_interpreter_is_evaluated() {
    let wasm = std::fs::read(support::root().join("vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm"))
        .expect("npm packages installed (scripts/setup.sh)");
    let module = pvm_compiler::wasm::module::Module::parse(&wasm, &Options::default()).expect("valid");
    let snapshot = pvm_compiler::wasm::start_eval::evaluate(&wasm, &module).expect("evaluated");
    let (offset, image) = snapshot.image.expect("the memory holds data");
    assert!(image.len() > 20_000, "{} bytes from {offset}", image.len());
    assert!(!snapshot.globals.is_empty());
}

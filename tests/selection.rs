//! Instruction selection on small programs: the exact instructions of the entry
//! function where selection folds one value into its user, and the results they give.
//! A value folded away leaves no instruction behind (the back end's dead code removal).

mod support;

use pvm_compiler::Options;
use pvm_runner::{InputForm, Instance, Status};

/// The entry function's instructions (labels left out) and the program.
fn compile(wat: &str) -> (Vec<String>, Vec<u8>) {
    let (jam, compiled) = support::compile_jam(wat.as_bytes(), &Options::default()).unwrap();
    let text = compiled.program.to_string();
    let body = text
        .lines()
        .skip_while(|l| *l != "__pvm_entry:")
        .skip(1)
        .take_while(|l| l.starts_with(' ') || l.starts_with("__pvm_entry."))
        .filter(|l| l.starts_with(' '))
        .map(|l| l.trim().to_string())
        .collect();
    (body, jam)
}

/// The 8-byte result of a run with `args`.
fn run(jam: &[u8], args: &[u8]) -> u64 {
    let mut vm = Instance::load(jam, InputForm::Jam, args, 1 << 20).unwrap();
    assert_eq!(vm.run(), Status::Halt);
    u64::from_le_bytes(vm.result().try_into().unwrap())
}

/// `main` over the two 64-bit arguments `x` and `y` (read from the arguments), its
/// result the 8 bytes of `body`'s value.
fn program(body: &str) -> String {
    format!(
        r#"(module (memory 1)
          (func (export "main") (param $args i32) (param $len i32) (result i64)
            (local $x i64) (local $y i64)
            (local.set $x (i64.load (local.get $args)))
            (local.set $y (i64.load offset=8 (local.get $args)))
            (i64.store (i32.const 0) {body})
            (i64.const 0x800000000)))"#
    )
}

fn args(x: u64, y: u64) -> Vec<u8> {
    [x.to_le_bytes(), y.to_le_bytes()].concat()
}

/// WebAssembly masks a shift amount to the width, explicitly in the IR; the PVM's shifts
/// do it themselves, so the mask is selected into nothing.
#[test]
fn shift_masks_leave_no_instruction() {
    let (body, jam) = compile(&program("(i64.shl (local.get $x) (local.get $y))"));
    assert!(body.iter().any(|i| i.starts_with("shlo_l_64 ")), "{body:#?}");
    assert!(!body.iter().any(|i| i.starts_with("and_imm ")), "{body:#?}");
    assert_eq!(run(&jam, &args(3, 65)), 6);
    assert_eq!(run(&jam, &args(3, 63)), 1 << 63);
}

/// A test of one bit too high for an immediate branches on the sign of the value shifted
/// to put that bit on top: no 64-bit constant, no mask.
#[test]
fn single_bit_tests_branch_on_the_sign() {
    for bit in [31, 40, 62] {
        let (body, jam) = compile(&program(&format!(
            "(if (result i64) (i64.eqz (i64.and (local.get $x) (i64.const {})))
               (then (i64.load offset=16 (local.get $args))) (else (local.get $y)))",
            1u64 << bit
        )));
        let shift = format!(", {}", 63 - bit);
        assert!(body.iter().any(|i| i.starts_with("shlo_l_imm_64 ") && i.ends_with(&shift)), "{body:#?}");
        let constant = format!("{:#x}", 1u64 << bit);
        assert!(!body.iter().any(|i| i.contains(&constant) || i.starts_with("and ")), "{body:#?}");
        let with_third = |x: u64| [args(x, 7), 9u64.to_le_bytes().to_vec()].concat();
        assert_eq!(run(&jam, &with_third(1 << bit)), 7);
        assert_eq!(run(&jam, &with_third(!(1 << bit))), 9);
        assert_eq!(run(&jam, &with_third(u64::MAX)), 7);
        assert_eq!(run(&jam, &with_third(0)), 9);
    }
}

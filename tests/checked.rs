//! The compiler with its invariants checked. Its crate is built with debug assertions and
//! overflow checks in release builds too (Cargo.toml), so every test that compiles runs
//! them; here `wasm2pvm --verify-allocation` adds regalloc2's SSA validation and checker
//! on every function of a sample — every `.wat` program of `../shared/bench` and the
//! anan-as interpreter, `compiler.wasm` — with and without the address checks, and must
//! produce exactly the output of a run without it. A violated invariant surfaces here as a
//! failed run naming the module and the error. (The checker's own failure and an overflow
//! are shown by unit tests of the compiler crate, `backend::tests`.)

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The assembly `wasm2pvm` (the given build) writes for `module` with `flags`; panics
/// with the module, the status and the error unless it succeeds.
fn compile_with(wasm2pvm: &Path, module: &Path, flags: &[String]) -> String {
    let output = Command::new(wasm2pvm).args(flags).arg(module).output().expect("wasm2pvm runs");
    assert!(
        output.status.success(),
        "{} failed on {} ({}): {}",
        wasm2pvm.display(),
        module.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8(output.stdout).expect("assembly is text")
}

/// The sample: every `.wat` program of the bench, and the nested interpreter.
fn sample() -> Vec<(PathBuf, Vec<String>)> {
    let mut programs: Vec<PathBuf> = std::fs::read_dir(support::shared().join("bench"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .collect();
    programs.sort();
    let mut sample: Vec<(PathBuf, Vec<String>)> = programs.into_iter().map(|p| (p, vec![])).collect();
    let imports = support::root().join("scripts/anan-as-imports.txt");
    let interpreter = support::root().join("vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm");
    sample.push((interpreter, vec!["--imports".to_string(), imports.display().to_string()]));
    sample
}

#[test]
fn the_checked_compiler_agrees_with_the_release_build_on_a_sample() {
    let wasm2pvm = Path::new(env!("CARGO_BIN_EXE_wasm2pvm"));
    let sample = sample();
    assert_eq!(sample.len(), 11, "the bench's 10 .wat programs and compiler.wasm");
    for (module, flags) in &sample {
        // And without the address checks, the other shape of the code.
        let unchecked: Vec<String> = flags.iter().cloned().chain(["--no-wild-address-traps".to_string()]).collect();
        for flags in [flags, &unchecked] {
            let verified: Vec<String> = flags.iter().cloned().chain(["--verify-allocation".to_string()]).collect();
            let plain = compile_with(wasm2pvm, module, flags);
            assert_eq!(compile_with(wasm2pvm, module, &verified), plain, "{} {flags:?}", module.display());
        }
    }
}

/// A failed run of the checked compiler fails the test, naming the module and the error.
#[test]
#[should_panic(expected = "invalid.wasm (exit status: 1): wasm2pvm: ")]
fn a_failing_run_of_the_checked_compiler_fails() {
    let module = support::scratch_dir("checked").join("invalid.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0\x01").unwrap();
    compile_with(Path::new(env!("CARGO_BIN_EXE_wasm2pvm")), &module, &["--verify-allocation".to_string()]);
}

//! The compiler with its invariants checked: `wasm2pvm` built with the `checked` profile
//! (debug assertions, overflow checks, and regalloc2's checker on every register
//! allocation; `scripts/test.sh` builds it first) compiles a sample of modules — every
//! program of `../shared/bench` and the anan-as interpreter, `compiler.wasm` — and must
//! succeed with exactly the release build's output. A violated invariant surfaces here as
//! a failed run naming the module and the error.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `checked` build of `wasm2pvm`, beside the release build this test runs with.
fn checked_wasm2pvm() -> PathBuf {
    let release = Path::new(env!("CARGO_BIN_EXE_wasm2pvm"));
    let binary = release.parent().and_then(Path::parent).expect("target/release").join("checked/wasm2pvm");
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build --profile checked --bin wasm2pvm` (scripts/test.sh does)",
        binary.display()
    );
    binary
}

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
    let checked = checked_wasm2pvm();
    let release = Path::new(env!("CARGO_BIN_EXE_wasm2pvm"));
    let sample = sample();
    assert_eq!(sample.len(), 11, "the bench's 10 .wat programs and compiler.wasm");
    for (module, flags) in &sample {
        let theirs = compile_with(release, module, flags);
        assert_eq!(compile_with(&checked, module, flags), theirs, "{}", module.display());
        // And without the address checks, the other shape of the code.
        let mut unchecked = flags.clone();
        unchecked.push("--no-wild-address-traps".to_string());
        assert_eq!(compile_with(&checked, module, &unchecked), compile_with(release, module, &unchecked));
    }
}

/// A failed run of the checked compiler fails the test, naming the module and the error.
#[test]
#[should_panic(expected = "invalid.wasm (exit status: 1): error: invalid.wasm")]
fn a_failing_run_of_the_checked_compiler_fails() {
    let module = support::scratch_dir("checked").join("invalid.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0\x01").unwrap();
    compile_with(&checked_wasm2pvm(), &module, &[]);
}

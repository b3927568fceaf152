//! `wasm2pvm` as users run it: the pipe into `jam-pack` and `pvm-run`, `--emit-llvm`,
//! the import map, the anan-as interpreter (`compiler.wasm`) compiled to a `.jam` that
//! `jam-inspect` finds valid (its compile time is a benchmark: `scripts/bench-compile.sh`)
//! and that runs an inner program when split in parts (`--jobs`),
//! every optimisation switched off on its own, and bad input — invalid or
//! truncated modules, unsupported proposals, bad import
//! maps, bad flags: one line naming the file, the place and the reason, never a panic.

mod support;

use assert_cmd::Command;

fn wasm2pvm(args: &[&str], stdin: &[u8]) -> (Option<i32>, String, String) {
    let out = Command::cargo_bin("wasm2pvm").unwrap().args(args).write_stdin(stdin.to_vec()).output().unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn file(name: &str, bytes: &[u8]) -> String {
    let path = support::scratch_dir("cli-compile").join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

const ADD: &str = r#"(module
  (memory 1)
  (func (export "main") (param $ptr i32) (param $len i32) (result i64)
    (i32.store (i32.const 0) (i32.add (i32.load (local.get $ptr)) (i32.load offset=4 (local.get $ptr))))
    (i64.const 0x400000000)))"#;

#[test]
fn the_pipeline_and_llvm_output() {
    let (code, asm, err) = wasm2pvm(&[], ADD.as_bytes());
    assert_eq!(code, Some(0), "{err}");
    assert!(asm.starts_with(".asm 1\n"), "{asm}");
    let jam = Command::cargo_bin("jam-pack").unwrap().write_stdin(asm).output().unwrap().stdout;
    let path = file("add.jam", &jam);
    let out = Command::cargo_bin("pvm-run").unwrap().args([&path, "0500000007000000"]).output().unwrap();
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("Status: 0 (HALT)\n"), "{report}");
    assert!(report.ends_with("Result: [0x0c000000]\n"), "{report}");
    let (code, ir, _) = wasm2pvm(&["--emit-llvm"], ADD.as_bytes());
    assert_eq!(code, Some(0));
    assert!(ir.contains("define i64 @__pvm_entry("), "{ir}");
}

#[test]
fn imports_map_to_traps_host_calls_or_nothing() {
    let module = r#"(module
      (import "env" "log" (func $log (param i32 i32) (result i32)))
      (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
      (import "env" "other" (func $other))
      (func (export "main") (param i32 i32) (result i64)
        (call $other)
        (drop (call $log (i32.const 1) (i32.const 2)))
        (i64.const 0)))"#;
    let map = file("imports.txt", b"# host calls\nenv.log = ecalli 7\n");
    let (code, asm, err) = wasm2pvm(&["--imports", &map], module.as_bytes());
    assert_eq!(code, Some(0), "{err}");
    assert!(asm.contains("ecalli 7\n"), "{asm}");
    assert_eq!(
        err,
        "wasm2pvm: <stdin>: warning: unknown import env.other compiled as a call that does nothing and returns zero\n"
    );
    let (code, _, err) = wasm2pvm(&["--imports", &map, "--strict-imports"], module.as_bytes());
    assert_eq!(code, Some(1));
    assert_eq!(err, "wasm2pvm: <stdin>: unknown import env.other (--strict-imports); map it with --imports\n");
}

#[test]
fn the_anan_as_interpreter_compiles_to_a_valid_jam() {
    let interpreter = support::root().join("vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm");
    let imports = support::root().join("scripts/anan-as-imports.txt");
    let out =
        Command::cargo_bin("wasm2pvm").unwrap().arg("--imports").arg(&imports).arg(&interpreter).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let jam = Command::cargo_bin("jam-pack").unwrap().write_stdin(out.stdout).output().unwrap().stdout;
    let path = file("compiler.jam", &jam);
    let report = Command::cargo_bin("jam-inspect").unwrap().arg(&path).output().unwrap();
    assert!(report.status.success());
    let text = String::from_utf8(report.stdout).unwrap();
    assert!(text.ends_with("valid: no findings\n"), "{}", &text[text.len().saturating_sub(300)..]);
}

/// `--jobs N` splits the interpreter into N parts that LLVM optimises apart; the split
/// program still runs an inner program exactly.
#[test]
fn the_anan_as_interpreter_in_three_parts_runs_an_inner_program() {
    let interpreter = support::root().join("vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm");
    let imports = support::root().join("scripts/anan-as-imports.txt");
    let compiled = Command::cargo_bin("wasm2pvm")
        .unwrap()
        .args(["--jobs", "3", "--imports"])
        .arg(&imports)
        .arg(&interpreter)
        .output()
        .unwrap();
    assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));
    let jam = Command::cargo_bin("jam-pack").unwrap().write_stdin(compiled.stdout).output().unwrap().stdout;
    let interpreter = file("compiler-3.jam", &jam);
    let (_, add, _) = wasm2pvm(&[], ADD.as_bytes());
    let add = Command::cargo_bin("jam-pack").unwrap().write_stdin(add).output().unwrap().stdout;
    let add = file("add-3.jam", &add);
    let run = Command::cargo_bin("pvm-run")
        .unwrap()
        .args([&interpreter, "--inner", &add, "--inner-args", "0500000007000000"])
        .output()
        .unwrap();
    let report = String::from_utf8(run.stdout).unwrap();
    assert!(report.contains("Inner status: 0 (HALT)\n"), "{report}");
    assert!(report.contains("Inner result: [0x0c000000]\n"), "{report}");
    // The library reports the parts: three, and two without --jobs (64 functions or more).
    let wasm = std::fs::read(support::root().join("vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm"))
        .unwrap();
    let mut options = pvm_compiler::Options { jobs: Some(3), ..Default::default() };
    options.add_import_map(&std::fs::read_to_string(&imports).unwrap(), "anan-as-imports.txt").unwrap();
    assert_eq!(pvm_compiler::compile(&wasm, &options).unwrap().parts, 3);
    options.jobs = None;
    assert_eq!(pvm_compiler::compile(&wasm, &options).unwrap().parts, 2);
    let (code, _, err) = wasm2pvm(&["--jobs", "0"], ADD.as_bytes());
    assert_eq!(code, Some(2));
    assert!(err.starts_with("error: invalid value '0' for '--jobs <N>': 0 is not in 1..=64"), "{err}");
}

#[test]
fn bad_input_gets_one_line_errors() {
    let fails = |args: &[&str], stdin: &[u8]| {
        let (code, out, err) = wasm2pvm(args, stdin);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        err
    };
    // Every truncation of a module (but those at a section boundary, which are modules).
    let wasm = wat::parse_str(ADD).unwrap();
    for cut in (1..wasm.len()).filter(|&cut| wasmparser::validate(&wasm[..cut]).is_err()) {
        let path = file(&format!("cut{cut}.wasm"), &wasm[..cut]);
        let err = fails(&[&path], b"");
        assert!(err.starts_with(&format!("wasm2pvm: {path}: ")), "{err}");
    }
    let path = file("random.wasm", &[0x9c, 0xff, 0x00, 0x13, 0x37]);
    assert_eq!(
        fails(&[&path], b""),
        format!(
            "wasm2pvm: {path}: neither a WebAssembly binary (no \\0asm header) nor text (invalid UTF-8 at offset 0x0)\n"
        )
    );
    assert_eq!(
        fails(&[], b"(module (func (result i32) (i32.add (i32.const 1))))"),
        "wasm2pvm: <stdin>: offset 0x1a: invalid WebAssembly: type mismatch: expected i32 but nothing on stack\n"
    );
    assert_eq!(fails(&[], b"(module (func"), "wasm2pvm: <stdin>: line 1, column 14: expected `)`\n");
    assert_eq!(
        fails(&[], b"(module (func (drop (v128.const i64x2 1 2))))"),
        "wasm2pvm: <stdin>: offset 0x17: unsupported WebAssembly feature: SIMD support is not enabled\n"
    );
    let floats = b"(module (memory 1) (func (export \"main\") (param i32 i32) (result i64) \
                   (f32.store (i32.const 0) (f32.add (f32.const 1) (f32.const 2))) (i64.const 0x400000000)))";
    let run_floats = |flags: &[&str], name: &str| {
        let (code, asm, err) = wasm2pvm(flags, floats);
        assert_eq!(code, Some(0), "{err}");
        let jam = Command::cargo_bin("jam-pack").unwrap().write_stdin(asm).output().unwrap().stdout;
        let path = file(name, &jam);
        Command::cargo_bin("pvm-run").unwrap().arg(&path).output().unwrap()
    };
    // Floats are software routines by default: 1 + 2 is 3.0 (0x40400000).
    let run = run_floats(&[], "floats.jam");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Result: [0x00004040]"), "{stdout}");
    // With --trap-floats the float operator is a trap: main panics instead of halting.
    let run = run_floats(&["--trap-floats"], "trapped.jam");
    assert_eq!(run.status.code(), Some(10), "{}", String::from_utf8_lossy(&run.stdout));
    let map = file("bad.map", b"env.log = jump\n");
    assert_eq!(
        fails(&["--imports", &map], ADD.as_bytes()),
        format!("wasm2pvm: {map}:1: the action must be `trap`, `nop` or `ecalli N`: env.log = jump\n")
    );
    let map = file("bad2.map", b"\n envlog\n");
    assert_eq!(
        fails(&["--imports", &map], ADD.as_bytes()),
        format!("wasm2pvm: {map}:2: expected `module.field = action`: envlog\n")
    );
    // Limits are checked where a value enters, with the limit in the message.
    let (code, _, err) = wasm2pvm(&["--stack-size", "4294967295"], ADD.as_bytes());
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with(
            "error: invalid value '4294967295' for '--stack-size <STACK_SIZE>': 4294967295 is not in 0..=16773120"
        ),
        "{err}"
    );
    let (code, _, err) = wasm2pvm(&["--stack-size", "16773121"], ADD.as_bytes());
    assert_eq!(code, Some(2), "{err}");
    // The largest stack leaves no room for the globals of a module that has some (the
    // page counter memory.grow keeps).
    let globals = b"(module (memory 1) \
                    (func (export \"main\") (param i32 i32) (result i64) (i64.extend_i32_u (memory.grow (local.get 0)))))";
    assert_eq!(
        fails(&["--stack-size", "16773120"], globals),
        "wasm2pvm: <stdin>: the stack (16773120 bytes) and the globals (8 bytes) take 16777216 bytes in whole pages, \
         more than the SPI limit of 16777215 bytes\n"
    );
    let (code, _, err) = wasm2pvm(&["--stack-size", "16773120"], ADD.as_bytes());
    assert_eq!(code, Some(0), "{err}");
    // A data segment at the top of a 4 GiB memory is rejected at once (not built first).
    let top = b"(module (memory 65536) (data (i32.const 0xffffffff) \"\\01\") \
                (func (export \"main\") (param i32 i32) (result i64) (i64.const 0)))";
    assert_eq!(
        fails(&[], top),
        "wasm2pvm: <stdin>: the initial memory image (4294967296 bytes up to its last non-zero byte) exceeds the SPI \
         limit of 16777215 bytes\n"
    );
    let (code, _, err) = wasm2pvm(&["--bogus"], b"");
    assert_eq!(code, Some(2));
    assert!(err.starts_with("error: unexpected argument '--bogus' found"), "{err}");
}

/// A module where every optimisation has something to do: a memory copy of constant
/// length (the arguments lie outside linear memory, so they are loaded first), a loop
/// with a 64-bit constant and values it carries round (`x, y = y, x + i`), a compare
/// feeding a branch and a select, a small function to inline, loads with offsets,
/// constant operands, a zero extension of a masked value; a function whose values
/// outlive calls, so that some are spilled, reloaded and spilled again, and that stores
/// the low byte of one (a truncation nothing but the store reads); an insertion sort of
/// the argument bytes, whose store after the shift loop reuses the loop's address check.
const EVERY_OPTIMIZATION: &str = r#"(module
  (memory 1)
  (func $init (i32.store (i32.const 240) (i32.const 7)))
  (start $init)
  (func $next (param $p i32) (result i32)
    (i32.add (i32.add (local.get $p) (i32.load (local.get $p)))
      (i32.mul (i32.load offset=4 (local.get $p)) (i32.add (i32.load offset=8 (local.get $p))
        (i32.xor (i32.load offset=12 (local.get $p)) (i32.load offset=16 (local.get $p)))))))
  (func $spilled (param $p i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $e i32) (local $g i32) (local $i i32)
    (local.set $a (call $next (local.get $p)))
    (local.set $b (call $next (local.get $a)))
    (local.set $c (call $next (local.get $b)))
    (local.set $d (call $next (local.get $c)))
    (local.set $e (call $next (local.get $d)))
    (local.set $g (call $next (local.get $e)))
    (loop $again
      (i32.store (local.get $p) (local.get $g))
      (if (local.get $i) (then (i32.store offset=8 (local.get $p) (local.get $b))))
      (i32.store offset=4 (local.get $p) (local.get $a))
      (i32.store offset=12 (local.get $p) (call $scramble (local.get $i) (local.get $e)))
      (local.set $i (i32.add (local.get $i) (call $next (local.get $p))))
      (br_if $again (i32.lt_u (local.get $i) (local.get $c))))
    (i32.store8 (i32.const 128) (local.get $g))
    (i32.add (local.get $a) (i32.add (local.get $b) (i32.add (local.get $c)
      (i32.add (local.get $d) (i32.add (local.get $e) (local.get $g)))))))
  (func $scramble (param $h i32) (param $b i32) (result i32)
    (local.set $h (i32.xor (local.get $h) (local.get $b)))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x01000193)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32.add (local.get $h) (i32.rotl (local.get $h) (i32.const 5))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x2c1b3c6d)))
    (local.set $h (i32.xor (local.get $h) (i32.shl (local.get $h) (i32.const 11))))
    (local.set $h (i32.add (local.get $h) (i32.rotr (local.get $h) (i32.const 9))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x01000193)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32.add (local.get $h) (i32.rotl (local.get $h) (i32.const 5))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x2c1b3c6d)))
    (local.set $h (i32.xor (local.get $h) (i32.shl (local.get $h) (i32.const 11))))
    (i32.add (local.get $h) (i32.rotr (local.get $h) (i32.const 9))))
  (func $smaller (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_s (local.get $a) (local.get $b))))
  (func (export "main") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32) (local $sum i32) (local $h i64) (local $x i32) (local $y i32) (local $t i32) (local $k i32)
    (local $bytes i32) (local $key i32) (local $j i32) (local $prev i32)
    (i64.store (i32.const 32) (i64.load (local.get $ptr)))
    (local.set $i (i32.const 1))
    (loop $outer
      (local.set $key (i32.load8_u offset=32 (local.get $i)))
      (local.set $j (local.get $i))
      (block $placed
        (loop $shift
          (br_if $placed (i32.eqz (local.get $j)))
          (local.set $prev (i32.load8_u offset=31 (local.get $j)))
          (br_if $placed (i32.le_u (local.get $prev) (local.get $key)))
          (i32.store8 offset=32 (local.get $j) (local.get $prev))
          (local.set $j (i32.sub (local.get $j) (i32.const 1)))
          (br $shift)))
      (i32.store8 offset=32 (local.get $j) (local.get $key))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (i32.const 8))))
    (local.set $i (i32.const 0))
    (if (local.get $len) (then (loop $byte
      (local.set $bytes (call $scramble (local.get $bytes) (i32.load8_u (i32.add (local.get $ptr) (local.get $k)))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $byte (i32.ne (local.get $k) (local.get $len))))))
    (i32.store (i32.const 136) (local.get $bytes))
    (i32.store (i32.const 140) (i32.add (i32.load (i32.const 136)) (i32.const 1)))
    (memory.copy (i32.const 64) (i32.const 32) (i32.const 24))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $sum (i32.add (local.get $sum)
          (call $smaller (i32.load8_u offset=64 (local.get $i)) (i32.const 100))))
        (local.set $h (i64.mul (i64.add (local.get $h) (i64.extend_i32_u (local.get $i))) (i64.const 0x100000001b3)))
        (local.set $t (i32.add (local.get $x) (local.get $i)))
        (local.set $x (local.get $y))
        (local.set $y (local.get $t))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store (i32.const 132) (call $spilled (i32.const 256)))
    (i64.store (i32.const 8) (local.get $h))
    (i32.store (i32.const 16) (local.get $x))
    (i64.store (i32.const 0)
      (i64.add (i64.extend_i32_u (i32.and (local.get $sum) (i32.const 0xffff))) (i64.const 1)))
    (i64.const 0x800000000)))"#;

#[test]
fn every_optimisation_switches_off_on_its_own() {
    let run = |flags: &[&str]| {
        let (code, asm, err) = wasm2pvm(flags, EVERY_OPTIMIZATION.as_bytes());
        assert_eq!(code, Some(0), "{flags:?}: {err}");
        let jam = Command::cargo_bin("jam-pack").unwrap().write_stdin(asm.clone()).output().unwrap().stdout;
        // One file per flag set, named by its hash (the names of all flags together are
        // too long for a file name).
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(flags, &mut hasher);
        let path = file(&format!("every-{:016x}.jam", std::hash::Hasher::finish(&hasher)), &jam);
        let out = Command::cargo_bin("pvm-run").unwrap().args([&path, "01020304c8060708"]).output().unwrap();
        let report = String::from_utf8(out.stdout).unwrap();
        // min(b, 100) summed over the bytes, plus one: 1+2+3+4+100+6+7+8+1 = 132.
        assert!(report.ends_with("Result: [0x8400000000000000]\n"), "{flags:?}: {report}");
        asm
    };
    let optimised = run(&[]);
    let names = [
        "llvm",
        "inline",
        "fold-address",
        "immediates",
        "fuse-compare",
        "cmov",
        "known-bits",
        "inline-memory",
        "fallthrough",
        "loop-constants",
        "loop-carried",
        "dead-code",
        "reloads",
        "loop-range",
        "start-eval",
        "hot-calls",
        "repeated-loads",
        "phi-checks",
    ];
    let mut unoptimised = Vec::new();
    for name in names {
        let asm = run(&["--no-opt", name]);
        assert_ne!(asm, optimised, "--no-opt {name} changes nothing");
        unoptimised.push(asm);
    }
    // `constant-deltas` trades nothing but bytes, so only `-Oz` applies it.
    assert_ne!(run(&["-Oz", "--no-opt", "constant-deltas"]), run(&["-Oz"]));
    assert_eq!(run(&["--no-opt", "constant-deltas"]), optimised);
    let all = run(&["--no-opt", "all"]);
    assert_eq!(all, run(&names.iter().flat_map(|n| ["--no-opt", n]).collect::<Vec<_>>()));
    assert!(all.len() > optimised.len());
    let (code, _, err) = wasm2pvm(&["--no-opt", "unrolling"], ADD.as_bytes());
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with(
            "error: invalid value 'unrolling' for '--no-opt <NAME>'\n  [possible values: all, llvm, inline, fold-address, \
             immediates, fuse-compare, cmov, known-bits, inline-memory, fallthrough, loop-constants, loop-carried, dead-code, \
             reloads, loop-range, start-eval, hot-calls, repeated-loads, constant-deltas, phi-checks]\n"
        ),
        "{err}"
    );
}

/// `--time-phases` lists every phase on standard error, in order, with its time, and
/// leaves the output as it is.
#[test]
fn time_phases_lists_every_phase() {
    let (code, plain, _) = wasm2pvm(&[], ADD.as_bytes());
    assert_eq!(code, Some(0));
    let (code, asm, err) = wasm2pvm(&["--time-phases"], ADD.as_bytes());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(asm, plain);
    let mut lines = err.lines();
    assert_eq!(lines.next(), Some("wasm2pvm: phase times of <stdin>:"));
    let phases: Vec<(String, f64)> = lines
        .map(|line| {
            let (name, time) = line.split_once("  ").unwrap_or_else(|| panic!("{err}"));
            let ms = time.trim_start().split(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{err}"));
            (name.trim_end().to_string(), ms)
        })
        .collect();
    let names: Vec<&str> = phases.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "validation",
            "start evaluation",
            "LLVM IR",
            "LLVM optimisation",
            "import",
            "selection, allocation, emission",
            "program",
            "assembly text",
            "total"
        ],
        "{err}"
    );
    let sum: f64 = phases[..phases.len() - 1].iter().map(|(_, ms)| ms).sum();
    assert!((sum - phases[phases.len() - 1].1).abs() < 0.05, "{err}");
}

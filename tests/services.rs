//! JAM services: entry points laid out at pc 0, 5, 10, … (the JAM conventions and
//! `--entry`), each run on our runner and on the reference at its pc.

mod support;

use pvm_compiler::Options;
use pvm_runner::{InputForm, Instance, LogHost};
use support::{RunResult, compile_jam, hex, node_batch};

const GAS: i64 = 1_000_000;

/// Runs one of the programs with `args` (and `stdin`, if any).
fn tool<I, S>(name: &str, args: I, stdin: Option<Vec<u8>>) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = assert_cmd::Command::cargo_bin(name).unwrap();
    command.args(args);
    if let Some(stdin) = stdin {
        command.write_stdin(stdin);
    }
    command.output().unwrap()
}

/// Compiles `wat` with `wasm2pvm` (with `flags`) and `jam-pack` into `name.jam` in the
/// scratch directory; returns its path and bytes.
fn build_jam(name: &str, wat: &str, flags: &[&str]) -> (std::path::PathBuf, Vec<u8>) {
    let dir = support::scratch_dir("services");
    let source = dir.join(format!("{name}.wat"));
    std::fs::write(&source, wat).unwrap();
    let mut args = vec![source.into_os_string()];
    args.extend(flags.iter().map(Into::into));
    let asm = tool("wasm2pvm", args, None);
    assert!(asm.status.success(), "{}", String::from_utf8_lossy(&asm.stderr));
    let jam = tool("jam-pack", None::<&str>, Some(asm.stdout)).stdout;
    let path = dir.join(format!("{name}.jam"));
    std::fs::write(&path, &jam).unwrap();
    (path, jam)
}

/// A module whose exports return the text given for each, from memory; a start function
/// writes `!` at address 0, which each result includes, so every entry runs it.
fn module(exports: &[(&str, &str)]) -> String {
    let mut data = String::new();
    let mut functions = String::new();
    let mut at = 16;
    for (name, text) in exports {
        data.push_str(&format!("(data (i32.const {at}) \"{text}\")\n"));
        // The result: `text` then the byte at 0 — placed after it by the entry itself.
        functions.push_str(&format!(
            "(func (export \"{name}\") (param i32 i32) (result i64)
               (i32.store8 (i32.const {end}) (i32.load8_u (i32.const 0)))
               (i64.or (i64.const {at}) (i64.shl (i64.const {len}) (i64.const 32))))\n",
            end = at + text.len(),
            len = text.len() + 1,
        ));
        at += text.len() + 1;
    }
    format!(
        "(module (memory 1) {data} (func $start (i32.store8 (i32.const 0) (i32.const 33))) (start $start) {functions})"
    )
}

fn compile(source: &str, entries: &[&str]) -> Result<(Vec<u8>, pvm_compiler::Compiled), String> {
    let options = Options { entries: entries.iter().map(|e| e.to_string()).collect(), ..Options::default() };
    compile_jam(source.as_bytes(), &options)
}

fn run_ours(jam: &[u8], pc: u32, args: &[u8]) -> RunResult {
    let mut vm = Instance::load(jam, InputForm::Jam, args, GAS).unwrap();
    vm.set_pc(pc);
    let status = vm.run_with_host(&mut LogHost { out: std::io::sink() });
    let result = if status == pvm_runner::Status::Halt { vm.result() } else { Vec::new() };
    RunResult {
        status: status.code(),
        exit_code: vm.exit_code(status),
        pc: vm.pc(),
        gas: vm.state().gas(),
        registers: vm.state().regs().to_vec(),
        result: hex(&result),
    }
}

/// Runs `jam` at each pc on the reference; the outcomes of `run_ours` must be the same.
fn assert_reference_agrees(jam: &[u8], runs: &[(u32, &[u8])]) {
    let jobs: Vec<serde_json::Value> = runs
        .iter()
        .map(|(pc, args)| {
            serde_json::json!({"program": hex(jam), "args": hex(args), "gas": GAS.to_string(), "form": "jam", "pc": pc})
        })
        .collect();
    let reference = node_batch("run-batch.mjs", &serde_json::Value::Array(jobs));
    for ((pc, args), r) in runs.iter().zip(reference) {
        let ours = run_ours(jam, *pc, args);
        assert_eq!(ours.status as u64, r["status"], "pc {pc}: status");
        assert_eq!(ours.pc as u64, r["pc"], "pc {pc}: final pc");
        assert_eq!(ours.gas.to_string(), r["gas"], "pc {pc}: gas");
        assert_eq!(ours.result, r["result"], "pc {pc}: result");
        let registers: Vec<String> = ours.registers.iter().map(u64::to_string).collect();
        assert_eq!(serde_json::json!(registers), r["registers"], "pc {pc}: registers");
    }
}

/// With several entries, the first `5·count` code bytes are one `jump` with a 4-byte
/// offset per slot, to an instruction start; a single entry starts at pc 0 itself.
/// Returns the slots' targets.
fn assert_slots(compiled: &pvm_compiler::Compiled, jam: &[u8], count: usize) -> Vec<i64> {
    let parsed = pvm_asm::parse_file(jam, pvm_asm::InputForm::Jam).unwrap();
    let mut targets = Vec::new();
    for slot in (0..count).filter(|_| count > 1) {
        let pc = 5 * slot;
        let bytes = &parsed.blob.code[pc..pc + 5];
        assert_eq!(bytes[0], pvm_isa::Opcode::Jump as u8, "slot {slot}: {}", hex(bytes));
        let target = pc as i64 + i64::from(i32::from_le_bytes(bytes[1..].try_into().unwrap()));
        let listing = pvm_asm::disasm::listing(&parsed.blob);
        assert!(listing.iter().any(|l| l.pc as i64 == target && l.is_start), "slot {slot} target {target}");
        targets.push(target);
    }
    let first_label = compiled.program.items.iter().find_map(|i| match i {
        pvm_asm::Item::Label(l) => Some(l.as_str()),
        _ => None,
    });
    if count == 1 {
        assert_eq!(first_label, Some(pvm_compiler::abi::ENTRY), "a single entry starts at pc 0 itself");
    }
    targets
}

#[test]
fn a_single_entry_starts_at_pc_0() {
    for (exports, entries, expected) in [
        (&[("main", "main")][..], &[][..], "6d61696e21"),
        (&[("is_authorized", "auth")][..], &[][..], "6175746821"),
        (&[("main", "main"), ("refine", "ref"), ("accumulate", "acc")][..], &[][..], "6d61696e21"),
        (&[("refine", "ref")][..], &[][..], "72656621"),
        (&[("refine", "ref"), ("accumulate", "acc")][..], &["accumulate"][..], "61636321"),
    ] {
        let (jam, compiled) = compile(&module(exports), entries).unwrap();
        assert_slots(&compiled, &jam, 1);
        let ours = run_ours(&jam, 0, &[]);
        assert_eq!((ours.status, ours.result.as_str()), (0, expected), "{exports:?} {entries:?}");
        assert_reference_agrees(&jam, &[(0, &[])]);
    }
}

#[test]
fn a_service_enters_refine_at_0_and_accumulate_at_5() {
    let (jam, compiled) = compile(&module(&[("accumulate", "acc"), ("refine", "ref")]), &[]).unwrap();
    let targets = assert_slots(&compiled, &jam, 2);
    let path = support::scratch_dir("services").join("service.jam");
    std::fs::write(&path, &jam).unwrap();
    let out = tool("jam-inspect", [&path], None);
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = format!(
        "entry slots:\n  pc 0 (refine, is_authorized): jump to L{}\n  pc 5 (accumulate): jump to L{}\ndisassembly:\n",
        targets[0], targets[1]
    );
    assert!(text.contains(&expected), "{text}");
    assert_eq!(run_ours(&jam, 0, &[1, 2]).result, "72656621");
    assert_eq!(run_ours(&jam, 5, &[1, 2]).result, "61636321");
    assert_reference_agrees(&jam, &[(0, &[1, 2]), (5, &[1, 2])]);
    // A service without refine: pc 0 traps, pc 5 accumulates.
    let (jam, compiled) = compile(&module(&[("accumulate", "acc")]), &[]).unwrap();
    assert_slots(&compiled, &jam, 2);
    assert_eq!(run_ours(&jam, 0, &[]).status, 1);
    assert_eq!(run_ours(&jam, 5, &[]).result, "61636321");
    assert_reference_agrees(&jam, &[(0, &[]), (5, &[])]);
}

#[test]
fn entry_lists_lay_out_any_exports() {
    let source = module(&[("a", "one"), ("b", "two"), ("c", "three")]);
    let (jam, compiled) = compile(&source, &["c", "a", "b"]).unwrap();
    assert_slots(&compiled, &jam, 3);
    assert_eq!(run_ours(&jam, 0, &[]).result, "746872656521");
    assert_eq!(run_ours(&jam, 5, &[]).result, "6f6e6521");
    assert_eq!(run_ours(&jam, 10, &[]).result, "74776f21");
    assert_reference_agrees(&jam, &[(0, &[]), (5, &[]), (10, &[])]);
    let (jam, compiled) = compile(&source, &["b", "b"]).unwrap();
    assert_slots(&compiled, &jam, 2);
    assert_eq!(run_ours(&jam, 5, &[]).result, "74776f21");
}

#[test]
fn entries_return_through_globals_too() {
    let source = r#"(module (memory 1) (data (i32.const 8) "hi")
        (global (export "result_ptr") (mut i32) (i32.const 0))
        (global (export "result_len") (mut i32) (i32.const 0))
        (func (export "refine") (param i32 i32) (global.set 0 (i32.const 8)) (global.set 1 (i32.const 2)))
        (func (export "accumulate") (param i32 i32) (result i64)
          (i64.or (i64.extend_i32_u (local.get 0)) (i64.shl (i64.extend_i32_u (local.get 1)) (i64.const 32)))))"#;
    let (jam, _) = compile(source, &[]).unwrap();
    assert_eq!(run_ours(&jam, 0, &[]).result, "6869");
    // accumulate echoes its arguments.
    assert_eq!(run_ours(&jam, 5, &[1, 2, 3]).result, "010203");
    assert_reference_agrees(&jam, &[(0, &[]), (5, &[1, 2, 3])]);
}

#[test]
fn missing_and_mistyped_entries_are_errors() {
    let err = |source: &str, entries: &[&str]| compile(source, entries).err().unwrap();
    assert_eq!(err(&module(&[("a", "x")]), &["a", "nope"]), "--entry nope: the module exports no function named nope");
    assert_eq!(
        err(&module(&[("a", "x")]), &[]),
        "the module exports no function named main, nor a service's refine/accumulate or an authorizer's is_authorized (name others with --entry)"
    );
    assert_eq!(
        err("(module (func (export \"refine\") (param i32)))", &[]),
        "refine must take (args_ptr: i32, args_len: i32) and return i64 or nothing"
    );
    assert_eq!(
        err(
            "(module (func (export \"refine\") (param i32 i32)) (func (export \"accumulate\") (param i32 i32) (result i32) i32.const 0))",
            &[]
        ),
        "accumulate must take (args_ptr: i32, args_len: i32) and return i64 or nothing"
    );
}

#[test]
fn wasm2pvm_entry_flag_and_pvm_run_pc() {
    let source = module(&[("a", "one"), ("b", "two"), ("c", "three")]);
    let (path, _) = build_jam("three", &source, &["--entry", "c,a", "--entry", "b"]);
    for (pc, result) in [("0", "746872656521"), ("5", "6f6e6521"), ("10", "74776f21")] {
        let out = tool("pvm-run", [path.as_os_str(), "--pc".as_ref(), pc.as_ref(), "--json".as_ref()], None);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((json["status"].as_str(), json["result"].as_str()), (Some("HALT"), Some(result)), "pc {pc}");
    }
    let wat = path.with_extension("wat");
    let out = tool("wasm2pvm", [wat.as_os_str(), "--entry".as_ref(), "a,zz".as_ref()], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("wasm2pvm: {}: --entry zz: the module exports no function named zz\n", wat.display())
    );
}

/// Calls `jam.*` host calls with pointer, length and plain arguments, and returns what
/// each gave: memory 128..184 (the results as i64s, then the bytes `read` wrote).
const HOST_CALLS_WAT: &str = r#"(module
  (import "jam" "gas" (func $gas (result i64)))
  (import "jam" "read" (func $read (param i64 i32 i32 i32 i64 i64) (result i64)))
  (import "jam" "write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "jam" "log" (func $log (param i64 i32 i32 i32 i32) (result i64)))
  (import "jam" "invoke" (func $invoke (param i64 i32) (result i64 i64)))
  (memory 1)
  (data (i32.const 16) "key")
  (data (i32.const 32) "value!")
  (data (i32.const 48) "tgt")
  (data (i32.const 64) "hello")
  (func (export "main") (param i32 i32) (result i64) (local $a i64) (local $b i64)
    (i64.store (i32.const 128) (call $gas))
    (i64.store (i32.const 136)
      (call $read (i64.const -1) (i32.const 16) (i32.const 3) (i32.const 176) (i64.const 0) (i64.const 8)))
    (i64.store (i32.const 144)
      (i64.extend_i32_s (call $write (i32.const 16) (i32.const 3) (i32.const 32) (i32.const 6))))
    (i64.store (i32.const 152) (call $log (i64.const 2) (i32.const 48) (i32.const 3) (i32.const 64) (i32.const 5)))
    (call $invoke (i64.const 7) (i32.const 512))
    (local.set $b)
    (local.set $a)
    (i64.store (i32.const 160) (local.get $a))
    (i64.store (i32.const 168) (local.get $b))
    (i64.const 0x3800000080)))"#;

/// A recorded call: index, r7..r12, and (register, memory in hex) per address argument.
type RecordedCall = (u64, Vec<u64>, support::RecordedMemory);

#[test]
fn jam_imports_are_host_calls_with_the_gray_paper_registers() {
    let (jam, compiled) = compile(HOST_CALLS_WAT, &[]).unwrap();
    let script = "gas r7=1000\nread r7=8 r10@=0102030405060708\nwrite r7=FULL\nlog r7=WHAT\ninvoke r7=5 r8=0x1234\n";
    let mut host = pvm_runner::ScriptedHost::parse(script).unwrap();
    let mut vm = Instance::load(&jam, InputForm::Jam, &[], GAS).unwrap();
    let status = vm.run_with_host(&mut host);
    assert_eq!(status, pvm_runner::Status::Halt);
    let le = |v: u64| hex(&v.to_le_bytes());
    assert_eq!(
        hex(&vm.result()),
        [
            le(1000),
            le(8),
            le(pvm_isa::host_call::FULL as u32 as i32 as i64 as u64),
            le(pvm_isa::host_call::WHAT),
            le(5),
            le(0x1234)
        ]
        .concat()
            + "0102030405060708"
    );
    // The memory base: WebAssembly address a is PVM address B + a (docs/memory.md).
    let base = 0x20000 + pvm_isa::spi::zone_align(compiled.program.ro_data.len() as u64);
    let calls: Vec<RecordedCall> =
        host.calls.iter().map(|c| (c.index, c.registers[7..13].to_vec(), support::recorded_memory(c))).collect();
    assert_eq!(calls.len(), 5);
    assert_eq!(calls[0].0, 0);
    assert_eq!(
        calls[1],
        (3, vec![u64::MAX, base + 16, 3, base + 176, 0, 8], vec![(8, Some(hex(b"key"))), (10, Some(hex(&[0; 8])))])
    );
    assert_eq!(calls[2].0, 4);
    assert_eq!(calls[2].1[..4], [base + 16, 3, base + 32, 6]);
    assert_eq!(calls[2].2, vec![(7, Some(hex(b"key"))), (9, Some(hex(b"value!")))]);
    assert_eq!(calls[3].0, 100);
    assert_eq!(calls[3].1[..5], [2, base + 48, 3, base + 64, 5]);
    assert_eq!(calls[3].2, vec![(8, Some(hex(b"tgt"))), (10, Some(hex(b"hello")))]);
    assert_eq!((calls[4].0, calls[4].1[0], calls[4].1[1]), (12, 7, base + 512));
    // The reference stops at the first host call, as our runner does without a script.
    assert_reference_agrees(&jam, &[(0, &[])]);
    assert_eq!(run_ours(&jam, 0, &[]).exit_code, 0);
    assert_eq!(run_ours(&jam, 0, &[]).status, 3);
}

#[test]
fn every_jam_import_is_its_ecalli_and_unknown_names_are_errors() {
    // Each call with six arguments, addresses as i32 (WebAssembly addresses, which the
    // compiler moves to the memory base) and the rest as i64, in r7..r12 in order; its
    // results from r7 (and r8 for the two calls that give two) back in WebAssembly.
    for call in pvm_isa::host_call::HOST_CALLS {
        let two = ["invoke", "query"].contains(&call.name);
        let ty = |i: usize| if call.is_pointer(i) { "i32" } else { "i64" };
        let params: Vec<&str> = (0..6).map(ty).collect();
        let args: String = (0..6).map(|i| format!("({}.const {})", ty(i), 100 + i)).collect();
        let (results, store) = if two {
            (
                "(result i64 i64)",
                "(local.set $b) (local.set $a) (i64.store (i32.const 0) (local.get $a)) (i64.store (i32.const 8) (local.get $b))",
            )
        } else {
            ("(result i64)", "(local.set $a) (i64.store (i32.const 0) (local.get $a))")
        };
        let source = format!(
            r#"(module (import "jam" "{name}" (func $h (param {params}) {results})) (memory 1)
                 (func (export "main") (param i32 i32) (result i64) (local $a i64) (local $b i64)
                   (call $h {args}) {store}
                   (i64.const 0x1000000000)))"#,
            name = call.name,
            params = params.join(" "),
        );
        let (jam, compiled) = compile(&source, &[]).unwrap();
        let base = 0x20000 + pvm_isa::spi::zone_align(compiled.program.ro_data.len() as u64);
        let mut host = pvm_runner::ScriptedHost::parse(&format!("{} r7=0x1111 r8=0x2222", call.index)).unwrap();
        let mut vm = Instance::load(&jam, InputForm::Jam, &[], GAS).unwrap();
        assert_eq!(vm.run_with_host(&mut host), pvm_runner::Status::Halt, "{}", call.name);
        assert_eq!(host.calls.len(), 1);
        assert_eq!(host.calls[0].index, u64::from(call.index));
        let expected: Vec<u64> =
            (0..6).map(|i| if call.is_pointer(i) { base + 100 + i as u64 } else { 100 + i as u64 }).collect();
        assert_eq!(host.calls[0].registers[7..13], expected, "{}", call.name);
        let second: u64 = if two { 0x2222 } else { 0 };
        assert_eq!(hex(&vm.result()), hex(&[0x1111u64.to_le_bytes(), second.to_le_bytes()].concat()), "{}", call.name);
    }
    assert_eq!(
        compile(r#"(module (import "jam" "reed" (func)) (func (export "main") (param i32 i32)))"#, &[]).err().unwrap(),
        "import jam.reed: no JAM host call has this name (docs/abi.md lists them)"
    );
}

/// A counter service: refine echoes its arguments; accumulate reads the 4-byte counter
/// `count`, stores it plus one, and logs.
const COUNTER_WAT: &str = r#"(module
  (import "jam" "read" (func $read (param i64 i32 i32 i32 i64 i64) (result i64)))
  (import "jam" "write" (func $write (param i32 i32 i32 i32) (result i64)))
  (import "jam" "log" (func $log (param i64 i32 i32 i32 i32) (result i64)))
  (memory 1)
  (data (i32.const 16) "count")
  (data (i32.const 48) "svc")
  (data (i32.const 64) "counted")
  (func (export "refine") (param i32 i32) (result i64)
    (i64.or (i64.extend_i32_u (local.get 0)) (i64.shl (i64.extend_i32_u (local.get 1)) (i64.const 32))))
  (func (export "accumulate") (param i32 i32) (result i64)
    (drop (call $read (i64.const -1) (i32.const 16) (i32.const 5) (i32.const 32) (i64.const 0) (i64.const 4)))
    (i32.store (i32.const 32) (i32.add (i32.load (i32.const 32)) (i32.const 1)))
    (drop (call $write (i32.const 16) (i32.const 5) (i32.const 32) (i32.const 4)))
    (drop (call $log (i64.const 3) (i32.const 48) (i32.const 3) (i32.const 64) (i32.const 7)))
    (i64.or (i64.const 32) (i64.shl (i64.const 4) (i64.const 32)))))"#;

#[test]
fn pvm_run_host_script_answers_and_prints_every_call() {
    let (path, jam) = build_jam("counter", COUNTER_WAT, &[]);
    let script = path.with_extension("script");
    let run_script = |text: &str, flags: &[&str]| {
        std::fs::write(&script, text).unwrap();
        let mut args = vec![path.clone().into_os_string(), "--host-script".into(), script.clone().into_os_string()];
        args.extend(flags.iter().map(Into::into));
        tool("pvm-run", args, None)
    };
    let out = run_script("# the counter is 41\nread r7=4 r10@=29000000\nwrite r7=4\nlog r7=WHAT\n", &["--pc", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[5], "Result: [0x2a000000]");
    let (key, value, target, message) = (0x20000 + 16, 0x20000 + 32, 0x20000 + 48, 0x20000 + 64);
    // read's output area: the 4 bytes its length argument (r12) says, zeros before the call.
    assert_eq!(
        lines[6],
        format!(
            "Host call 0: read (3) r7..r12 = [18446744073709551615, {key}, 5, {value}, 0, 4]; r8 -> [0x636f756e74]; r10 -> [0x00000000]"
        )
    );
    assert!(lines[7].starts_with(&format!("Host call 1: write (4) r7..r12 = [{key}, 5, {value}, 4, ")), "{text}");
    assert!(lines[7].ends_with("; r7 -> [0x636f756e74]; r9 -> [0x2a000000]"), "{text}");
    assert!(
        lines[8].starts_with(&format!("Host call 2: log (100) r7..r12 = [3, {target}, 3, {message}, 7, ")),
        "{text}"
    );
    assert!(lines[8].ends_with("; r8 -> [0x737663]; r10 -> [0x636f756e746564]"), "{text}");
    assert_eq!(lines.len(), 9);
    // The script runs out: the next call stops the run with HOST, and is recorded too.
    let out = run_script("read r7=NONE\n", &["--pc", "5", "--json"]);
    assert_eq!(out.status.code(), Some(12));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "HOST");
    assert_eq!(json["exit_code"], 4);
    assert_eq!(json["host_calls"].as_array().unwrap().len(), 2);
    assert_eq!(json["host_calls"][1]["name"], "write");
    assert_eq!(json["host_calls"][1]["memory"][1]["bytes"], "01000000");
    // The same .jam on the reference CLI: the same outcome up to its first host call.
    assert_reference_agrees(&jam, &[(0, &[1, 2]), (5, &[])]);
    let out = run_script("reed r7=1\n", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "pvm-run: {}: line 1: `reed` is neither a host-call index nor a JAM host-call name\n",
            script.display()
        )
    );
}

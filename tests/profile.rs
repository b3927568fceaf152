//! The gas profiler: names travel from the WebAssembly module through the assembly
//! (`.function`) and the symbol map to the profile; the self gas of all functions sums to
//! the run's gas exactly; a profiled run ends exactly as an unprofiled one; the calls are
//! counted; `pvm-run --profile` prints the table and writes folded stacks and an SVG
//! flame graph; PVM-in-PVM profiles the outer program.

mod support;

use assert_cmd::Command;
use pvm_compiler::{OptLevel, Optimizations, Options};
use pvm_isa::SymbolMap;
use pvm_runner::profile::FunctionProfile;
use pvm_runner::{InputForm, Instance, LogHost, Profile, Status, run_profiled};
use support::{root, scratch_dir, shared, unhex};

const GAS: i64 = 1 << 40;

/// Runs `jam` with and without the profiler; both must end alike. Returns the status,
/// the gas used and the profile, whose self gas must sum to the gas used.
fn profiled(jam: &[u8], args: &[u8], symbols: Option<&SymbolMap>) -> (Status, u64, Profile) {
    let mut plain = Instance::load(jam, InputForm::Jam, args, GAS).unwrap();
    let status = plain.run_with_host(&mut LogHost { out: Vec::new() });
    let mut vm = Instance::load(jam, InputForm::Jam, args, GAS).unwrap();
    let (profiled_status, profile) = run_profiled(&mut vm, &mut LogHost { out: Vec::new() }, symbols);
    assert_eq!(
        (profiled_status, vm.state().gas(), *vm.state().regs(), vm.pc(), vm.result()),
        (status, plain.state().gas(), *plain.state().regs(), plain.pc(), plain.result()),
        "the profiled run ends differently"
    );
    let used = (GAS - vm.state().gas()) as u64;
    assert_eq!(profile.gas, used);
    assert_eq!(profile.functions.iter().map(|f| f.self_gas).sum::<u64>(), used, "self gas does not sum to the run's");
    assert_eq!(profile.folded.iter().map(|(_, g)| g).sum::<u64>(), used, "folded stacks do not sum to the run's");
    (status, used, profile)
}

fn function<'a>(profile: &'a Profile, name: &str) -> &'a FunctionProfile {
    profile
        .functions
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no `{name}` in {:?}", profile.functions))
}

fn figures(profile: &Profile) -> Vec<(&str, u64, u64, u64)> {
    profile.functions.iter().map(|f| (f.name.as_str(), f.self_gas, f.total_gas, f.calls)).collect()
}

/// Calls, returns, a host call (its 10 gas count in the caller), and a jump into another
/// function without a call.
const CALLS: &str = r#".function main "main"
.function helper "helper"
.function shared "shared trap"
main:
    load_imm_jump ra, &back1, helper
back1:
    load_imm_jump ra, &back2, helper
back2:
    load_imm r7, 3
    ecalli 100
    jump shared
helper:
    add_imm_64 r2, r2, 1
    jump_ind ra, 0
shared:
    trap
"#;

#[test]
fn exact_figures_of_a_small_program() {
    let assembled = pvm_asm::assemble(&pvm_asm::parse(CALLS).unwrap()).unwrap();
    assert_eq!(assembled.symbols.to_string(), "0 main\n15 helper\n20 shared trap\n");
    let (status, used, profile) = profiled(&assembled.jam, &[], Some(&assembled.symbols));
    assert_eq!((status, used), (Status::Panic, 20));
    assert_eq!(figures(&profile), [("main", 15, 20, 1), ("helper", 4, 4, 2), ("shared trap", 1, 1, 0)]);
    let folded = profile.folded_text();
    assert_eq!(folded, "main 15\nmain;helper 4\nmain;shared trap 1\n");
    // Without a symbol map, static call targets start functions (the trap falls in the
    // last one's code).
    let (_, _, profile) = profiled(&assembled.jam, &[], None);
    assert_eq!(figures(&profile), [("@0", 15, 20, 1), ("@15", 5, 5, 2)]);
}

#[test]
fn recursion_counts_every_call_and_total_gas_once() {
    let source = std::fs::read(shared().join("bench/fib_rec.wat")).unwrap();
    let (jam, compiled) = support::compile_jam(&source, &Options::default()).unwrap();
    let symbols = pvm_asm::assemble(&compiled.program).unwrap().symbols;
    let (status, used, profile) = profiled(&jam, &unhex("14000000"), Some(&symbols));
    assert_eq!(status, Status::Halt);
    // fib(20) makes 2·fib(21) − 1 calls; `main` is inlined into the entry.
    let fib = function(&profile, "fib");
    assert_eq!((fib.calls, fib.total_gas), (21_891, fib.self_gas));
    let entry = function(&profile, "__pvm_entry");
    assert_eq!((entry.calls, entry.total_gas, entry.self_gas + fib.self_gas), (1, used, used));
    assert_eq!(profile.folded[0].0, "__pvm_entry");
    assert_eq!(profile.folded.last().unwrap().0, format!("__pvm_entry{}", ";fib".repeat(20)));
}

/// Names come from the name section, else an export, else `func[N]`.
#[test]
fn names_are_the_webassembly_names() {
    let source = br#"(module
      (memory (export "memory") 1)
      (func $named (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
      (func (export "exported") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (param i32) (result i32) (call $named (call 1 (local.get 0))))
      (func (export "main") (param i32 i32) (result i64)
        (i32.store (i32.const 16) (call 2 (i32.load (local.get 0))))
        (i64.or (i64.const 16) (i64.shl (i64.const 4) (i64.const 32)))))"#;
    let options = Options { opt_level: OptLevel::O0, optimizations: Optimizations::none(), ..Options::default() };
    let (jam, compiled) = support::compile_jam(source, &options).unwrap();
    let symbols = pvm_asm::assemble(&compiled.program).unwrap().symbols;
    let (_, used, profile) = profiled(&jam, &unhex("05000000"), Some(&symbols));
    let mut names: Vec<(&str, u64)> = profile.functions.iter().map(|f| (f.name.as_str(), f.calls)).collect();
    names.sort();
    assert_eq!(names, [("__pvm_entry", 1), ("exported", 1), ("func[2]", 1), ("main", 1), ("named", 1)]);
    assert_eq!(function(&profile, "__pvm_entry").total_gas, used);
    assert_eq!(
        function(&profile, "func[2]").total_gas,
        ["func[2]", "exported", "named"].map(|n| function(&profile, n).self_gas).iter().sum::<u64>()
    );
}

/// PVM-in-PVM: the profile of the outer program (anan-as compiled to PVM) names the
/// interpreter's own functions.
#[test]
fn nested_interpreter_profile() {
    let wasm = std::fs::read(root().join("vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm")).unwrap();
    let mut options = Options::default();
    let map = std::fs::read_to_string(root().join("scripts/anan-as-imports.txt")).unwrap();
    options.add_import_map(&map, "anan-as-imports.txt").unwrap();
    let (interpreter, compiled) = support::compile_jam(&wasm, &options).unwrap();
    let symbols = pvm_asm::assemble(&compiled.program).unwrap().symbols;
    let add =
        support::compile_jam(&std::fs::read(shared().join("bench/add.wat")).unwrap(), &Options::default()).unwrap();
    let input = pvm_runner::nested::input(&add.0, &unhex("0500000007000000"), 100_000_000, 0);
    let (status, _, profile) = profiled(&interpreter, &input, Some(&symbols));
    assert_eq!(status, Status::Halt);
    // The run loop (`decodeArguments` inlined into it, `hot-calls`) calls the argument
    // decoders and the handlers through the table.
    let run = function(&profile, "assembly/api-utils/runProgram");
    assert!(run.calls == 1 && run.total_gas > run.self_gas && run.self_gas > 0);
    let decoders = profile.functions.iter().filter(|f| f.name.starts_with("start:assembly/arguments~anonymous|"));
    assert!(decoders.map(|f| f.calls).sum::<u64>() > 0);
    assert!(function(&profile, "~lib/rt/stub/__alloc").calls > 0);
    assert!(profile.functions.iter().all(|f| !f.name.starts_with('@') && f.name != "(no function)"));
}

fn run(bin: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::cargo_bin(bin).unwrap().args(args).output().unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn cli_writes_symbols_table_folded_stacks_and_flame_graph() {
    let dir = scratch_dir("profile-cli");
    let source = dir.join("calls.s");
    std::fs::write(&source, CALLS).unwrap();
    let jam = dir.join("calls.jam");
    let (code, _, err) = run("jam-pack", &[source.to_str().unwrap(), "-o", jam.to_str().unwrap()]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    assert_eq!(std::fs::read_to_string(dir.join("calls.jam.sym")).unwrap(), "0 main\n15 helper\n20 shared trap\n");

    let (code, out, err) = run("pvm-run", &[jam.to_str().unwrap(), "--profile"]);
    assert_eq!((code, err.as_str()), (Some(10), "[INFO] \n"));
    let table = out.split_once("\n\n").unwrap().1;
    assert_eq!(
        table,
        "      self gas  self%      total gas total%      calls  function\n\
         \x20           15  75.0%             20 100.0%          1  main\n\
         \x20            4  20.0%              4  20.0%          2  helper\n\
         \x20            1   5.0%              1   5.0%          0  shared trap\n\
         \x20           20 100.0%  gas used by the run\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("calls.folded")).unwrap(),
        "main 15\nmain;helper 4\nmain;shared trap 1\n"
    );
    let svg = std::fs::read_to_string(dir.join("calls.svg")).unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains(">helper (4 gas, 20.00%)<") && svg.contains(">main (20 gas, 100.00%)<"), "{svg}");

    // --profile=BASE, --symbols, JSON; with one function for all the code, the calls to
    // `helper` are recursive calls, and the total gas counts them once.
    let base = dir.join("named");
    let symbols = dir.join("other.sym");
    std::fs::write(&symbols, "0 start\n").unwrap();
    let profile_flag = format!("--profile={}", base.display());
    let args = [jam.to_str().unwrap(), &profile_flag, "--symbols", symbols.to_str().unwrap(), "--json"];
    let (_, out, _) = run("pvm-run", &args);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json["profile"],
        serde_json::json!([{"function": "start", "self_gas": 20, "total_gas": 20, "calls": 3}])
    );
    assert_eq!(std::fs::read_to_string(dir.join("named.folded")).unwrap(), "start 16\nstart;start 4\n");
    assert!(dir.join("named.svg").is_file());

    // Bad input: a broken symbol map, a missing one, --trace with --profile.
    std::fs::write(&symbols, "0 start\n0 again\n").unwrap();
    let (code, out, err) = run("pvm-run", &[args[0], "--profile", "--symbols", symbols.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert_eq!(err, format!("pvm-run: {}: line 2: offset 0 is not after the previous line's\n", symbols.display()));
    let (code, _, err) = run("pvm-run", &[args[0], "--profile", "--symbols", "/nonexistent.sym"]);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("pvm-run: /nonexistent.sym: "), "{err}");
    let (code, _, err) = run("pvm-run", &[args[0], "--profile", "--trace"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot be used with"), "{err}");
}

//! Shared helpers of the integration tests: where the shared data and the reference
//! implementation live, compiling WebAssembly to `.jam` in process, and running the
//! test-harness entry of compiled modules.

#![allow(dead_code)]

pub mod nan;
pub mod random;

use pvm_compiler::{Compiled, EntryKind, Options};
use pvm_runner::{Engine, InputForm, Status};
use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared data beside the repository (`../shared`).
pub fn shared() -> PathBuf {
    root().join("../shared")
}

/// The reference CLI script.
pub fn reference_cli() -> PathBuf {
    root().join("vendor/node_modules/@fluffylabs/anan-as/dist/bin/index.js")
}

/// Compiles a module (binary or text) and assembles it into a `.jam`, which must
/// survive a round trip through the disassembler.
pub fn compile_jam(source: &[u8], options: &Options) -> Result<(Vec<u8>, Compiled), String> {
    let wasm = pvm_compiler::read_input(source).map_err(|e| e.to_string())?;
    let compiled = pvm_compiler::compile(&wasm, options).map_err(|e| e.to_string())?;
    let assembled = pvm_asm::assemble(&compiled.program).map_err(|e| format!("assembling: {e}"))?;
    assert_round_trip(&assembled.jam);
    Ok((assembled.jam, compiled))
}

/// Gas for one harness call: far more than any test needs, small enough to stop a loop.
pub const CALL_GAS: i64 = 1 << 32;

/// How a harness call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Returned these results (bit patterns, zero-extended to 64 bits).
    Values(Vec<u64>),
    /// Trapped (PANIC or FAULT).
    Trap,
    /// Ran out of gas.
    OutOfGas,
    /// Stopped in an unexpected way.
    Other(String),
}

/// Options for harness builds.
pub fn harness_options() -> Options {
    Options { entry: EntryKind::Harness, ..Options::default() }
}

/// A running instance of a module compiled with the harness entry, on every engine at
/// once: each run must end alike on all (status, pc, gas, registers).
pub struct Instance {
    vms: Vec<pvm_runner::Instance>,
    mailbox: u32,
    /// Registers and pc where the harness asks for the next call.
    resume: ([u64; 13], u32),
    /// Exported function names in export order (a call names its position).
    pub functions: Vec<String>,
    /// Exported mutable global addresses by name.
    pub globals: Vec<(String, u64)>,
    /// Gas for each call.
    pub call_gas: i64,
}

/// Runs every engine's machine; panics unless they stop alike.
fn run_all(vms: &mut [pvm_runner::Instance]) -> Status {
    let ends: Vec<_> =
        vms.iter_mut().map(|vm| (vm.run(), vm.pc(), vm.state().gas(), *vm.state().regs(), vm.engine())).collect();
    for end in &ends[1..] {
        assert_eq!((end.0, end.1, end.2, end.3), (ends[0].0, ends[0].1, ends[0].2, ends[0].3), "{:?} differs", end.4);
    }
    ends[0].0
}

impl Instance {
    /// Loads and instantiates (runs the start function); `Err(Outcome)` if that traps.
    pub fn start(
        jam: &[u8],
        compiled: &Compiled,
        functions: Vec<String>,
        globals: Vec<(String, u64)>,
    ) -> Result<Self, Outcome> {
        let mut vms = Vec::new();
        for engine in engines() {
            let mut vm = pvm_runner::Instance::load(jam, InputForm::Jam, &[], CALL_GAS)
                .map_err(|e| Outcome::Other(e.to_string()))?;
            vm.set_engine(engine).expect("engine available");
            vms.push(vm);
        }
        match (run_all(&mut vms), compiled.mailbox) {
            (Status::Host(i), Some(mailbox)) if i == u64::from(pvm_compiler::abi::HARNESS_ECALLI) => {
                let resume = (*vms[0].state().regs(), vms[0].pc());
                Ok(Instance { vms, mailbox: mailbox as u32, resume, functions, globals, call_gas: CALL_GAS })
            }
            (other, _) => Err(classify(other)),
        }
    }

    /// Calls exported function number `index` with 64-bit argument patterns.
    pub fn call(&mut self, index: usize, args: &[u64]) -> Outcome {
        let mut slots = vec![index as u64];
        slots.extend_from_slice(args);
        for vm in &mut self.vms {
            for (i, v) in slots.iter().enumerate() {
                vm.state_mut()
                    .memory_mut()
                    .write_bytes(self.mailbox + 8 * i as u32, &v.to_le_bytes())
                    .expect("the mailbox is writable");
            }
            vm.state_mut().set_gas(self.call_gas);
            vm.resume_after_host_call();
        }
        let status = run_all(&mut self.vms);
        let outcome = match status {
            Status::Host(i) if i == u64::from(pvm_compiler::abi::HARNESS_ECALLI) => {
                let mailbox = self.mailbox;
                let read = |vm: &mut pvm_runner::Instance| -> Vec<u64> {
                    (1..=16)
                        .map(|i| {
                            let b = vm.state_mut().memory_mut().read_bytes(mailbox + 8 * i, 8).expect("mailbox");
                            u64::from_le_bytes(b.try_into().expect("8 bytes"))
                        })
                        .collect()
                };
                let values = read(&mut self.vms[0]);
                for vm in &mut self.vms[1..] {
                    assert_eq!(read(vm), values, "{:?} returns other values than the interpreter", vm.engine());
                }
                return Outcome::Values(values);
            }
            other => classify(other),
        };
        // Back to the harness loop, as if the call had returned.
        for vm in &mut self.vms {
            *vm.state_mut().regs_mut() = self.resume.0;
            vm.set_pc(self.resume.1);
            vm.state_mut().set_gas(self.call_gas);
        }
        match run_all(&mut self.vms) {
            Status::Host(_) => outcome,
            other => Outcome::Other(format!("the harness did not resume after {outcome:?}: {other:?}")),
        }
    }

    /// Reads an exported mutable global (`bytes` wide).
    pub fn global(&mut self, name: &str, bytes: u32) -> Option<u64> {
        let address = self.globals.iter().find(|(n, _)| n == name)?.1 as u32;
        let mut values = self.vms.iter_mut().map(|vm| vm.state_mut().memory_mut().read_bytes(address, bytes));
        let b = values.next()?;
        assert!(values.all(|other| other.as_ref() == b.as_ref()), "engines disagree on global {name}");
        let b = b?;
        let mut word = [0u8; 8];
        word[..b.len()].copy_from_slice(&b);
        Some(u64::from_le_bytes(word))
    }
}

fn classify(status: Status) -> Outcome {
    match status {
        Status::Panic | Status::Fault(_) => Outcome::Trap,
        Status::OutOfGas => Outcome::OutOfGas,
        other => Outcome::Other(format!("{other:?}")),
    }
}

/// A program to run on both runners.
#[derive(Debug, Clone)]
pub struct Job {
    /// The program file.
    pub program: Vec<u8>,
    /// Arguments.
    pub args: Vec<u8>,
    /// Initial gas.
    pub gas: i64,
}

/// How a run ended, in the reference CLI's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// 0 HALT, 1 PANIC, 2 FAULT, 3 HOST, 4 OOG.
    pub status: u8,
    /// Fault address or host-call index.
    pub exit_code: u64,
    /// Final program counter.
    pub pc: u32,
    /// Gas left.
    pub gas: i64,
    /// Registers.
    pub registers: Vec<u64>,
    /// Result bytes (hex).
    pub result: String,
}

/// The engines every suite runs: the interpreter, and the native engine where it exists.
pub fn engines() -> Vec<Engine> {
    if pvm_runner::NATIVE_SUPPORTED { vec![Engine::Interpreter, Engine::Native] } else { vec![Engine::Interpreter] }
}

/// Runs a `.jam` on our runner the way `pvm-run` does (JIP-1 log host call handled), on
/// every engine and on `Auto` (which switches from the interpreter to the native engine
/// mid-run in long runs); panics unless they agree on the outcome and on every page of
/// memory.
pub fn run_ours(job: &Job) -> RunResult {
    let mut engines = engines();
    if pvm_runner::NATIVE_SUPPORTED {
        engines.push(Engine::Auto);
    }
    let runs: Vec<(RunResult, Pages)> = engines.iter().map(|&engine| run_on(job, engine)).collect();
    for (engine, run) in engines.iter().zip(&runs).skip(1) {
        assert!(run == &runs[0], "{engine:?} differs from the interpreter: {:?} vs {:?}", run.0, runs[0].0);
    }
    runs.into_iter().next().expect("the interpreter ran").0
}

/// Runs a job on one engine: the outcome and every page of memory that holds data.
pub fn run_on(job: &Job, engine: Engine) -> (RunResult, Pages) {
    let mut vm =
        pvm_runner::Instance::load(&job.program, InputForm::Jam, &job.args, job.gas).expect("loadable program");
    vm.set_engine(engine).expect("engine available");
    let mut host = pvm_runner::LogHost { out: std::io::sink() };
    let status = vm.run_with_host(&mut host);
    let result = if status == Status::Halt { vm.result() } else { Vec::new() };
    let outcome = RunResult {
        status: status.code(),
        exit_code: vm.exit_code(status),
        pc: vm.pc(),
        gas: vm.state().gas(),
        registers: vm.state().regs().to_vec(),
        result: result.iter().map(|b| format!("{b:02x}")).collect(),
    };
    (outcome, pages(&vm))
}

/// Every page of memory that holds data, with its address.
pub type Pages = Vec<(u32, Vec<u8>)>;

/// The pages of `vm`'s memory that hold data.
pub fn pages(vm: &pvm_runner::Instance) -> Pages {
    vm.state().memory().pages().map(|(address, page)| (address, page.to_vec())).collect()
}

/// Runs one of the node helpers of `tests/node` with `input` as JSON on stdin; returns
/// the JSON array it prints.
pub fn node_batch(script: &str, input: &serde_json::Value) -> Vec<serde_json::Value> {
    use std::io::Write;
    let mut child = std::process::Command::new("node")
        .arg(root().join("tests/node").join(script))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs (scripts/setup.sh installs the reference)");
    let mut stdin = child.stdin.take().unwrap();
    let payload = serde_json::to_vec(input).unwrap();
    // Written from another thread: the helper may print before it has read everything.
    let writer = std::thread::spawn(move || stdin.write_all(&payload));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "{script} failed");
    let replies: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        let text = String::from_utf8_lossy(&output.stdout);
        panic!("{script} printed no JSON array ({e}): {}", &text[..text.len().min(400)])
    });
    one_outcome_each(script, replies, input.as_array().map_or(1, Vec::len))
}

/// `replies`, after checking that an oracle gave exactly one outcome for each of the
/// `asked` inputs (callers pair them up, which would otherwise check only a prefix).
pub fn one_outcome_each<T>(oracle: &str, replies: Vec<T>, asked: usize) -> Vec<T> {
    assert_eq!(replies.len(), asked, "{oracle} returned {} outcomes for {asked} inputs", replies.len());
    replies
}

/// Checks that a harness checked at least `floor` things (assertions passed, calls or
/// instructions compared): a harness that silently skips or loses cases fails here
/// instead of passing with fewer.
pub fn assert_floor(what: &str, count: usize, floor: usize) {
    assert!(count >= floor, "only {count} {what} (at least {floor} expected)");
}

/// WebAssembly addresses at the edges of every region of a compiled program's address
/// space (docs/memory.md): the largest memory, the stack and globals, the arguments, the
/// read-only data and the top of the 32-bit space (`1 << 32`, which wraps to 0).
pub fn region_edges(compiled: &Compiled) -> Vec<u64> {
    use pvm_isa::spi::{ARGS_START, STACK_TOP, ZONE_SIZE};
    let wasm = |pvm: u64| pvm.wrapping_sub(compiled.memory_base) & 0xffff_ffff;
    vec![
        compiled.max_pages << 16,
        wasm(u64::from(STACK_TOP)),
        wasm(u64::from(STACK_TOP) - 0x1_0000),
        wasm(u64::from(STACK_TOP) - 0x2_0000),
        wasm(u64::from(ARGS_START)),
        wasm(u64::from(ZONE_SIZE)),
        wasm(2 * u64::from(ZONE_SIZE)),
        1 << 32,
    ]
}

/// A small deterministic generator (SplitMix64) for random test inputs.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with `percent` % probability.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Runs `.jam` programs on the reference implementation (one node process).
pub fn run_reference(jobs: &[Job]) -> Vec<RunResult> {
    let input: Vec<serde_json::Value> = jobs
        .iter()
        .map(|j| {
            serde_json::json!({
                "program": hex(&j.program),
                "args": hex(&j.args),
                "gas": j.gas.to_string(),
                "form": "jam",
            })
        })
        .collect();
    let values = node_batch("run-batch.mjs", &serde_json::Value::Array(input));
    values
        .into_iter()
        .map(|v| {
            assert!(v.get("error").is_none(), "reference error: {v}");
            RunResult {
                status: v["status"].as_u64().unwrap() as u8,
                exit_code: v["exitCode"].as_u64().unwrap(),
                pc: v["pc"].as_u64().unwrap() as u32,
                gas: v["gas"].as_str().unwrap().parse().unwrap(),
                registers: v["registers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().parse().unwrap())
                    .collect(),
                result: v["result"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    pvm_isa::hex::encode(bytes)
}

/// Bytes from hex.
pub fn unhex(text: &str) -> Vec<u8> {
    pvm_isa::hex::decode(text).unwrap_or_else(|e| panic!("test hex `{text}`: {e}"))
}

/// Asserts that a `.jam` disassembles to text that assembles back to the same bytes.
pub fn assert_round_trip(jam: &[u8]) {
    let parsed = pvm_asm::parse_file(jam, pvm_asm::InputForm::Jam).expect("parses");
    let program = pvm_asm::disassemble(&parsed).expect("disassembles");
    let text = program.to_string();
    let again = pvm_asm::assemble(&pvm_asm::parse(&text).expect("the disassembly parses")).expect("assembles");
    assert!(again.jam == jam, "round trip changed the bytes");
}

/// A directory for files the tests build (inside the target directory).
pub fn scratch_dir(name: &str) -> PathBuf {
    let base = option_env!("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = base.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles an AssemblyScript benchmark with the pinned `asc` (as the bench README says).
pub fn build_assemblyscript(source: &std::path::Path) -> Vec<u8> {
    // One output file per build: tests running in parallel build the same source.
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let build = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stem = source.file_stem().unwrap().to_string_lossy();
    let out = scratch_dir("asc").join(format!("{stem}-{}-{build}.wasm", std::process::id()));
    let status = std::process::Command::new("node")
        .arg(root().join("vendor/node_modules/assemblyscript/bin/asc.js"))
        .arg(source)
        .args(["-o"])
        .arg(&out)
        .args(["--runtime", "stub", "-O3", "--noAssert"])
        .status()
        .expect("node runs asc");
    assert!(status.success(), "asc failed on {}", source.display());
    let wasm = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    wasm
}

/// A host that resumes the first `budget` calls, each time changing registers, memory and
/// gas as a function of what it sees (for comparing engines across host calls).
pub struct ResumingHost {
    /// Calls it resumes; it stops the machine at the next one.
    pub budget: u32,
    /// Calls it has seen.
    pub calls: u32,
}

impl pvm_runner::Host for ResumingHost {
    fn call(&mut self, index: u64, state: &mut pvm_runner::State) -> pvm_runner::HostAction {
        if self.calls == self.budget {
            return pvm_runner::HostAction::Stop;
        }
        self.calls += 1;
        let r7 = state.regs()[7];
        state.regs_mut()[7] = index.wrapping_mul(0x9e37_79b9) ^ r7;
        state.regs_mut()[(index % 13) as usize] = u64::from(self.calls);
        let address = state.regs()[8] as u32;
        let _ = state.memory_mut().write_bytes(address, &r7.to_le_bytes());
        state.set_gas((state.gas() - index as i64 % 7).max(0));
        pvm_runner::HostAction::Resume
    }
}

/// Everything observable after a run.
#[derive(Debug, PartialEq, Eq)]
pub struct End {
    /// How it ended.
    pub status: Status,
    /// Its exit code.
    pub exit_code: u64,
    /// The final pc.
    pub pc: u32,
    /// Gas left.
    pub gas: i64,
    /// The registers.
    pub regs: [u64; 13],
    /// Host calls the [`ResumingHost`] saw.
    pub calls: u32,
    /// Every page that holds data.
    pub pages: Pages,
}

/// Runs `vm` on `engine` with a [`ResumingHost`] of `budget` calls until it stops.
pub fn run_to_end(mut vm: pvm_runner::Instance, engine: Engine, budget: u32) -> End {
    vm.set_engine(engine).expect("engine available");
    let mut host = ResumingHost { budget, calls: 0 };
    let status = vm.run_with_host(&mut host);
    End {
        status,
        exit_code: vm.exit_code(status),
        pc: vm.pc(),
        gas: vm.state().gas(),
        regs: *vm.state().regs(),
        calls: host.calls,
        pages: pages(&vm),
    }
}

/// Runs the instance `make` builds on every engine (see [`run_to_end`]); panics with
/// `what` unless they all end alike. Returns the interpreter's end.
pub fn agree(make: impl Fn() -> pvm_runner::Instance, budget: u32, what: &dyn std::fmt::Display) -> End {
    let mut ends = engines().into_iter().map(|engine| (engine, run_to_end(make(), engine, budget)));
    let (_, first) = ends.next().expect("the interpreter runs");
    for (engine, end) in ends {
        assert_eq!(end, first, "{engine:?} differs from the interpreter: {what}");
    }
    first
}

/// Gas of the inner program of a PVM-in-PVM run.
pub const NESTED_INNER_GAS: u64 = 100_000_000;
/// Gas of the outer run (the interpreter) of a PVM-in-PVM run.
pub const NESTED_OUTER_GAS: i64 = 1_000_000_000;

/// The PVM interpreter of PVM-in-PVM: `compiler.wasm` of anan-as 1.2.0 compiled with the
/// import map of `scripts/pvm-in-pvm.sh`, with no warning, and valid.
pub fn pvm_interpreter() -> Vec<u8> {
    let wasm = std::fs::read(root().join("vendor/node_modules/@fluffylabs/anan-as/dist/build/compiler.wasm")).unwrap();
    let mut options = Options::default();
    let map = std::fs::read_to_string(root().join("scripts/anan-as-imports.txt")).unwrap();
    options.add_import_map(&map, "anan-as-imports.txt").unwrap();
    options.strict_imports = true;
    let (jam, compiled) = compile_jam(&wasm, &options).unwrap();
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
    let report = pvm_asm::inspect::inspect(&jam, pvm_asm::InputForm::Jam).unwrap();
    assert!(report.is_valid(), "compiler.jam: {:?}", report.findings);
    jam
}

/// Runs `program` from `pc` inside `interpreter` (see [`pvm_interpreter`]) on our runner:
/// the outer outcome, which must be a HALT, and the inner outcome it returns.
pub fn run_nested(
    interpreter: &[u8],
    program: &[u8],
    args: &[u8],
    pc: u32,
) -> (RunResult, pvm_runner::nested::Outcome) {
    let input = pvm_runner::nested::input(program, args, NESTED_INNER_GAS, pc);
    let outer = run_ours(&Job { program: interpreter.to_vec(), args: input, gas: NESTED_OUTER_GAS });
    assert_eq!(outer.status, 0, "the interpreter halts");
    let inner = pvm_runner::nested::Outcome::decode(&unhex(&outer.result)).expect("an inner outcome");
    (outer, inner)
}

/// The memory a scripted host recorded for each address argument of a call: the
/// register, and the bytes in hex (`None`: unreadable).
pub type RecordedMemory = Vec<(usize, Option<String>)>;

/// [`RecordedMemory`] of a recorded call.
pub fn recorded_memory(call: &pvm_runner::script::Call) -> RecordedMemory {
    call.memory.iter().map(|(r, m)| (*r, m.as_deref().map(hex))).collect()
}

//! `pvm-run`: runs a PVM program and prints how it ended.

#![forbid(unsafe_code)]

#[path = "../input.rs"]
mod input;
#[path = "../output.rs"]
mod output;

use clap::Parser;
use pvm_isa::SymbolMap;
use pvm_runner::script::Call;
use pvm_runner::{Engine, Host, InputForm, Instance, LogHost, Profile, ScriptedHost, Semantics, Status, run_profiled};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Default gas: 2^40, enough for hours of work.
const DEFAULT_GAS: i64 = 1 << 40;

/// Run a PVM program (.jam by default) with the standard program initialisation.
///
/// Exit status: 0 HALT, 10 PANIC, 11 FAULT, 12 HOST, 13 OOG; 1 for unreadable or invalid
/// input, 2 for bad usage. Host call 100 (JIP-1 log) prints to stderr and resumes.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The program; standard input when `-`.
    file: PathBuf,
    /// Arguments in hex (with or without 0x).
    args: Option<String>,
    /// Read the arguments from a file.
    #[arg(long, value_name = "FILE", conflicts_with = "args")]
    args_file: Option<PathBuf>,
    /// Initial gas.
    #[arg(long, default_value_t = DEFAULT_GAS)]
    gas: i64,
    /// Initial program counter.
    #[arg(long, default_value_t = 0)]
    pc: u32,
    /// Follow the Gray Paper v0.7.2 where the reference implementation differs (a write
    /// to a read-only page faults, the result is r8 bytes at r7, pc 0 after a halt or
    /// panic, …; see docs/runner.md).
    #[arg(long)]
    gp: bool,
    /// The file is a bare SPI container (no metadata prefix).
    #[arg(long, conflicts_with = "blob")]
    no_metadata: bool,
    /// The file is a bare program blob: no memory, all registers zero.
    #[arg(long)]
    blob: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
    /// Print every instruction to stderr: pc, instruction, changed registers, gas.
    /// Runs on the interpreter.
    #[arg(long, conflicts_with = "profile")]
    trace: bool,
    /// The engine: `interp`, `native` (x86-64 Linux) or `auto` (native where supported
    /// and the gas allows a run long enough to pay for the translation).
    #[arg(long, value_name = "ENGINE", default_value = "auto", value_parser = ["interp", "native", "auto"])]
    engine: String,
    /// Profile the gas: print the functions by self gas with total gas and calls, and
    /// write the folded stacks to BASE.folded and a flame graph to BASE.svg (BASE: the
    /// program's path without its extension).
    #[arg(long, value_name = "BASE", num_args = 0..=1, require_equals = true)]
    profile: Option<Option<PathBuf>>,
    /// The symbol map that names the functions for --profile (default: FILE.sym beside
    /// the program, when there is one; else functions are named by their code offset).
    #[arg(long, value_name = "FILE", requires = "profile")]
    symbols: Option<PathBuf>,
    /// Answer host calls from a script (one reply per line: `CALL [r7=N] [r8=N]
    /// [rK@=HEX]`, see docs/runner.md) instead of the JIP-1 log host, and print every call.
    #[arg(long, value_name = "FILE")]
    host_script: Option<PathBuf>,
    /// PVM-in-PVM: FILE is a PVM interpreter program (anan-as compiled to PVM); run this
    /// inner .jam inside it and print the inner outcome too.
    #[arg(long, value_name = "INNER.jam", conflicts_with_all = ["args", "args_file"])]
    inner: Option<PathBuf>,
    /// Arguments of the inner program, in hex.
    #[arg(long, value_name = "HEX", requires = "inner", default_value = "")]
    inner_args: String,
    /// Gas of the inner program.
    #[arg(long, value_name = "N", requires = "inner", default_value_t = 100_000_000)]
    inner_gas: u64,
    /// Initial program counter of the inner program.
    #[arg(long, value_name = "N", requires = "inner", default_value_t = 0)]
    inner_pc: u32,
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(status) => ExitCode::from(match status {
            Status::Halt => 0,
            Status::Panic => 10,
            Status::Fault(_) => 11,
            Status::Host(_) => 12,
            Status::OutOfGas => 13,
        }),
        Err(message) => {
            output::stderr_line(&format!("pvm-run: {message}"));
            ExitCode::FAILURE
        }
    }
}

/// Hex arguments, with an optional `0x` prefix.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    pvm_isa::hex::decode(digits).map_err(|e| format!("arguments `{text}`: {e}"))
}

fn run(cli: &Cli) -> Result<Status, String> {
    if cli.gas < 0 {
        return Err(format!("--gas {}: gas cannot be negative", cli.gas));
    }
    let args = match (&cli.args, &cli.args_file, &cli.inner) {
        (Some(hex), _, _) => parse_hex(hex)?,
        (None, Some(path), _) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
        (None, None, Some(inner)) => {
            let program = std::fs::read(inner).map_err(|e| format!("{}: {e}", inner.display()))?;
            pvm_runner::nested::input(&program, &parse_hex(&cli.inner_args)?, cli.inner_gas, cli.inner_pc)
        }
        (None, None, None) => Vec::new(),
    };
    let (bytes, name) = input::open(Some(&cli.file))?;
    let form = if cli.blob {
        if !args.is_empty() {
            return Err("--blob programs have no memory to put arguments in".into());
        }
        InputForm::Blob
    } else if cli.no_metadata {
        InputForm::Spi
    } else {
        InputForm::Jam
    };
    let semantics = if cli.gp { Semantics::GrayPaper } else { Semantics::Reference };
    let mut vm = Instance::load_under(&bytes, form, &args, cli.gas, semantics).map_err(|e| format!("{name}: {e}"))?;
    if let Some(reason) = vm.rejection() {
        output::stderr_line(&format!("pvm-run: {name}: {reason}: under --gp a PANIC with no gas used"));
    }
    // Traced and profiled runs go through the interpreter's trace.
    let engine = match cli.engine.as_str() {
        _ if cli.trace || cli.profile.is_some() => Engine::Interpreter,
        "interp" => Engine::Interpreter,
        "native" => Engine::Native,
        _ => Engine::Auto,
    };
    vm.set_engine(engine).map_err(|e| format!("--engine {}: {e}", cli.engine))?;
    if cli.pc != 0 {
        vm.set_pc(cli.pc);
    }
    let mut scripted = match &cli.host_script {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(ScriptedHost::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let mut log = LogHost { out: std::io::stderr() };
    let host: &mut dyn Host = match &mut scripted {
        Some(scripted) => scripted,
        None => &mut log,
    };
    let mut profile = None;
    let status = if let Some(base) = &cli.profile {
        let symbols = read_symbols(cli)?;
        let (status, p) = run_profiled(&mut vm, host, symbols.as_ref());
        write_profile(&p, &profile_base(cli, base.as_ref()), &name)?;
        profile = Some(p);
        status
    } else if cli.trace {
        run_traced(&mut vm, host)
    } else {
        vm.run_with_host(host)
    };
    let result = if status == Status::Halt { vm.result() } else { Vec::new() };
    let hex: String = result.iter().map(|b| format!("{b:02x}")).collect();
    let inner = cli.inner.as_ref().map(|_| pvm_runner::nested::Outcome::decode(&result));
    if cli.json {
        let mut json = serde_json::json!({
            "status": status.name(),
            "status_code": status.code(),
            "exit_code": vm.exit_code(status),
            "pc": vm.pc(),
            "gas": vm.state().gas(),
            "registers": vm.state().regs().to_vec(),
            "result": hex,
        });
        if let Some(inner) = &inner {
            json["inner"] = match inner {
                Some(o) => serde_json::json!({
                    "status": o.status_name(),
                    "status_code": o.status,
                    "exit_code": o.exit_code,
                    "gas": o.gas,
                    "pc": o.pc,
                    "result": o.result.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                }),
                None => serde_json::json!(null),
            };
        }
        if let Some(h) = &scripted {
            json["host_calls"] = h
                .calls
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "index": c.index,
                        "name": pvm_isa::host_call::by_index(c.index).map(|h| h.name),
                        "registers": c.registers[7..13].to_vec(),
                        "memory": c.memory.iter().map(|(r, m)| serde_json::json!({"register": r, "bytes": m.as_deref().map(hex_string)})).collect::<Vec<_>>(),
                    })
                })
                .collect();
        }
        if let Some(p) = &profile {
            json["profile"] = p
                .functions
                .iter()
                .map(|f| {
                    serde_json::json!({"function": f.name, "self_gas": f.self_gas, "total_gas": f.total_gas, "calls": f.calls})
                })
                .collect();
        }
        output::stdout(format!("{json}\n").as_bytes())?;
    } else {
        let mut text = String::new();
        let _ = writeln!(text, "Status: {} ({})", status.code(), status.name());
        let _ = writeln!(text, "Exit code: {}", vm.exit_code(status));
        let _ = writeln!(text, "Program counter: {}", vm.pc());
        let _ = writeln!(text, "Gas remaining: {}", vm.state().gas());
        let regs: Vec<String> = vm.state().regs().iter().map(u64::to_string).collect();
        let _ = writeln!(text, "Registers: [{}]", regs.join(", "));
        let _ = writeln!(text, "Result: [0x{hex}]");
        match &inner {
            Some(Some(o)) => {
                let _ = writeln!(text, "Inner status: {} ({})", o.status, o.status_name());
                let _ = writeln!(text, "Inner exit code: {}", o.exit_code);
                let _ = writeln!(text, "Inner program counter: {}", o.pc);
                let _ = writeln!(text, "Inner gas remaining: {}", o.gas);
                let r: String = o.result.iter().map(|b| format!("{b:02x}")).collect();
                let _ = writeln!(text, "Inner result: [0x{r}]");
            }
            Some(None) => {
                let _ = writeln!(text, "Inner: the interpreter rejected its input (malformed inner program)");
            }
            None => {}
        }
        if let Some(p) = &profile {
            let _ = write!(text, "\n{}", p.table());
        }
        for (i, call) in scripted.iter().flat_map(|h| h.calls.iter()).enumerate() {
            let _ = writeln!(text, "{}", call_line(i, call));
        }
        output::stdout(text.as_bytes())?;
    }
    Ok(status)
}

/// One recorded host call: `Host call 2: read (3) r7..r12 = [...]; r8 -> [0xHEX]; r10 -> unreadable`.
fn call_line(number: usize, call: &Call) -> String {
    let name = pvm_isa::host_call::by_index(call.index).map_or(String::new(), |h| format!("{} ", h.name));
    let regs: Vec<String> = call.registers[7..13].iter().map(u64::to_string).collect();
    let mut line = format!("Host call {number}: {name}({}) r7..r12 = [{}]", call.index, regs.join(", "));
    for (reg, bytes) in &call.memory {
        match bytes {
            Some(bytes) => {
                let _ = write!(line, "; r{reg} -> [0x{}]", hex_string(bytes));
            }
            None => {
                let _ = write!(line, "; r{reg} -> unreadable");
            }
        }
    }
    line
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The symbol map: `--symbols`, else `FILE.sym` beside the program if it exists.
fn read_symbols(cli: &Cli) -> Result<Option<SymbolMap>, String> {
    let path = match &cli.symbols {
        Some(path) => path.clone(),
        None => {
            let mut beside = cli.file.clone().into_os_string();
            beside.push(".sym");
            let beside = PathBuf::from(beside);
            if cli.file.as_os_str() == "-" || !beside.is_file() {
                return Ok(None);
            }
            beside
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    SymbolMap::parse(&text).map(Some).map_err(|e| format!("{}: {e}", path.display()))
}

/// Where the profile files go: `--profile=BASE`, else the program's path without its
/// extension (`profile` for a program read from standard input).
fn profile_base(cli: &Cli, base: Option<&PathBuf>) -> PathBuf {
    match base {
        Some(base) => base.clone(),
        None if cli.file.as_os_str() == "-" => PathBuf::from("profile"),
        None => cli.file.with_extension(""),
    }
}

/// Writes BASE.folded and BASE.svg.
fn write_profile(profile: &Profile, base: &std::path::Path, name: &str) -> Result<(), String> {
    let with = |extension: &str| {
        let mut path = base.as_os_str().to_owned();
        path.push(extension);
        PathBuf::from(path)
    };
    let folded = with(".folded");
    std::fs::write(&folded, profile.folded_text()).map_err(|e| format!("{}: {e}", folded.display()))?;
    let svg = with(".svg");
    let graph = profile.flame_graph(&format!("gas of {name}")).map_err(|e| format!("{}: {e}", svg.display()))?;
    std::fs::write(&svg, graph).map_err(|e| format!("{}: {e}", svg.display()))
}

/// Runs with a trace line per instruction on stderr.
fn run_traced(vm: &mut Instance, host: &mut dyn Host) -> Status {
    use pvm_runner::HostAction;
    loop {
        let status = vm.run_traced(&mut |step| {
            let text = step.instruction.map_or_else(|| "trap (no instruction here)".to_string(), |i| i.to_string());
            let changed: Vec<String> = (0..13)
                .filter(|&r| step.before[r] != step.after[r])
                .map(|r| format!("r{r}={:#x}", step.after[r]))
                .collect();
            output::stderr_line(&format!("{:>8}  {text:<40} {:<40} gas={}", step.pc, changed.join(" "), step.gas));
        });
        match status {
            Status::Host(index) if host.call(index, vm.state_mut()) == HostAction::Resume => {
                vm.resume_after_host_call()
            }
            _ => return status,
        }
    }
}

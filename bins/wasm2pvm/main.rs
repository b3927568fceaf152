//! `wasm2pvm`: compiles WebAssembly (binary or text) to PVM assembly text.

#![forbid(unsafe_code)]

#[path = "../input.rs"]
mod input;
#[path = "../output.rs"]
mod output;

use clap::{Parser, ValueEnum};
use pvm_compiler::{MAX_STACK_SIZE, OptLevel, Optimization, Optimizations, Options};
use std::path::PathBuf;
use std::process::ExitCode;

/// Compile a WebAssembly module (.wasm or .wat) to PVM assembly; `wasm2pvm x.wasm | jam-pack > x.jam`.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Input module (binary or text); standard input when absent or `-`.
    file: Option<PathBuf>,
    /// Write the output here instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print the optimised LLVM IR instead of PVM assembly (of the module optimised in one
    /// part, as with `--jobs 1`).
    #[arg(long)]
    emit_llvm: bool,
    /// LLVM optimisation level.
    #[arg(short = 'O', long = "opt-level", value_enum, default_value = "2")]
    opt_level: Level,
    /// Switch an optimisation off (repeatable; `all` for every one); see docs/optimizations.md.
    #[arg(long = "no-opt", value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(optimization_names()))]
    no_opt: Vec<String>,
    /// Compile floating-point arithmetic to traps instead of software routines (smaller code).
    #[arg(long)]
    trap_floats: bool,
    /// Import map: lines of `module.field = trap | nop | ecalli N`.
    #[arg(long, value_name = "FILE")]
    imports: Option<PathBuf>,
    /// Make imports that no rule covers an error instead of a warning.
    #[arg(long)]
    strict_imports: bool,
    /// Check only accesses with an offset (against wrapping past 4 GiB): an address far
    /// out of bounds may then reach the stack, the globals, the arguments or the read-only
    /// data instead of trapping (docs/memory.md).
    #[arg(long)]
    no_wild_address_traps: bool,
    /// Verify every function's register allocation with regalloc2's checker (slow; an
    /// error names the function).
    #[arg(long)]
    verify_allocation: bool,
    /// Stack size in bytes (at most 16773120, what the SPI allows); a program whose calls cannot recur declares only what its deepest call chain needs, when that is less.
    #[arg(long, default_value_t = 64 * 1024, value_parser = clap::value_parser!(u32).range(..=i64::from(MAX_STACK_SIZE)))]
    stack_size: u32,
    /// Exported functions to enter at pc 0, 5, 10, … (default: `main`, else a service's
    /// `refine` and `accumulate`, else `is_authorized`).
    #[arg(long = "entry", value_name = "NAME[,NAME…]", value_delimiter = ',')]
    entries: Vec<String>,
    /// Print how long each phase of the compilation took to standard error.
    #[arg(long)]
    time_phases: bool,
    /// Optimise with LLVM on N threads, the module split into N parts along its call
    /// graph (default: 2 for a module of 64 functions or more, else 1); the code differs a
    /// little with the split (docs/architecture.md).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: Option<u16>,
    /// Return the result as the Gray Paper (and a JAM node) reads it, r8 = its length,
    /// instead of as the reference implementation does, r8 = its end address.
    #[arg(long)]
    gp: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Level {
    #[value(name = "0")]
    O0,
    #[value(name = "1")]
    O1,
    #[value(name = "2")]
    O2,
    #[value(name = "3")]
    O3,
    #[value(name = "s")]
    Os,
    #[value(name = "z")]
    Oz,
}

/// What `--no-opt` accepts: `all` and every optimisation's name.
fn optimization_names() -> Vec<&'static str> {
    std::iter::once("all").chain(Optimization::ALL.iter().map(|o| o.name())).collect()
}

/// Stack for the compiling thread: deeply nested WebAssembly makes compilation recurse deeply.
const COMPILER_STACK: usize = 1 << 30;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = std::thread::Builder::new()
        .stack_size(COMPILER_STACK)
        .spawn(move || run(&cli))
        .map_err(|e| format!("cannot start the compiler thread: {e}"))
        .and_then(|thread| thread.join().unwrap_or_else(|_| Err("internal error: the compiler panicked".into())));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            output::stderr_line(&format!("wasm2pvm: {message}"));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    let (bytes, name) = input::open(cli.file.as_deref())?;
    pvm_isa::polkavm::reject(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let mut options = Options {
        opt_level: match cli.opt_level {
            Level::O0 => OptLevel::O0,
            Level::O1 => OptLevel::O1,
            Level::O2 => OptLevel::O2,
            Level::O3 => OptLevel::O3,
            Level::Os => OptLevel::Os,
            Level::Oz => OptLevel::Oz,
        },
        trap_floats: cli.trap_floats,
        strict_imports: cli.strict_imports,
        wild_address_traps: !cli.no_wild_address_traps,
        verify_allocation: cli.verify_allocation,
        stack_size: cli.stack_size,
        entries: cli.entries.clone(),
        gray_paper_result: cli.gp,
        jobs: cli.jobs.map(usize::from),
        ..Options::default()
    };
    for name in &cli.no_opt {
        match name.as_str() {
            "all" => options.optimizations = Optimizations::none(),
            name => options.optimizations.disable(Optimization::from_name(name).expect("clap checks the names")),
        }
    }
    if let Some(path) = &cli.imports {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        options.add_import_map(&text, &path.display().to_string()).map_err(|e| e.to_string())?;
    }
    let wasm = pvm_compiler::read_input(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let text = if cli.emit_llvm {
        let (ir, warnings) = pvm_compiler::compile_to_llvm_ir(&wasm, &options).map_err(|e| format!("{name}: {e}"))?;
        warn(&name, &warnings);
        ir
    } else {
        let mut compiled = pvm_compiler::compile(&wasm, &options).map_err(|e| format!("{name}: {e}"))?;
        warn(&name, &compiled.warnings);
        let text = compiled.program.to_string();
        if cli.time_phases {
            compiled.phase_times.end("assembly text");
            output::stderr_line(format!("wasm2pvm: phase times of {name}:\n{}", compiled.phase_times).trim_end());
        }
        text
    };
    match &cli.output {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display())),
        None => output::stdout(text.as_bytes()),
    }
}

fn warn(name: &str, warnings: &[String]) {
    for w in warnings {
        output::stderr_line(&format!("wasm2pvm: {name}: warning: {w}"));
    }
}

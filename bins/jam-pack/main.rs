//! `jam-pack`: assembles PVM assembly text into a `.jam` file (or a bare SPI container or
//! program blob).

#[path = "../input.rs"]
mod input;

use clap::Parser;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Assemble PVM assembly (docs/asm.md) and pack it into a .jam file.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Assembly source; standard input when absent or `-`.
    file: Option<PathBuf>,
    /// Write the output here instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Write a bare SPI container (no metadata prefix).
    #[arg(long, conflicts_with = "blob")]
    no_metadata: bool,
    /// Write only the program blob (jump table, code, bitmask).
    #[arg(long)]
    blob: bool,
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("jam-pack: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    let (bytes, name) = input::open(cli.file.as_deref())?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| format!("{name}: offset {:#x}: the input is not UTF-8 text", e.valid_up_to()))?;
    let program = pvm_asm::parse(text).map_err(|e| located(&name, &e))?;
    if cli.blob
        && (!program.metadata.is_empty()
            || !program.ro_data.is_empty()
            || !program.rw_data.is_empty()
            || program.heap_pages != 0
            || program.stack_size != 0)
    {
        return Err(format!("{name}: --blob writes no metadata, data, heap or stack, but the program has some"));
    }
    let assembled = pvm_asm::assemble(&program).map_err(|e| located(&name, &e))?;
    let out = if cli.blob {
        assembled.blob
    } else if cli.no_metadata {
        assembled.spi
    } else {
        assembled.jam
    };
    match &cli.output {
        Some(path) => std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            if stdout.is_terminal() {
                return Err("refusing to write binary output to a terminal; redirect it or use -o".into());
            }
            stdout.write_all(&out).map_err(|e| format!("<stdout>: {e}"))
        }
    }
}

/// `FILE:LINE:COLUMN: reason` (or `FILE: reason` without a line).
fn located(name: &str, e: &pvm_asm::AsmError) -> String {
    match (e.line, e.column) {
        (0, _) => format!("{name}: {}", e.message),
        (l, 0) => format!("{name}:{l}: {}", e.message),
        (l, c) => format!("{name}:{l}:{c}: {}", e.message),
    }
}

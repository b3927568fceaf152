//! `jam-pack`: assembles PVM assembly text into a `.jam` file (or a bare SPI container or
//! program blob).

#![forbid(unsafe_code)]

#[path = "../input.rs"]
mod input;
#[path = "../output.rs"]
mod output;

use clap::{ArgAction, Parser};
use pvm_isa::Metadata;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Assemble PVM assembly (docs/asm.md) and pack it into a .jam file.
#[derive(Parser)]
#[command(version, about, disable_version_flag = true)]
struct Cli {
    /// Print the program's version (`--version` names the service's).
    #[arg(short = 'V', action = ArgAction::Version)]
    print_version: Option<bool>,
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
    /// Service name: write JAM-SDK metadata (docs/abi.md) with the fields given.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Service version for the JAM-SDK metadata.
    #[arg(long, value_name = "VERSION")]
    version: Option<String>,
    /// Licence for the JAM-SDK metadata.
    #[arg(long, value_name = "LICENSE")]
    license: Option<String>,
    /// An author for the JAM-SDK metadata (repeatable).
    #[arg(long = "author", value_name = "AUTHOR")]
    authors: Vec<String>,
    /// Write the symbol map (the `.function` names by code offset) here; by default it
    /// goes beside the output as OUTPUT.sym when the program names functions.
    #[arg(long, value_name = "FILE")]
    symbols: Option<PathBuf>,
}

impl Cli {
    /// The JAM-SDK metadata the flags ask for, if any flag does.
    fn service_metadata(&self) -> Option<Metadata> {
        let given = self.name.is_some() || self.version.is_some() || self.license.is_some() || !self.authors.is_empty();
        given.then(|| Metadata {
            name: self.name.clone().unwrap_or_default(),
            version: self.version.clone().unwrap_or_default(),
            license: self.license.clone().unwrap_or_default(),
            authors: self.authors.clone(),
        })
    }
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            output::stderr_line(&format!("jam-pack: {message}"));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    let (bytes, name) = input::open(cli.file.as_deref())?;
    pvm_isa::polkavm::reject(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| format!("{name}: offset {:#x}: the input is not UTF-8 text", e.valid_up_to()))?;
    let mut program = pvm_asm::parse(text).map_err(|e| located(&name, &e))?;
    if let Some(metadata) = cli.service_metadata() {
        if cli.blob || cli.no_metadata {
            return Err(
                "--name, --version, --license and --author write metadata, which --blob and --no-metadata leave out"
                    .into(),
            );
        }
        if !program.metadata.is_empty() {
            return Err(format!("{name}: the program has .metadata already; drop it or the metadata flags"));
        }
        program.metadata = metadata.encode();
    }
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
    let symbols_path = cli.symbols.clone().or_else(|| {
        let beside = cli.output.as_ref().filter(|_| !assembled.symbols.is_empty())?;
        let mut path = beside.clone().into_os_string();
        path.push(".sym");
        Some(PathBuf::from(path))
    });
    if let Some(path) = symbols_path {
        std::fs::write(&path, assembled.symbols.to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
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
            if std::io::stdout().is_terminal() {
                return Err("refusing to write binary output to a terminal; redirect it or use -o".into());
            }
            output::stdout(&out)
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

//! `jam-inspect`: decodes, validates and disassembles a `.jam` file, SPI container or
//! program blob.

#![forbid(unsafe_code)]

#[path = "../input.rs"]
mod input;
#[path = "../output.rs"]
mod output;

use clap::Parser;
use pvm_asm::InputForm;
use pvm_asm::other_form_that_parses;
use pvm_isa::DecodeErrorKind;
use std::path::PathBuf;
use std::process::ExitCode;

/// Inspect a PVM program: header fields, jump table, disassembly and validation.
/// Exit status: 0 valid, 1 invalid or unreadable, 2 bad usage.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The file; standard input when `-`.
    file: PathBuf,
    /// Print re-assemblable assembly text (docs/asm.md) instead of the report.
    #[arg(long, conflicts_with = "json")]
    asm: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// The file is a bare SPI container (no metadata prefix).
    #[arg(long, conflicts_with = "blob")]
    no_metadata: bool,
    /// The file is a bare program blob.
    #[arg(long)]
    blob: bool,
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            output::stderr_line(&format!("jam-inspect: {message}"));
            ExitCode::FAILURE
        }
    }
}

/// Prints the requested form; returns whether the file is valid.
fn run(cli: &Cli) -> Result<bool, String> {
    let (bytes, name) = input::open(Some(&cli.file))?;
    let form = if cli.blob {
        InputForm::Blob
    } else if cli.no_metadata {
        InputForm::Spi
    } else {
        InputForm::Jam
    };
    let report = pvm_asm::inspect::inspect(&bytes, form).map_err(|e| {
        if matches!(e.kind, DecodeErrorKind::PolkaVmBlob(_)) {
            return format!("{name}: {e}");
        }
        let hint = match other_form_that_parses(&bytes, form) {
            Some(InputForm::Jam) => "; it parses as a .jam file (drop --no-metadata/--blob)",
            Some(InputForm::Spi) => "; it parses as a bare SPI container: try --no-metadata",
            Some(InputForm::Blob) => "; it parses as a bare program blob: try --blob",
            None => "",
        };
        format!("{name}: {e} (reading {}){hint}", form.name())
    })?;
    if cli.asm {
        let program = pvm_asm::disassemble(&report.parsed).map_err(|e| format!("{name}: {e}"))?;
        output::stdout(program.to_string().as_bytes())?;
    } else if cli.json {
        let json = serde_json::to_string_pretty(&report.to_json(&name)).expect("JSON values serialise");
        output::stdout(format!("{json}\n").as_bytes())?;
    } else {
        output::stdout(report.to_text(&name).as_bytes())?;
    }
    if !report.is_valid() && !cli.json {
        output::stderr_line(&format!("jam-inspect: {name}: invalid: {} findings", report.findings.len()));
    }
    Ok(report.is_valid())
}

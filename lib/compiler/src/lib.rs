//! WebAssembly to PVM compiler: `wasmparser` front end → LLVM IR (inkwell) → LLVM
//! optimisation → PVM instruction selection → `regalloc2` register allocation → PVM
//! assembly (`pvm_asm::Program`).
//!
//! The only `unsafe` code is in `ffi` (the LLVM calls inkwell does not offer safely).

#![deny(unsafe_code)]

pub mod abi;
pub mod backend;
pub mod error;
#[allow(unsafe_code)]
mod ffi;
pub mod optimize;
pub mod options;
pub mod wasm;

pub use error::{CompileError, Result};
pub use options::{EntryKind, ImportAction, MAX_STACK_SIZE, OptLevel, Optimization, Optimizations, Options};

use inkwell::context::Context;

/// Reads WebAssembly binary or text (`.wat`) input; a text error says where, in one line.
pub fn read_input(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    if !bytes.starts_with(b"\0asm")
        && let Err(e) = std::str::from_utf8(bytes)
    {
        return Err(CompileError::new(format!(
            "neither a WebAssembly binary (no \\0asm header) nor text (invalid UTF-8 at offset {:#x})",
            e.valid_up_to()
        )));
    }
    wat::parse_bytes(bytes).map_err(|e| {
        let text = e.to_string();
        let mut lines = text.lines();
        let message = lines.next().unwrap_or_default().to_string();
        let place = lines.find_map(|l| l.trim().strip_prefix("--> ")).and_then(|p| p.rsplit_once(':').zip(Some(p)));
        match place.and_then(|((file_line, column), _)| file_line.rsplit_once(':').map(|(_, line)| (line, column))) {
            Some((line, column)) => CompileError::new(format!("line {line}, column {column}: {message}")),
            None => CompileError::new(message),
        }
    })
}

/// Compiles a module to optimised LLVM IR text (what `--emit-llvm` prints).
pub fn compile_to_llvm_ir(wasm: &[u8], options: &Options) -> Result<(String, Vec<String>)> {
    let module = wasm::module::Module::parse(wasm, options)?;
    let context = Context::create();
    let ir = wasm::ir::IrModule::build(&context, &module, options)?;
    optimize::prepare(ir.module(), options);
    optimize::optimize(ir.module(), options)?;
    Ok((ir.module().print_to_string().to_string(), ir.warnings.clone()))
}

/// The result of a compilation.
pub struct Compiled {
    /// The PVM assembly program.
    pub program: pvm_asm::Program,
    /// Warnings for the user (unknown imports, ...).
    pub warnings: Vec<String>,
    /// Address of the harness mailbox ([`EntryKind::Harness`] only).
    pub mailbox: Option<u64>,
    /// Addresses of exported mutable globals by global index ([`EntryKind::Harness`] only).
    pub global_addresses: std::collections::HashMap<u32, u64>,
}

/// Compiles a WebAssembly module (binary) to a PVM assembly program.
pub fn compile(wasm: &[u8], options: &Options) -> Result<Compiled> {
    let module = wasm::module::Module::parse(wasm, options)?;
    let context = Context::create();
    let ir = wasm::ir::IrModule::build(&context, &module, options)?;
    optimize::prepare(ir.module(), options);
    optimize::optimize(ir.module(), options)?;
    let facts = backend::ModuleFacts {
        // The jump table starts with one entry per table slot; a table that functions
        // change is indexed by slot number instead (0: null, then `addressable()`).
        table: module
            .table
            .as_ref()
            .map(|t| {
                let entry = |f: u32| (wasm::env::function_name(f), ir.env.signature_id(module.signature(f)));
                if t.mutable {
                    std::iter::once(None).chain(t.addressable().into_iter().map(|f| Some(entry(f)))).collect()
                } else {
                    t.entries.iter().map(|e| e.map(entry)).collect()
                }
            })
            .unwrap_or_default(),
        initial_pages: module.memory.map_or(0, |m| m.initial),
        maximum_pages: module.memory.and_then(|m| m.maximum),
        data: module
            .data
            .iter()
            .filter_map(|d| match d.placement {
                wasm::module::DataPlacement::Active(offset) => Some((offset, d.bytes.to_vec())),
                wasm::module::DataPlacement::Passive => None,
            })
            .collect(),
        stack_size: options.stack_size,
        instantiation_traps: module.instantiation_trap.is_some(),
        function_names: module
            .functions
            .iter()
            .enumerate()
            .map(|(index, f)| (wasm::env::function_name(index as u32), f.name.clone()))
            .collect(),
        gray_paper_result: options.gray_paper_result,
    };
    let (program, layout) = backend::compile(ir.module(), &facts, options.optimizations)?;
    let global_addresses = (0..module.globals.len() as u32)
        .filter_map(|g| layout.address(&wasm::env::global_name(g)).map(|a| (g, a)))
        .collect();
    Ok(Compiled {
        program,
        warnings: ir.warnings.clone(),
        mailbox: layout.address(abi::HARNESS_MAILBOX),
        global_addresses,
    })
}

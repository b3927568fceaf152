//! WebAssembly to PVM compiler: `wasmparser` front end → LLVM IR (inkwell) → LLVM
//! optimisation → PVM instruction selection → `regalloc2` register allocation → PVM
//! assembly (`pvm_asm::Program`).

pub mod abi;
pub mod backend;
pub mod error;
mod ffi;
pub mod optimize;
pub mod options;
pub mod wasm;

pub use error::{CompileError, Result};
pub use options::{ImportAction, OptLevel, Options};

use inkwell::context::Context;

/// Reads WebAssembly binary or text (`.wat`) input.
pub fn read_input(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    wat::parse_bytes(bytes).map_err(|e| CompileError::new(e.to_string()))
}

/// Compiles a module to optimised LLVM IR text (what `--emit-llvm` prints).
pub fn compile_to_llvm_ir(wasm: &[u8], options: &Options) -> Result<(String, Vec<String>)> {
    let module = wasm::module::Module::parse(wasm, &options.imported_globals)?;
    let context = Context::create();
    let ir = wasm::ir::IrModule::build(&context, &module, options)?;
    optimize::prepare(&ir.module);
    optimize::optimize(&ir.module, options.opt_level)?;
    Ok((ir.module.print_to_string().to_string(), ir.warnings.clone()))
}

/// The result of a compilation.
pub struct Compiled {
    /// The PVM assembly program.
    pub program: pvm_asm::Program,
    /// Warnings for the user (unknown imports, ...).
    pub warnings: Vec<String>,
}

/// Compiles a WebAssembly module (binary) to a PVM assembly program.
pub fn compile(wasm: &[u8], options: &Options) -> Result<Compiled> {
    let module = wasm::module::Module::parse(wasm, &options.imported_globals)?;
    let context = Context::create();
    let ir = wasm::ir::IrModule::build(&context, &module, options)?;
    optimize::prepare(&ir.module);
    optimize::optimize(&ir.module, options.opt_level)?;
    let facts = backend::ModuleFacts {
        table: module
            .table
            .as_ref()
            .map(|t| {
                t.entries
                    .iter()
                    .map(|e| e.map(|f| (format!("wasm.func.{f}"), ir.signature_id(module.signature(f)))))
                    .collect()
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
    };
    let program = backend::compile(&ir.module, &facts)?;
    Ok(Compiled { program, warnings: ir.warnings.clone() })
}

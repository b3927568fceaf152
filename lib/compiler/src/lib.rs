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
pub mod hot_calls;
pub mod optimize;
pub mod options;
pub mod phase_times;
pub mod wasm;

pub use error::{CompileError, Result};
pub use options::{EntryKind, ImportAction, MAX_STACK_SIZE, OptLevel, Optimization, Optimizations, Options};
pub use phase_times::PhaseTimes;

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

/// Compiles a module to optimised LLVM IR text, optimised in one part (what `--emit-llvm`
/// prints).
pub fn compile_to_llvm_ir(wasm: &[u8], options: &Options) -> Result<(String, Vec<String>)> {
    let module = front_end(wasm, options, &mut PhaseTimes::start())?;
    // At `-Oz`, the IR of the pipeline whose code `compile` keeps.
    let pipeline = if options.opt_level == OptLevel::Oz && options.enabled(Optimization::Llvm) {
        compile_module(&module, options)?.pipeline
    } else {
        options.opt_level
    };
    let options = &Options { opt_level: pipeline, ..options.clone() };
    let context = Context::create();
    let ir = wasm::ir::IrModule::build(&context, &module, options, None)?;
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
    /// The memory base `B`: the PVM address of WebAssembly address 0 (docs/memory.md).
    pub memory_base: u64,
    /// The largest memory in pages `memory.grow` may reach.
    pub max_pages: u64,
    /// The level whose LLVM pipeline optimised the code: the one asked for, but at `-Oz`
    /// whichever of [`OZ_PIPELINES`] gave the least code.
    pub pipeline: OptLevel,
    /// How long each phase took.
    pub phase_times: PhaseTimes,
    /// The parts LLVM optimised the module in, each on a thread of its own
    /// ([`Options::jobs`]).
    pub parts: usize,
}

/// The pipelines `-Oz` compiles with, each with `-Oz`'s back end, keeping the one that
/// gives the least code (the first of equals): LLVM's `-Oz` (no loop rotation, less
/// inlining) is not the smallest everywhere (`dispatch` is smaller at `-Os`, a loop that
/// `-O2` rotates can be smaller than its unrotated form), and this way `-Oz` is never
/// larger than `-Os` or `-O2`. It takes three times as long to compile.
pub const OZ_PIPELINES: [OptLevel; 3] = [OptLevel::Oz, OptLevel::Os, OptLevel::O2];

/// Compiles a WebAssembly module (binary) to a PVM assembly program.
pub fn compile(wasm: &[u8], options: &Options) -> Result<Compiled> {
    let mut times = PhaseTimes::start();
    let module = front_end(wasm, options, &mut times)?;
    let mut compiled = compile_module(&module, options).map_err(|error| {
        name_origin(error, options, |name| readable_name(&module, name), |o| compile_module(&module, o).err())
    })?;
    times.extend(std::mem::replace(&mut compiled.phase_times, PhaseTimes::start()));
    compiled.phase_times = times;
    Ok(compiled)
}

/// Reads and validates a module, and runs its start function at compile time where that
/// gives every run's outcome ([`wasm::start_eval`]).
fn front_end<'a>(wasm: &'a [u8], options: &Options, times: &mut PhaseTimes) -> Result<wasm::module::Module<'a>> {
    let mut module = wasm::module::Module::parse(wasm, options)?;
    times.end("validation");
    if options.enabled(Optimization::StartEval) {
        wasm::start_eval::apply(wasm, &mut module);
        times.end("start evaluation");
    }
    module.find_live(options)?;
    Ok(module)
}

/// The module's name for the function with LLVM name `name` (`wasm.func.N`; the entry
/// and runtime functions keep theirs).
fn readable_name(module: &wasm::module::Module, name: &str) -> String {
    let index = name.strip_prefix("wasm.func.").and_then(|n| n.parse::<usize>().ok());
    index.and_then(|i| module.functions.get(i)).map_or_else(|| name.to_string(), |f| f.name.clone())
}

/// Names the WebAssembly function an error of the back end comes from. With inlining on,
/// the function where the back end met it may only be the one others were inlined into
/// (often the entry): the module is then compiled again with inlining off, where every
/// function keeps its own code, and if the same error arises there in another function,
/// that one is named, with the function it was inlined into. `compile` compiles under
/// the options given and returns its error.
fn name_origin(
    error: CompileError,
    options: &Options,
    readable: impl Fn(&str) -> String,
    compile: impl FnOnce(&Options) -> Option<CompileError>,
) -> CompileError {
    let Some(function) = error.function.clone() else { return error };
    let mut error = CompileError { function: Some(readable(&function)), ..error };
    if options.optimizations.enabled(Optimization::Inline) {
        let mut without_inlining = options.clone();
        without_inlining.optimizations.disable(Optimization::Inline);
        if let Some(origin) = compile(&without_inlining)
            && origin.message == error.message
            && let Some(origin_function) = origin.function.filter(|f| *f != function)
        {
            error.function = Some(format!("{} (inlined into {})", readable(&origin_function), readable(&function)));
        }
    }
    error
}

/// Compiles a module; at `-Oz`, with each of [`OZ_PIPELINES`], keeping the least code.
fn compile_module(module: &wasm::module::Module, options: &Options) -> Result<Compiled> {
    let back_end = options.back_end_optimizations();
    if options.opt_level != OptLevel::Oz || !options.enabled(Optimization::Llvm) {
        return compile_with(module, options, back_end);
    }
    // The phases of every pipeline tried, one after the other.
    let mut times = PhaseTimes::start();
    let mut measured = |pipeline: OptLevel| -> Result<(usize, Compiled)> {
        let mut compiled = compile_with(module, &Options { opt_level: pipeline, ..options.clone() }, back_end)?;
        times.extend(std::mem::replace(&mut compiled.phase_times, PhaseTimes::start()));
        let code = pvm_asm::assemble(&compiled.program)
            .map_err(|e| CompileError::new(format!("internal error: the code does not assemble: {e}")))?
            .code_len;
        times.end("code size");
        Ok((code, compiled))
    };
    let [first, others @ ..] = OZ_PIPELINES;
    let mut smallest = measured(first)?;
    for pipeline in others {
        let candidate = measured(pipeline)?;
        if candidate.0 < smallest.0 {
            smallest = candidate;
        }
    }
    let (_, mut compiled) = smallest;
    compiled.phase_times = times;
    Ok(compiled)
}

/// Builds and optimises the LLVM module of each part of `module` (one part, the whole
/// module, without a partition), part 0 on the calling thread and each other part on a
/// thread of its own.
fn optimised_parts<'c>(
    contexts: &'c [Context],
    module: &wasm::module::Module,
    options: &Options,
    partition: Option<&'c wasm::partition::Partition>,
    times: &mut PhaseTimes,
) -> Result<Vec<wasm::ir::IrModule<'c>>> {
    let part = |index| partition.map(|partition| wasm::env::Part { partition, index });
    let build = |context, index| {
        let ir = wasm::ir::IrModule::build(context, module, options, part(index))?;
        optimize::prepare(ir.module(), options);
        Ok(ir)
    };
    std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for (index, context) in contexts.iter().enumerate().skip(1) {
            workers.push(ffi::spawn_in_context(scope, context, move |context| {
                build(context, index).and_then(|ir| optimize::optimize(ir.module(), options).map(|()| ir))
            })?);
        }
        let first = build(&contexts[0], 0);
        times.end("LLVM IR");
        let first = first.and_then(|ir| optimize::optimize(ir.module(), options).map(|()| ir));
        let mut parts = vec![first];
        parts.extend(workers.into_iter().map(ffi::join_context_thread));
        times.end("LLVM optimisation");
        parts.into_iter().collect()
    })
}

/// Compiles a module with the LLVM pipeline of `options`' level and the back end's
/// optimisations `back_end`; a large module in parts, on several threads
/// ([`Options::jobs`]).
fn compile_with(module: &wasm::module::Module, options: &Options, back_end: Optimizations) -> Result<Compiled> {
    let mut times = PhaseTimes::start();
    let part_count = options.parts(module.functions.len() - module.imported_functions);
    let partition =
        if part_count > 1 { Some(wasm::partition::Partition::split(module, options, part_count)?) } else { None };
    let contexts: Vec<Context> =
        (0..partition.as_ref().map_or(1, wasm::partition::Partition::parts)).map(|_| Context::create()).collect();
    let parts = optimised_parts(&contexts, module, options, partition.as_ref(), &mut times)?;
    let ir = &parts[0];
    let modules: Vec<&inkwell::module::Module<'_>> = parts.iter().map(|part| part.module()).collect();
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
        wild_address_traps: options.wild_address_traps,
        instantiation_traps: module.instantiation_trap.is_some(),
        function_names: module
            .functions
            .iter()
            .enumerate()
            .map(|(index, f)| (wasm::env::function_name(index as u32), f.name.clone()))
            .collect(),
        gray_paper_result: options.gray_paper_result,
        // A test harness writes its calls into the mailbox and reads exported globals.
        host_read_globals: match options.entry {
            EntryKind::Harness => std::iter::once(abi::HARNESS_MAILBOX.to_string())
                .chain(module.exports.iter().filter_map(|e| match e.kind {
                    wasm::module::ExportKind::Global(g) => Some(wasm::env::global_name(g)),
                    _ => None,
                }))
                .collect(),
            EntryKind::Main => Default::default(),
        },
    };
    let imported = backend::import(&modules, &facts, back_end, &mut times)?;
    let warnings = ir.warnings.clone();
    // The LLVM modules are dropped on another thread while the back end goes on (where no
    // thread can be started, the modules are dropped here, at once).
    let (program, layout) = std::thread::scope(|scope| {
        let _dropping = ffi::spawn_in_context(scope, parts, drop);
        backend::compile(imported, &facts, back_end, options.verify_allocation, &mut times)
    })?;
    let global_addresses = (0..module.globals.len() as u32)
        .filter_map(|g| layout.address(&wasm::env::global_name(g)).map(|a| (g, a)))
        .collect();
    Ok(Compiled {
        program,
        warnings,
        mailbox: layout.address(abi::HARNESS_MAILBOX),
        global_addresses,
        memory_base: layout.memory_base,
        max_pages: layout.max_pages,
        pipeline: options.opt_level,
        phase_times: times,
        parts: contexts.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(name: &str) -> String {
        name.replace("wasm.func.2", "helper")
    }

    fn unsupported(function: &str) -> CompileError {
        CompileError::new("internal error: the back end does not support the intrinsic llvm.x.i32")
            .in_function(function)
    }

    /// A harness entry with nothing to call reads no mailbox slot, but its host writes
    /// them: the mailbox keeps its place when the module is split.
    #[test]
    fn a_split_harness_keeps_its_mailbox() {
        let wasm = wat::parse_str("(module (table 2 funcref) (elem (i32.const 0) $a $b) (func $a) (func $b))").unwrap();
        let options = Options { entry: EntryKind::Harness, jobs: Some(2), ..Options::default() };
        let module = front_end(&wasm, &options, &mut PhaseTimes::start()).unwrap();
        assert_eq!(wasm::partition::Partition::split(&module, &options, 2).unwrap().parts(), 2);
        assert!(compile(&wasm, &options).unwrap().mailbox.is_some());
    }

    #[test]
    fn an_inlined_functions_error_names_it() {
        let error = name_origin(unsupported(abi::ENTRY), &Options::default(), readable, |o| {
            assert!(!o.optimizations.enabled(Optimization::Inline));
            Some(unsupported("wasm.func.2"))
        });
        assert_eq!(
            error.to_string(),
            "function helper (inlined into __pvm_entry): internal error: the back end does not support the intrinsic llvm.x.i32"
        );
    }

    #[test]
    fn an_error_keeps_its_function_when_the_origin_is_not_found() {
        let expected = "function helper: internal error: the back end does not support the intrinsic llvm.x.i32";
        let options = Options::default();
        assert_eq!(name_origin(unsupported("wasm.func.2"), &options, readable, |_| None).to_string(), expected);
        let same = name_origin(unsupported("wasm.func.2"), &options, readable, |_| Some(unsupported("wasm.func.2")));
        assert_eq!(same.to_string(), expected);
        let other = |_: &Options| Some(CompileError::new("another error").in_function("wasm.func.3"));
        assert_eq!(name_origin(unsupported("wasm.func.2"), &options, readable, other).to_string(), expected);
        let mut without_inlining = Options::default();
        without_inlining.optimizations.disable(Optimization::Inline);
        let not_compiled = |_: &Options| -> Option<CompileError> { panic!("compiled again with inlining off") };
        assert_eq!(
            name_origin(unsupported("wasm.func.2"), &without_inlining, readable, not_compiled).to_string(),
            expected
        );
    }
}

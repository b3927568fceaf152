//! Compile-time evaluation of the start function (the `start` optimisation).
//!
//! A module's start function runs on every instantiation, before the entry point, and
//! sees nothing of the program's input: what it computes is the same every time. In an
//! AssemblyScript program it builds the runtime's static objects (the anan-as
//! interpreter allocates and fills its table of 231 instructions: about 15,700 gas on
//! every run). This module runs the start function once, at compile time, in `wasmi` (a
//! WebAssembly interpreter nobody here wrote), and makes its result the module's initial
//! state: the memory it leaves becomes the initial memory (one active data segment from
//! its first to its last non-zero byte, the memory's size its initial size), and the
//! module has no start function any more. The values it leaves in the mutable globals
//! become their initial values; those that other functions write are also stored by each
//! entry as it begins, as the start function did, so that LLVM sees them there (an
//! AssemblyScript program's first allocation is then at a constant address). Functions
//! only the start function called disappear from the code.
//!
//! The evaluation is only done where its outcome is the outcome every run would have:
//! - the start function finishes within [`FUEL`] WebAssembly instructions, without a
//!   trap and without calling an import (an import's effect is the host's; the call
//!   stops the evaluation);
//! - the module imports nothing but functions, and instantiating it does not trap;
//! - no function the start function can reach (by `call`, through the table, or
//!   `ref.func`) uses floating-point arithmetic (a NaN's bits may differ between two
//!   correct implementations), changes the table or drops a segment (state the module's
//!   image does not hold);
//! - the table has at most [`MAX_TABLE_ENTRIES`] entries, and the memory stays within
//!   [`MAX_PAGES`] pages, and every `memory.grow` succeeds (a
//!   failing one would fail in the compiled program too, but a limit of its own is not
//!   worth the care).
//!
//! Otherwise the start function stays, and runs as before.

use crate::wasm::module::{DataPlacement, DataSegment, GlobalInit, Module};
use crate::wasm::translate::float_operator_shape;
use std::borrow::Cow;
use std::collections::BTreeSet;
use wasmparser::{Operator, Parser, Payload, TypeRef};

/// The most WebAssembly instructions the evaluation runs (wasmi's fuel) before it gives
/// up; a start function this long keeps running at run time.
pub const FUEL: u64 = 20_000_000;

/// The largest memory, in 64 KiB pages, the evaluation lets the start function have.
pub const MAX_PAGES: u64 = 1024;

/// The largest table the evaluation instantiates (wasmi allocates every entry).
pub const MAX_TABLE_ENTRIES: usize = 65_536;

const WASM_PAGE: u64 = 65536;
/// Export names the evaluation adds to read the memory and the globals; a module that
/// already uses one fails to load in wasmi and is left as it is.
const MEMORY_EXPORT: &str = "\0start-eval.memory";
const GLOBAL_EXPORT: &str = "\0start-eval.global.";

/// What the start function leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The memory's size in pages.
    pub pages: u64,
    /// The memory from its first to its last non-zero byte: (offset, bytes).
    pub image: Option<(u64, Vec<u8>)>,
    /// The mutable globals the module defines, by index, with their values' bit patterns.
    pub globals: Vec<(u32, u64)>,
}

/// Evaluates the start function of `module` (read from `bytes`) and makes its outcome the
/// module's initial state; leaves the module as it is where that is not sure to be the
/// outcome of every run (see the module documentation). Returns whether it did.
pub fn apply(bytes: &[u8], module: &mut Module<'_>) -> bool {
    let Some(snapshot) = evaluate(bytes, module) else { return false };
    for segment in module.data.iter_mut().filter(|s| matches!(s.placement, DataPlacement::Active(_))) {
        // Active segments count as dropped after instantiation: their index stays, empty.
        *segment = DataSegment { placement: DataPlacement::Active(0), bytes: Cow::Borrowed(&[]) };
    }
    if let Some((offset, bytes)) = snapshot.image {
        module.data.push(DataSegment { placement: DataPlacement::Active(offset), bytes: Cow::Owned(bytes) });
    }
    if let Some(memory) = module.memory.as_mut() {
        memory.initial = snapshot.pages;
    }
    // The value the start function left is the global's initial value. A global no other
    // function writes is then a constant, and LLVM folds it everywhere; one that others
    // write is also stored by each entry, as the start function did, because LLVM does
    // not know that an entry runs once, on the initial state.
    let written = globals_written_outside(module, module.start.unwrap_or(u32::MAX));
    for (index, value) in snapshot.globals {
        if module.global_initial_value(index) == value {
            continue;
        }
        module.globals[index as usize].init = GlobalInit::Const(value);
        if written.contains(&index) {
            module.evaluated_globals.push((index, value));
        }
    }
    module.start = None;
    true
}

/// Runs the start function of `module` (read from `bytes`) in wasmi and returns what it
/// leaves, or `None` where the evaluation is not sure to give every run's outcome.
pub fn evaluate(bytes: &[u8], module: &Module<'_>) -> Option<Snapshot> {
    let start = module.start?;
    if module.instantiation_trap.is_some()
        || module.memory.is_some_and(|m| m.initial > MAX_PAGES)
        || module.table.as_ref().is_some_and(|t| t.entries.len() > MAX_TABLE_ENTRIES)
        || !reachable_code_is_pure(module, start)
    {
        return None;
    }
    let mutable_globals: Vec<u32> = (0..module.globals.len() as u32)
        .filter(|&g| module.globals[g as usize].mutable && module.globals[g as usize].import.is_none())
        .collect();
    let with_exports = export_state(bytes, module.memory.is_some(), &mutable_globals)?;

    let mut config = wasmi::Config::default();
    config.consume_fuel(true);
    let engine = wasmi::Engine::new(&config);
    let wasm = wasmi::Module::new(&engine, &with_exports).ok()?;
    // Any failing `memory.grow` stops the evaluation: past MAX_PAGES it may succeed at
    // run time.
    let limits = wasmi::StoreLimitsBuilder::new()
        .memory_size((MAX_PAGES * WASM_PAGE) as usize)
        .table_elements(MAX_TABLE_ENTRIES)
        .trap_on_grow_failure(true)
        .build();
    let mut store = wasmi::Store::new(&engine, limits);
    store.limiter(|limits| limits);
    store.set_fuel(FUEL).ok()?;
    let mut linker = wasmi::Linker::new(&engine);
    for import in wasm.imports() {
        let wasmi::ExternType::Func(ty) = import.ty() else { return None };
        linker
            .func_new(import.module(), import.name(), ty.clone(), |_, _, _| {
                Err(wasmi::Error::new("the start function calls an import"))
            })
            .ok()?;
    }
    let instance = linker.instantiate_and_start(&mut store, &wasm).ok()?;

    let mut snapshot = Snapshot { pages: 0, image: None, globals: Vec::new() };
    if module.memory.is_some() {
        let memory = instance.get_memory(&store, MEMORY_EXPORT)?;
        snapshot.pages = memory.size(&store);
        let data = memory.data(&store);
        if let (Some(first), Some(last)) = (data.iter().position(|&b| b != 0), data.iter().rposition(|&b| b != 0)) {
            snapshot.image = Some((first as u64, data[first..=last].to_vec()));
        }
    }
    for g in mutable_globals {
        let value = match instance.get_global(&store, &format!("{GLOBAL_EXPORT}{g}"))?.get(&store) {
            wasmi::Val::I32(v) => u64::from(v as u32),
            wasmi::Val::I64(v) => v as u64,
            wasmi::Val::F32(v) => u64::from(v.to_bits()),
            wasmi::Val::F64(v) => v.to_bits(),
            _ => return None,
        };
        snapshot.globals.push((g, value));
    }
    Some(snapshot)
}

/// The globals some function other than `start` writes (`global.set`).
fn globals_written_outside(module: &Module<'_>, start: u32) -> BTreeSet<u32> {
    let mut written = BTreeSet::new();
    for (index, function) in module.functions.iter().enumerate() {
        let Some(body) = function.body.as_ref().filter(|_| index as u32 != start) else { continue };
        let Ok(mut reader) = body.get_operators_reader() else { return (0..module.globals.len() as u32).collect() };
        while !reader.eof() {
            match reader.read() {
                Ok(Operator::GlobalSet { global_index }) => {
                    written.insert(global_index);
                }
                Ok(_) => {}
                Err(_) => return (0..module.globals.len() as u32).collect(),
            }
        }
    }
    written
}

/// Whether every function `start` can reach (by `call`, through the table, by
/// `ref.func`) is free of float arithmetic, table changes and segment drops.
fn reachable_code_is_pure(module: &Module<'_>, start: u32) -> bool {
    let mut seen = vec![false; module.functions.len()];
    let mut work = vec![start];
    let mut table_added = false;
    while let Some(f) = work.pop() {
        if std::mem::replace(&mut seen[f as usize], true) {
            continue;
        }
        let Some(body) = &module.functions[f as usize].body else { continue };
        let Ok(mut reader) = body.get_operators_reader() else { return false };
        while !reader.eof() {
            let Ok(op) = reader.read() else { return false };
            match op {
                op if float_operator_shape(&op).is_some() => return false,
                Operator::TableCopy { .. }
                | Operator::TableInit { .. }
                | Operator::ElemDrop { .. }
                | Operator::DataDrop { .. } => return false,
                Operator::Call { function_index } | Operator::RefFunc { function_index } => work.push(function_index),
                Operator::CallIndirect { .. } if !std::mem::replace(&mut table_added, true) => {
                    if let Some(table) = &module.table {
                        work.extend(table.addressable());
                    }
                }
                _ => {}
            }
        }
    }
    true
}

/// `bytes` with the memory (if `memory`) and the given globals exported under names of
/// the evaluation's own; `None` if the module imports anything but functions.
fn export_state(bytes: &[u8], memory: bool, globals: &[u32]) -> Option<Vec<u8>> {
    let mut added = Vec::new();
    let mut count = 0u32;
    let mut export = |name: &str, kind: u8, index: u32| {
        leb(&mut added, name.len() as u32);
        added.extend_from_slice(name.as_bytes());
        added.push(kind);
        leb(&mut added, index);
        count += 1;
    };
    if memory {
        export(MEMORY_EXPORT, 0x02, 0);
    }
    for &g in globals {
        export(&format!("{GLOBAL_EXPORT}{g}"), 0x03, g);
    }

    let mut out = bytes[..8].to_vec();
    let mut exports_written = false;
    let write_exports = |out: &mut Vec<u8>, existing: Option<(u32, &[u8])>| {
        let (existing_count, existing_entries) = existing.unwrap_or((0, &[]));
        let mut contents = Vec::new();
        leb(&mut contents, existing_count + count);
        contents.extend_from_slice(existing_entries);
        contents.extend_from_slice(&added);
        out.push(7);
        leb(out, contents.len() as u32);
        out.extend_from_slice(&contents);
    };
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.ok()?;
        if let Payload::ImportSection(reader) = &payload {
            for import in reader.clone().into_imports() {
                if !matches!(import.ok()?.ty, TypeRef::Func(_)) {
                    return None;
                }
            }
        }
        let Some((id, range)) = payload.as_section() else { continue };
        let range = range.start as usize..range.end as usize;
        // Sections after the export section: start, element, data count, code, data.
        if !exports_written && (8..=12).contains(&id) {
            write_exports(&mut out, None);
            exports_written = true;
        }
        if let Payload::ExportSection(reader) = &payload {
            let entries = &bytes[reader.original_position() as usize..range.end];
            write_exports(&mut out, Some((reader.count(), entries)));
            exports_written = true;
            continue;
        }
        out.push(id);
        leb(&mut out, range.len() as u32);
        out.extend_from_slice(&bytes[range]);
    }
    if !exports_written {
        write_exports(&mut out, None);
    }
    Some(out)
}

/// Appends `value` as an unsigned LEB128.
fn leb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

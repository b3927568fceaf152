//! The PVM back end: from the optimised LLVM module to a PVM assembly program.
//!
//! Phases, each with its own data: memory [`layout`] → [`import`] into [`lir`] (less
//! the [`address_check`]s that cannot fail) → instruction selection ([`isel`]) into
//! [`mir`], with the copies of [`loop_carried`] → register allocation (`regalloc2`) →
//! [`emit`] into `pvm_asm` items, plus the [`runtime`] routines the code calls.

pub mod address_check;
pub mod emit;
pub mod import;
pub mod isel;
pub mod layout;
pub mod lir;
pub mod loop_carried;
pub mod mir;
pub mod runtime;

use crate::abi;
use crate::error::{CompileError, Result};
use crate::options::{Optimization, Optimizations};
use isel::{IndirectDispatch, ModuleInfo, Routine};
use layout::Layout;
use pvm_asm::{Item, Operand, Program, TableEntry, Target};
use std::collections::{BTreeSet, HashMap, HashSet};

/// What the back end needs to know about the WebAssembly module.
pub struct ModuleFacts {
    /// The function table: per slot, the callee's LLVM name and signature id.
    pub table: Vec<Option<(String, usize)>>,
    /// Initial memory size in pages.
    pub initial_pages: u64,
    /// Declared maximum memory size in pages.
    pub maximum_pages: Option<u64>,
    /// Active data segments: (offset, bytes), applied in order.
    pub data: Vec<(u64, Vec<u8>)>,
    /// Stack size in bytes.
    pub stack_size: u32,
    /// Whether memory accesses are checked ([`crate::Options::wild_address_traps`]).
    pub wild_address_traps: bool,
    /// Whether instantiation traps (a segment out of bounds).
    pub instantiation_traps: bool,
    /// The readable name (WebAssembly name section, export, else `func[N]`) of each
    /// function by its LLVM name; functions not listed are named by their label.
    pub function_names: HashMap<String, String>,
    /// Whether an entry returns its result's length in r8 (the Gray Paper's reading)
    /// rather than its end address.
    pub gray_paper_result: bool,
}

/// Compiles the optimised LLVM module into an assembly program.
pub fn compile(
    module: &inkwell::module::Module<'_>,
    facts: &ModuleFacts,
    optimizations: Optimizations,
) -> Result<(Program, Layout)> {
    let td = inkwell::targets::TargetData::create(crate::optimize::DATA_LAYOUT);
    let layout = Layout::new(module, &td, facts.stack_size, facts.maximum_pages, facts.wild_address_traps)?;
    let mut lir = import::import(module, &layout, &td)?;
    for function in &mut lir.functions {
        address_check::resolve(function, layout.memory_base);
    }
    // A module whose instantiation traps never runs with its memory image.
    let segments: Vec<(u64, &[u8])> = if facts.instantiation_traps {
        Vec::new()
    } else {
        facts.data.iter().map(|(o, b)| (*o, b.as_slice())).collect()
    };
    let (rw_data, heap_pages) = layout::memory_image(facts.initial_pages, &segments)?;

    // The jump table starts with the function table (slot i is entry i).
    let signatures: BTreeSet<usize> = facts.table.iter().flatten().map(|(_, s)| *s).collect();
    let checked = signatures.len() > 1;
    let mut jump_table: Vec<TableEntry> = facts
        .table
        .iter()
        .map(|slot| match slot {
            None => TableEntry::Label(runtime::TRAP.to_string()),
            Some((name, _)) if checked => TableEntry::Label(indirect_entry(name)),
            Some((name, _)) => TableEntry::Label(name.clone()),
        })
        .collect();
    let dispatch = |signature: usize| {
        if !signatures.contains(&signature) {
            IndirectDispatch::Trap
        } else {
            IndirectDispatch::Table { base: 2, check: checked.then_some(signature as u64) }
        }
    };
    let mut switch_tables: Vec<Vec<String>> = Vec::new();
    let table_len = jump_table.len();
    let mut reserve = |labels: Vec<String>| {
        let start = table_len + switch_tables.iter().map(Vec::len).sum::<usize>();
        switch_tables.push(labels);
        2 * (start as u64 + 1)
    };
    let mut routines: BTreeSet<Routine> = BTreeSet::new();
    let mut runtime_label = |r: Routine| {
        routines.insert(r);
        runtime::label(r).to_string()
    };
    let names: Vec<String> = lir.functions.iter().map(|f| f.name.clone()).collect();
    let mut info = ModuleInfo {
        function_names: &names,
        dispatch: &dispatch,
        reserve_switch_table: &mut reserve,
        host_r8_slot: layout.address(abi::HOST_R8_SLOT),
        runtime: &mut runtime_label,
        optimizations,
        memory_base: layout.memory_base,
    };
    let context = emit::EmitContext {
        globals_size: layout.globals_size,
        global_inits: &layout.global_inits,
        fallthrough: optimizations.enabled(Optimization::Fallthrough),
        gray_paper_result: facts.gray_paper_result,
    };
    let table_functions: HashSet<&str> = facts.table.iter().flatten().map(|(n, _)| n.as_str()).collect();
    let env = mir::machine_env();
    let options = regalloc2::RegallocOptions {
        verbose_log: false,
        validate_ssa: cfg!(debug_assertions),
        algorithm: regalloc2::Algorithm::Ion,
    };
    let mut items = entry_slots(lir.functions.iter().filter(|f| abi::entry_slot(&f.name).is_some()).count());
    let mut aliases: HashMap<String, String> = HashMap::new();
    // (label where each function's code starts, its name), for the symbol map.
    let mut functions: Vec<(String, String)> = Vec::new();
    for function in &lir.functions {
        let name = facts.function_names.get(&function.name).unwrap_or(&function.name);
        let mut start = function.name.clone();
        let is_entry = abi::entry_slot(&function.name).is_some();
        let mfunction = isel::select(function, is_entry, &mut info).map_err(|e| e.in_function(&function.name))?;
        let allocation = regalloc2::run(&mfunction, &env, &options).map_err(|e| {
            CompileError::new(format!("internal error: register allocation failed: {e:?}")).in_function(&function.name)
        })?;
        // Builds with debug assertions (the `checked` profile, tests/checked.rs) verify
        // every allocation.
        if cfg!(debug_assertions) {
            let mut checker = regalloc2::checker::Checker::new(&mfunction, &env);
            checker.prepare(&allocation);
            checker.run().map_err(|e| {
                CompileError::new(format!("internal error: the register allocation checker found {e:?}"))
                    .in_function(&function.name)
            })?;
        }
        if checked && table_functions.contains(function.name.as_str()) {
            let signature = facts.table.iter().flatten().find(|(n, _)| n == &function.name).map_or(0, |(_, s)| *s);
            start = indirect_entry(&function.name);
            items.push(Item::Label(start.clone()));
            items.push(Item::Instruction(pvm_asm::AsmInstruction::new(
                pvm_isa::Opcode::BranchNeImm,
                vec![
                    Operand::Reg(abi::reg(isel::SIGNATURE_REG)),
                    Operand::imm(signature as u64),
                    Operand::label(runtime::TRAP),
                ],
            )));
        }
        functions.push((start, name.clone()));
        let emitted = emit::emit(&mfunction, &allocation, &context).map_err(|e| e.in_function(&function.name))?;
        items.extend(emitted.items);
        aliases.extend(emitted.aliases);
    }
    items.extend(runtime::trap());
    functions.push((runtime::TRAP.to_string(), runtime::TRAP.to_string()));
    for routine in routines {
        functions.push((runtime::label(routine).to_string(), runtime::label(routine).to_string()));
        items.extend(match routine {
            Routine::Memset => runtime::memset(),
            Routine::Memmove => runtime::memmove(),
            Routine::MemoryGrow => {
                let pages = layout
                    .address(abi::MEMORY_PAGES)
                    .ok_or_else(|| CompileError::new("internal error: no page counter"))?;
                runtime::memory_grow(pages, layout.max_pages)
            }
        });
    }
    // A switch in a block that turned out unreachable reserved its table before its
    // blocks were dropped: its entries (never used) go to the trap.
    let defined: HashSet<&str> =
        items.iter().filter_map(|i| if let Item::Label(l) = i { Some(l.as_str()) } else { None }).collect();
    let entry = |label: String| {
        let label = aliases.get(&label).cloned().unwrap_or(label);
        TableEntry::Label(if defined.contains(label.as_str()) { label } else { runtime::TRAP.to_string() })
    };
    let switch_entries: Vec<TableEntry> = switch_tables.into_iter().flatten().map(entry).collect();
    jump_table.extend(switch_entries);
    let referenced = referenced_labels(&items, &jump_table);
    emit::insert_block_starts(&mut items, &referenced);
    items.retain(|item| !matches!(item, Item::Label(l) if !referenced.contains(l) && !is_function_label(l, &names)));
    // The shared trap keeps no label when nothing branches to it.
    functions.retain(|(label, _)| referenced.contains(label) || is_function_label(label, &names));
    let program = Program {
        metadata: Vec::new(),
        ro_data: layout.ro_data.clone(),
        rw_data,
        heap_pages,
        stack_size: layout.spi_stack_size(),
        jump_table_entry_size: None,
        jump_table,
        items,
        functions,
    };
    Ok((program, layout))
}

/// With several entry functions, the code starts with one slot per entry: a `jump` with a
/// 4-byte offset, 5 bytes, so slot `k` is at pc `5·k` (`abi::ENTRY_SLOT_SIZE`). A single
/// entry function starts at pc 0 itself.
fn entry_slots(count: usize) -> Vec<Item> {
    if count < 2 {
        return Vec::new();
    }
    (0..count)
        .map(|slot| {
            let target = Operand::Target { target: Target::Label(abi::entry_function(slot)), width: Some(4) };
            Item::Instruction(pvm_asm::AsmInstruction::new(pvm_isa::Opcode::Jump, vec![target]))
        })
        .collect()
}

fn is_function_label(label: &str, names: &[String]) -> bool {
    names.iter().any(|n| n == label)
}

/// The label of a function's signature-checking entry for the function table.
fn indirect_entry(name: &str) -> String {
    format!("{name}.indirect")
}

/// Every label some instruction or the jump table refers to.
fn referenced_labels(items: &[Item], table: &[TableEntry]) -> HashSet<String> {
    let mut out: HashSet<String> = table
        .iter()
        .filter_map(|e| match e {
            TableEntry::Label(l) => Some(l.clone()),
            TableEntry::Address(_) => None,
        })
        .collect();
    for item in items {
        if let Item::Instruction(i) = item {
            for operand in &i.operands {
                match operand {
                    Operand::Target { target: Target::Label(l), .. } => {
                        out.insert(l.clone());
                    }
                    Operand::Imm { value: pvm_asm::Value::JumpAddress(l), .. } => {
                        out.insert(l.clone());
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

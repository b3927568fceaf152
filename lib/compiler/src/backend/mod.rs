//! The PVM back end: from the optimised LLVM module to a PVM assembly program.
//!
//! Phases, each with its own data: memory [`layout`] → [`import`] into [`lir`] (less
//! the [`address_check`]s that cannot fail, some by the bounds of [`loop_range`], the
//! [`repeated_loads`], and the checks that [`phi_checks`] finds done along every edge) →
//! instruction selection ([`isel`]) into [`mir`], less its [`dead_code`], with the
//! copies of [`loop_carried`] → register allocation (`regalloc2`) → [`emit`] (less the
//! [`reloads`] a register holds already) into `pvm_asm` items (at `-Oz`, with the
//! [`constant_deltas`]), plus the [`runtime`] routines the code calls.

pub mod address_check;
pub mod constant_deltas;
pub mod dead_code;
pub mod emit;
pub mod import;
pub mod isel;
pub mod layout;
pub mod lir;
pub mod loop_carried;
pub mod loop_range;
pub mod mir;
pub mod phi_checks;
pub mod reloads;
pub mod repeated_loads;
pub mod runtime;
pub mod stack_depth;

use crate::abi;
use crate::error::{CompileError, Result};
use crate::options::{Optimization, Optimizations};
use isel::{IndirectDispatch, ModuleInfo, Routine};
use layout::Layout;
use pvm_asm::{Item, Operand, Program, TableEntry, Target};
use regalloc2::Function as _;
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
    /// The globals the host reads or writes (a test harness's mailbox and exported
    /// mutable globals), laid out even where no code uses them.
    pub host_read_globals: HashSet<String>,
}

/// The optimised program as the back end reads it, with no reference to LLVM left.
pub struct Imported {
    /// Every function.
    lir: lir::Module,
    /// Where everything lives.
    layout: Layout,
    /// Per function, per instruction: whether an address check may see an argument
    /// address ([`address_check::zoned`]).
    zoned: Vec<Vec<bool>>,
}

/// Reads the optimised LLVM module, or the parts of a split one
/// ([`crate::wasm::partition`]), and lays out its globals; LLVM is not needed after it.
pub fn import(
    modules: &[&inkwell::module::Module<'_>],
    facts: &ModuleFacts,
    optimizations: Optimizations,
    times: &mut crate::PhaseTimes,
) -> Result<Imported> {
    let td = inkwell::targets::TargetData::create(crate::optimize::DATA_LAYOUT);
    let layout = Layout::new(
        modules,
        &td,
        facts.stack_size,
        facts.maximum_pages,
        facts.wild_address_traps,
        &facts.host_read_globals,
    )?;
    let mut lir = import::import(modules, &layout)?;
    if modules.len() > 1 {
        import::drop_unreachable(&mut lir, |name| facts.table.iter().flatten().any(|(n, _)| n == name));
    }
    for function in &mut lir.functions {
        address_check::resolve(function, layout.memory_base, optimizations.enabled(Optimization::LoopRange));
        if optimizations.enabled(Optimization::RepeatedLoads) {
            repeated_loads::forward(function);
        }
    }
    let mut zoned = address_check::zoned(&lir, layout.memory_base);
    if optimizations.enabled(Optimization::PhiChecks) {
        for (function, zoned) in lir.functions.iter_mut().zip(&mut zoned) {
            phi_checks::drop_redundant(function, zoned);
        }
    }
    times.end("import");
    Ok(Imported { lir, layout, zoned })
}

/// Compiles the imported program into an assembly program.
/// With `verify_allocation`, regalloc2 validates each function's SSA form and its checker
/// verifies each allocation ([`crate::Options::verify_allocation`]). Each phase's time
/// goes to `times`.
pub fn compile(
    imported: Imported,
    facts: &ModuleFacts,
    optimizations: Optimizations,
    verify_allocation: bool,
    times: &mut crate::PhaseTimes,
) -> Result<(Program, Layout)> {
    let Imported { lir, layout, zoned } = imported;
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
        reloads: optimizations.enabled(Optimization::Reloads),
        stores_reach_stack: !facts.wild_address_traps,
    };
    let table_functions: HashSet<&str> = facts.table.iter().flatten().map(|(n, _)| n.as_str()).collect();
    let env = mir::machine_env();
    let options = regalloc2::RegallocOptions {
        verbose_log: false,
        validate_ssa: verify_allocation,
        algorithm: regalloc2::Algorithm::Ion,
    };
    let mut items = entry_slots(lir.functions.iter().filter(|f| abi::entry_slot(&f.name).is_some()).count());
    let mut aliases: HashMap<String, String> = HashMap::new();
    // (label where each function's code starts, its name), for the symbol map.
    let mut functions: Vec<(String, String)> = Vec::new();
    let mut frames: HashMap<String, stack_depth::FrameInfo> = HashMap::new();
    let allocator = Allocator { env: &env, options: &options, verify: verify_allocation, emit: &context };
    let emitted = allocator.run(lir.functions.len(), |index| {
        let function = &lir.functions[index];
        let is_entry = abi::entry_slot(&function.name).is_some();
        isel::select(function, is_entry, &zoned[index], &mut info).map_err(|e| e.in_function(&function.name))
    })?;
    times.end("selection, allocation, emission");
    for (function, (mfunction, mut emitted)) in lir.functions.iter().zip(emitted) {
        let name = facts.function_names.get(&function.name).unwrap_or(&function.name);
        let mut start = function.name.clone();
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
        if optimizations.enabled(Optimization::ConstantDeltas) {
            constant_deltas::apply(&mut emitted.items);
        }
        items.extend(emitted.items);
        aliases.extend(emitted.aliases);
        let calls = mfunction.calls().cloned().collect();
        frames.insert(function.name.clone(), stack_depth::FrameInfo { frame: emitted.frame, calls });
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
    // The shared trap goes when nothing branches or jumps to it: every function ends in
    // a jump, a return or a trap, so nothing falls into it either.
    if !referenced.contains(runtime::TRAP)
        && let Some(at) = items.iter().position(|i| matches!(i, Item::Label(l) if l == runtime::TRAP))
    {
        items.drain(at..at + 2);
    }
    emit::insert_block_starts(&mut items, &referenced);
    items.retain(|item| !matches!(item, Item::Label(l) if !referenced.contains(l) && !is_function_label(l, &names)));
    // The shared trap keeps no label when nothing branches to it.
    functions.retain(|(label, _)| referenced.contains(label) || is_function_label(label, &names));
    times.end("program");
    let program = Program {
        metadata: Vec::new(),
        ro_data: layout.ro_data.clone(),
        rw_data,
        heap_pages,
        stack_size: layout.spi_stack_size(needed_stack(&frames, &names, facts)),
        jump_table_entry_size: None,
        jump_table,
        items,
        functions,
    };
    Ok((program, layout))
}

/// The stack the program declares: the deepest chain of frames when calls cannot recur
/// and it is within the requested size, the requested size otherwise
/// (`backend::stack_depth`).
fn needed_stack(frames: &HashMap<String, stack_depth::FrameInfo>, names: &[String], facts: &ModuleFacts) -> u32 {
    let entries: Vec<&str> = names.iter().map(String::as_str).filter(|n| abi::entry_slot(n).is_some()).collect();
    let table: Vec<&str> = facts.table.iter().flatten().map(|(n, _)| n.as_str()).collect();
    match stack_depth::deepest_chain(frames, &entries, &table) {
        Some(deepest) if deepest < u64::from(facts.stack_size) => deepest as u32,
        _ => facts.stack_size,
    }
}

/// Register allocation and emission of every function, on two threads: the calling thread
/// selects the instructions of one function after the other (selection reserves switch
/// tables and runtime routines, in function order) and hands each function to a queue that
/// a worker thread allocates and emits from, and that the calling thread helps to empty once
/// it has selected the last function. The result is the same as one function after the
/// other on one thread: the functions with their code in their order, or the error of the
/// first function that has one.
struct Allocator<'a> {
    env: &'a regalloc2::MachineEnv,
    options: &'a regalloc2::RegallocOptions,
    /// Whether regalloc2's checker verifies each allocation ([`verify`]).
    verify: bool,
    emit: &'a emit::EmitContext<'a>,
}

/// Stack of the worker thread: as much as a large function's allocation needs.
const WORKER_STACK: usize = 64 << 20;

/// The fewest functions a worker thread is started for: a few small functions take less
/// time than waiting for a second thread to be scheduled on a busy machine.
const PARALLEL_FROM: usize = 16;

impl Allocator<'_> {
    /// Selects (`select(i)`), allocates and emits functions `0..count`.
    fn run(
        &self,
        count: usize,
        mut select: impl FnMut(usize) -> Result<mir::MFunction>,
    ) -> Result<Vec<(mir::MFunction, emit::Emitted)>> {
        let (queue, jobs) = std::sync::mpsc::channel::<(usize, mir::MFunction)>();
        let jobs = std::sync::Mutex::new(jobs);
        let work = || {
            let mut done = Vec::new();
            // The queue's lock is held while waiting for the next function, which only the
            // selecting thread sends: it never waits for the lock.
            while let Ok((index, function)) = jobs.lock().map_err(|_| ()).and_then(|j| j.recv().map_err(|_| ())) {
                let emitted = self.allocate_and_emit(&function);
                done.push((index, emitted.map(|emitted| (function, emitted))));
            }
            done
        };
        let (selection_error, mut done) = std::thread::scope(|scope| {
            let worker = (count >= PARALLEL_FROM)
                .then(|| std::thread::Builder::new().stack_size(WORKER_STACK).spawn_scoped(scope, work).ok())
                .flatten();
            let mut selection_error = None;
            for index in 0..count {
                match select(index) {
                    Ok(function) => queue.send((index, function)).expect("the queue lives as long as its sender"),
                    Err(e) => {
                        selection_error = Some((index, e));
                        break;
                    }
                }
            }
            drop(queue);
            let mut done = work();
            // Without a second thread (few functions, or none could start), the calling
            // thread has done every function itself.
            if let Some(worker) = worker {
                done.extend(worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
            (selection_error, done)
        });
        done.sort_unstable_by_key(|(index, _)| *index);
        let selected = selection_error.as_ref().map_or(count, |(index, _)| *index);
        debug_assert_eq!(done.len(), selected);
        let mut emitted = Vec::with_capacity(selected);
        for (_, result) in done {
            emitted.push(result?);
        }
        match selection_error {
            Some((_, e)) => Err(e),
            None => Ok(emitted),
        }
    }

    fn allocate_and_emit(&self, function: &mir::MFunction) -> Result<emit::Emitted> {
        let allocation = regalloc2::run(function, self.env, self.options).map_err(|e| {
            CompileError::new(format!("internal error: register allocation failed: {e:?}")).in_function(&function.name)
        })?;
        if self.verify {
            verify(function, self.env, &allocation).map_err(|e| e.in_function(&function.name))?;
        }
        emit::emit(function, &allocation, self.emit).map_err(|e| e.in_function(&function.name))
    }
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

/// Runs regalloc2's checker on an allocation of `f`: every use must read the value its
/// operand names, wherever the allocator moved it. The checker's dataflow visits blocks
/// in their numbering and expects it to be a reverse postorder (a block seen before all
/// of its forward predecessors starts from an empty state, and reports values it could
/// not see as unknown); ours appends the blocks that split critical edges, so it checks
/// `f` through [`ReversePostorder`].
fn verify(f: &mir::MFunction, env: &regalloc2::MachineEnv, allocation: &regalloc2::Output) -> Result<()> {
    let view = ReversePostorder::new(f);
    let mut checker = regalloc2::checker::Checker::new(&view, env);
    checker.prepare(allocation);
    checker.run().map_err(|e| CompileError::new(format!("internal error: the register allocation checker found {e:?}")))
}

/// A function's blocks renumbered in reverse postorder, for the allocation checker; the
/// instructions keep their numbers.
struct ReversePostorder<'f> {
    f: &'f mir::MFunction,
    /// The original block of each new number.
    order: Vec<usize>,
    /// Successors and predecessors by new number.
    succs: Vec<Vec<regalloc2::Block>>,
    preds: Vec<Vec<regalloc2::Block>>,
}

impl<'f> ReversePostorder<'f> {
    fn new(f: &'f mir::MFunction) -> Self {
        use regalloc2::Block;
        let n = f.num_blocks();
        let mut postorder = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        // (block, next successor to visit)
        let mut stack = vec![(0usize, 0usize)];
        seen[0] = true;
        while let Some((b, next)) = stack.pop() {
            let succs = f.block_succs(Block::new(b));
            if let Some(s) = succs.get(next) {
                stack.push((b, next + 1));
                if !seen[s.index()] {
                    seen[s.index()] = true;
                    stack.push((s.index(), 0));
                }
            } else {
                postorder.push(b);
            }
        }
        // Blocks no path reaches keep their relative order, last.
        let order: Vec<usize> = postorder.into_iter().rev().chain((0..n).filter(|&b| !seen[b])).collect();
        let mut number = vec![0; n];
        for (new, &old) in order.iter().enumerate() {
            number[old] = new;
        }
        let renumber = |blocks: &[Block]| blocks.iter().map(|b| Block::new(number[b.index()])).collect();
        let succs = order.iter().map(|&b| renumber(f.block_succs(Block::new(b)))).collect();
        let preds = order.iter().map(|&b| renumber(f.block_preds(Block::new(b)))).collect();
        ReversePostorder { f, order, succs, preds }
    }

    fn original(&self, block: regalloc2::Block) -> regalloc2::Block {
        regalloc2::Block::new(self.order[block.index()])
    }
}

impl regalloc2::Function for ReversePostorder<'_> {
    fn num_insts(&self) -> usize {
        self.f.num_insts()
    }
    fn num_blocks(&self) -> usize {
        self.f.num_blocks()
    }
    fn entry_block(&self) -> regalloc2::Block {
        regalloc2::Block::new(0)
    }
    fn block_insns(&self, block: regalloc2::Block) -> regalloc2::InstRange {
        self.f.block_insns(self.original(block))
    }
    fn block_succs(&self, block: regalloc2::Block) -> &[regalloc2::Block] {
        &self.succs[block.index()]
    }
    fn block_preds(&self, block: regalloc2::Block) -> &[regalloc2::Block] {
        &self.preds[block.index()]
    }
    fn block_params(&self, block: regalloc2::Block) -> &[regalloc2::VReg] {
        self.f.block_params(self.original(block))
    }
    fn is_ret(&self, insn: regalloc2::Inst) -> bool {
        self.f.is_ret(insn)
    }
    fn is_branch(&self, insn: regalloc2::Inst) -> bool {
        self.f.is_branch(insn)
    }
    fn branch_blockparams(
        &self,
        block: regalloc2::Block,
        insn: regalloc2::Inst,
        succ_idx: usize,
    ) -> &[regalloc2::VReg] {
        self.f.branch_blockparams(self.original(block), insn, succ_idx)
    }
    fn inst_operands(&self, insn: regalloc2::Inst) -> &[regalloc2::Operand] {
        self.f.inst_operands(insn)
    }
    fn inst_clobbers(&self, insn: regalloc2::Inst) -> regalloc2::PRegSet {
        self.f.inst_clobbers(insn)
    }
    fn num_vregs(&self) -> usize {
        self.f.num_vregs()
    }
    fn spillslot_size(&self, regclass: regalloc2::RegClass) -> usize {
        self.f.spillslot_size(regclass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::mir::{BlockDraft, MFunction, MInst, preg};
    use regalloc2::{Allocation, RegClass, VReg};

    /// `v0 = 5; v1 = 7; return v0` in r7.
    fn two_constants() -> MFunction {
        named_two_constants("f")
    }

    fn named_two_constants(name: &str) -> MFunction {
        let (v0, v1) = (VReg::new(0, RegClass::Int), VReg::new(1, RegClass::Int));
        let block = BlockDraft {
            label: "f.b0".into(),
            insts: vec![
                MInst::LoadImm { dst: v0, value: 5 },
                MInst::LoadImm { dst: v1, value: 7 },
                MInst::Return { values: vec![(v0, preg(7))] },
            ],
            params: vec![],
            succs: vec![],
        };
        MFunction::new(name.into(), false, vec![block], vec![0, 0, 0], 2, 0)
    }

    /// The functions' code comes back in their order, each as one thread alone emits it.
    #[test]
    fn functions_come_back_in_their_order() {
        let (env, options, context) = (mir::machine_env(), regalloc2::RegallocOptions::default(), emit::test_context());
        let allocator = Allocator { env: &env, options: &options, verify: true, emit: &context };
        let names: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
        let emitted = allocator.run(names.len(), |i| Ok(named_two_constants(&names[i]))).unwrap();
        assert_eq!(emitted.len(), names.len());
        for (name, (function, emitted)) in names.iter().zip(emitted) {
            assert_eq!(&function.name, name);
            let alone = allocator.allocate_and_emit(&named_two_constants(name)).unwrap();
            assert_eq!(emitted.items, alone.items);
            assert_eq!(emitted.items.first(), Some(&Item::Label(name.clone())));
        }
    }

    /// A selection error stops the compilation, with that error.
    #[test]
    fn a_selection_error_is_the_result() {
        let (env, options, context) = (mir::machine_env(), regalloc2::RegallocOptions::default(), emit::test_context());
        let allocator = Allocator { env: &env, options: &options, verify: false, emit: &context };
        let mut selected = Vec::new();
        let error = allocator
            .run(40, |i| {
                selected.push(i);
                if i == 3 { Err(CompileError::new("no selection").in_function("f3")) } else { Ok(two_constants()) }
            })
            .err()
            .unwrap();
        assert_eq!(error.to_string(), "function f3: no selection");
        assert_eq!(selected, [0, 1, 2, 3]);
    }

    #[test]
    fn the_checker_accepts_regalloc2s_allocation() {
        let (f, env) = (two_constants(), mir::machine_env());
        let allocation = regalloc2::run(&f, &env, &regalloc2::RegallocOptions::default()).unwrap();
        verify(&f, &env, &allocation).unwrap();
    }

    /// An allocation that writes the returned value to one register and reads it from
    /// another fails the checker, with the error in the message.
    #[test]
    fn the_checker_finds_a_wrong_allocation() {
        let (f, env) = (two_constants(), mir::machine_env());
        let mut allocation = regalloc2::run(&f, &env, &regalloc2::RegallocOptions::default()).unwrap();
        // The first constant's destination: move it to a register nothing reads.
        let first = allocation.inst_alloc_offsets[0] as usize;
        allocation.allocs[first] = Allocation::reg(preg(12));
        let e = verify(&f, &env, &allocation).unwrap_err().to_string();
        assert!(e.starts_with("internal error: the register allocation checker found CheckerErrors"), "{e}");
    }

    /// The compiler crate is built with overflow checks in every profile (Cargo.toml): an
    /// arithmetic overflow panics instead of wrapping silently.
    #[test]
    #[should_panic(expected = "attempt to add with overflow")]
    fn arithmetic_overflow_panics() {
        let top = std::hint::black_box(u32::MAX);
        let _ = std::hint::black_box(top + 1);
    }
}

//! Emission: an allocated MIR function to PVM assembly items — frames (spill slots,
//! callee-saved registers, outgoing stack arguments), prologue and epilogues, moves and
//! spills inserted by the register allocator, calls through the jump table, block
//! layout with fall-through (code that jumps followed by its target where it can be),
//! and compare-and-branch selection.

use crate::abi;
use crate::backend::layout::MAX_FRAME;
use crate::backend::lir::Pred;
use crate::backend::mir::{CallTarget, MFunction, MInst, Outside, Rhs, StoreValue, SwitchKind, Zone};
use crate::backend::reloads::{self, Held};
use crate::error::{CompileError, Result};
use pvm_asm::{AsmInstruction, Item, Operand};
use pvm_isa::codec::imm_len;
use pvm_isa::{Opcode, Reg};
use regalloc2::{Allocation, Block, Edit, InstOrEdit, Output};

/// Program-wide facts the emitter needs.
pub struct EmitContext<'a> {
    /// Bytes of mutable globals at the top of the stack region (the entry reserves them).
    pub globals_size: u64,
    /// Non-zero initial values of those globals: (address, bytes).
    pub global_inits: &'a [(u64, Vec<u8>)],
    /// Block layout with fall-through and jump forwarding ([`crate::Optimization::Fallthrough`]).
    pub fallthrough: bool,
    /// An entry returns its result's length in r8, not its end address.
    pub gray_paper_result: bool,
    /// Reloads of a slot a register already holds are left out or become moves
    /// ([`crate::Optimization::Reloads`]).
    pub reloads: bool,
    /// Whether a store to memory may write the stack (memory accesses are unchecked).
    pub stores_reach_stack: bool,
}

/// The context unit tests emit with: no globals, fall-through and reloads on.
#[cfg(test)]
pub(crate) fn test_context() -> EmitContext<'static> {
    EmitContext {
        globals_size: 0,
        global_inits: &[],
        fallthrough: true,
        gray_paper_result: false,
        reloads: true,
        stores_reach_stack: false,
    }
}

struct Emitter<'a> {
    f: &'a MFunction,
    out: &'a Output,
    items: Vec<Item>,
    frame: u32,
    spill_base: u32,
    saved: Vec<(Reg, u32)>,
    returns: usize,
    has_calls: bool,
    /// See [`EmitContext::gray_paper_result`].
    gray_paper_result: bool,
    /// Where a branch to each block really goes (blocks that only jump are skipped).
    resolved: Vec<usize>,
    /// The block emitted after each block, if any.
    next: Vec<Option<usize>>,
    /// Each block's place in the layout (`usize::MAX` for blocks not emitted).
    position: Vec<usize>,
    /// The rare paths of address checks, emitted after the function's blocks.
    rare_paths: Vec<Item>,
    /// Address checks emitted so far (they name their rare paths).
    checks: usize,
    /// Whether an address check branches to the trap shared by the function's checks,
    /// emitted after the rare paths.
    trap_used: bool,
    /// What each register holds of the spill slots at each block's start, when reloads
    /// are reused (`backend::reloads`).
    held_at_start: Option<Vec<Held>>,
    /// What each register holds of the spill slots here.
    held: Held,
    /// See [`EmitContext::stores_reach_stack`].
    stores_reach_stack: bool,
}

fn op(opcode: Opcode, operands: Vec<Operand>) -> Item {
    Item::Instruction(AsmInstruction::new(opcode, operands))
}

fn r(reg: Reg) -> Operand {
    Operand::Reg(reg)
}

fn imm(v: u64) -> Operand {
    Operand::imm(v)
}

fn reg_of(n: usize) -> Result<Reg> {
    Reg::new(n as u8).ok_or_else(|| CompileError::new("internal error: register out of range"))
}

fn alloc_reg(a: Allocation) -> Result<Reg> {
    let p = a.as_reg().ok_or_else(|| CompileError::new("internal error: an operand was not given a register"))?;
    Reg::new(p.hw_enc() as u8).ok_or_else(|| CompileError::new("internal error: register out of range"))
}

/// Block order: every block followed by the edge blocks split from it; blocks that only
/// jump (no moves were placed in them) are skipped and branches to them retargeted when
/// `forwarding` is on.
fn layout(f: &MFunction, out: &Output, forwarding: bool) -> (Vec<usize>, Vec<usize>) {
    let n = f.blocks.len();
    let mut has_edits = vec![false; n];
    let mut block_of_inst = vec![0; f.insts.len()];
    for (b, block) in f.blocks.iter().enumerate() {
        block_of_inst[block.start..block.end].fill(b);
    }
    for (point, _) in &out.edits {
        has_edits[block_of_inst[point.inst().index()]] = true;
    }
    let forward = |b: usize| -> Option<usize> {
        let block = &f.blocks[b];
        let jumps_away = block.succs.first().is_some_and(|s| s.index() != b);
        (forwarding
            && b != 0
            && jumps_away
            && block.end - block.start == 1
            && !has_edits[b]
            && matches!(f.insts[block.start], MInst::Jump { .. }))
        .then(|| block.succs[0].index())
    };
    let mut forwards: Vec<Option<usize>> = (0..n).map(forward).collect();
    // Blocks that only jump to each other in a cycle (an empty endless loop): keep one
    // of them, or every label of the cycle would stand for a block that is not emitted.
    for b in 0..n {
        let mut seen = vec![false; n];
        let mut target = b;
        while let Some(next) = forwards[target] {
            seen[target] = true;
            if seen[next] {
                forwards[next] = None;
                break;
            }
            target = next;
        }
    }
    let resolved = (0..n)
        .map(|b| {
            let mut target = b;
            while let Some(next) = forwards[target] {
                target = next;
            }
            target
        })
        .collect();
    let mut order = Vec::with_capacity(n);
    for b in (0..n).filter(|&b| f.origin[b] == b) {
        order.push(b);
        order.extend((0..n).filter(|&e| e != b && f.origin[e] == b));
    }
    order.retain(|&b| forwards[b].is_none());
    (order, resolved)
}

/// An emitted function: its items, and the labels of blocks that were skipped because
/// they only jump, with the label each stands for (the jump table may name them).
pub struct Emitted {
    /// The code.
    pub items: Vec<Item>,
    /// (skipped label, label it forwards to).
    pub aliases: Vec<(String, String)>,
    /// Bytes the function moves the stack pointer down by, its globals aside
    /// (`backend::stack_depth`).
    pub frame: u32,
}

/// Emits one allocated function.
pub fn emit(f: &MFunction, out: &Output, ctx: &EmitContext<'_>) -> Result<Emitted> {
    // Callee-saved registers the function writes.
    let mut used = [false; 13];
    for a in &out.allocs {
        if let Some(p) = a.as_reg() {
            used[p.hw_enc()] = true;
        }
    }
    for (_, edit) in &out.edits {
        let Edit::Move { to, .. } = edit;
        if let Some(p) = to.as_reg() {
            used[p.hw_enc()] = true;
        }
    }
    let has_calls = f.insts.iter().any(MInst::is_call);
    let spill_base = f.outgoing_args;
    let spills = out.num_spillslots as u32;
    let mut saved = Vec::new();
    if !f.is_entry {
        // The return address, when calls overwrite it, and the callee-saved registers used.
        let regs = has_calls
            .then_some(abi::RA)
            .into_iter()
            .chain(abi::CALLEE_SAVED.iter().filter(|&&r| used[r as usize]).map(|&r| abi::reg(r)));
        for reg in regs {
            saved.push((reg, spill_base + 8 * (spills + saved.len() as u32)));
        }
    }
    let frame = u64::from(spill_base) + 8 * u64::from(spills) + 8 * saved.len() as u64;
    if frame > MAX_FRAME {
        return Err(CompileError::new(format!(
            "its stack frame ({frame} bytes) exceeds the {MAX_FRAME} bytes the stack guard allows"
        ))
        .in_function(f.name.clone()));
    }
    let frame = frame as u32;
    let (order, resolved) = layout(f, out, ctx.fallthrough);
    let mut next = vec![None; f.blocks.len()];
    if ctx.fallthrough {
        for pair in order.windows(2) {
            next[pair[0]] = Some(pair[1]);
        }
    }
    let mut position = vec![usize::MAX; f.blocks.len()];
    for (k, &b) in order.iter().enumerate() {
        position[b] = k;
    }
    let mut e = Emitter {
        f,
        out,
        items: Vec::new(),
        frame,
        spill_base,
        saved,
        returns: 0,
        has_calls,
        gray_paper_result: ctx.gray_paper_result,
        resolved,
        next,
        position,
        rare_paths: Vec::new(),
        checks: 0,
        trap_used: false,
        held_at_start: ctx.reloads.then(|| reloads::at_block_starts(f, out, ctx.stores_reach_stack)),
        held: Held::default(),
        stores_reach_stack: ctx.stores_reach_stack,
    };
    e.items.push(Item::Label(f.name.clone()));
    if f.is_entry {
        e.entry_prologue(ctx)?;
    }
    e.adjust_sp(-(i64::from(frame)));
    for &(reg, offset) in &e.saved.clone() {
        e.items.push(op(Opcode::StoreIndU64, vec![r(reg), r(abi::SP), imm(offset.into())]));
    }
    let aliases = (0..f.blocks.len())
        .filter(|&b| e.resolved[b] != b)
        .map(|b| (f.blocks[b].label.clone(), f.blocks[e.resolved[b]].label.clone()))
        .collect();
    for b in order {
        e.block(b)?;
    }
    let mut items = e.items;
    items.extend(e.rare_paths);
    if e.trap_used {
        items.extend([Item::Label(format!("{}.trap", f.name)), op(Opcode::Trap, vec![])]);
    }
    if ctx.fallthrough {
        items = place_jump_targets(items);
        if e.trap_used {
            items = near_traps(items, &format!("{}.trap", f.name));
        }
    }
    Ok(Emitted { items, aliases, frame })
}

impl Emitter<'_> {
    fn push(&mut self, opcode: Opcode, operands: Vec<Operand>) {
        self.items.push(op(opcode, operands));
    }

    fn adjust_sp(&mut self, delta: i64) {
        if delta != 0 {
            self.push(Opcode::AddImm64, vec![r(abi::SP), r(abi::SP), imm(delta as u64)]);
        }
    }

    fn entry_prologue(&mut self, ctx: &EmitContext<'_>) -> Result<()> {
        self.adjust_sp(-(ctx.globals_size as i64));
        for (address, bytes) in ctx.global_inits {
            for (k, chunk) in bytes.chunks(8).enumerate() {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                let value = u64::from_le_bytes(word);
                if value == 0 {
                    continue;
                }
                let at = imm(address + 8 * k as u64);
                let (store, stored) = match chunk.len() {
                    8 => (Opcode::StoreImmU64, value),
                    4..=7 => (Opcode::StoreImmU32, value as u32 as i32 as i64 as u64),
                    2..=3 => (Opcode::StoreImmU16, value as u16 as i16 as i64 as u64),
                    _ => (Opcode::StoreImmU8, value as u8 as i8 as i64 as u64),
                };
                if chunk.len() > 1 && chunk.len() != 2 && chunk.len() != 4 && chunk.len() != 8 {
                    return Err(CompileError::new("internal error: a global of odd size"));
                }
                if imm_len(stored).is_some() {
                    self.push(store, vec![at, imm(stored)]);
                } else {
                    // A 64-bit value an immediate cannot hold: through a scratch register.
                    let scratch = abi::reg(abi::ARG_REGS[2]);
                    self.push(Opcode::LoadImm64, vec![r(scratch), imm(value)]);
                    self.push(Opcode::StoreU64, vec![r(scratch), at]);
                }
            }
        }
        Ok(())
    }

    /// The label a branch to `block` uses.
    fn label(&self, block: usize) -> String {
        self.f.blocks[self.resolved[block]].label.clone()
    }

    /// Whether, of the two targets of a branch at the end of `from`, `first` is the back
    /// edge of the innermost loop: it goes back to a block laid out at or before `from`,
    /// and `second` goes forward or less far back (with the fall-through layout only).
    fn back_edge_first(&self, from: usize, first: usize, second: usize) -> bool {
        let at = |b: usize| self.position[self.resolved[b]];
        let (from, first, second) = (self.position[from], at(first), at(second));
        self.next.iter().any(Option::is_some) && first <= from && (second > from || second < first)
    }

    /// Whether control reaching the end of `from` falls into `block`.
    fn falls_into(&self, from: usize, block: usize) -> bool {
        self.next[from] == Some(self.resolved[block])
    }

    fn slot_offset(&self, a: Allocation) -> Option<u64> {
        a.as_stack().map(|s| u64::from(self.spill_base) + 8 * s.index() as u64)
    }

    fn block(&mut self, b: usize) -> Result<()> {
        self.items.push(Item::Label(self.f.blocks[b].label.clone()));
        let f = self.f;
        if let Some(starts) = &self.held_at_start {
            self.held = starts[b];
        }
        for item in self.out.block_insts_and_edits(f, Block::new(b)) {
            match item {
                InstOrEdit::Edit(Edit::Move { from, to }) => self.edit_move(*from, *to)?,
                InstOrEdit::Inst(inst) => {
                    let allocs = self.out.inst_allocs(inst);
                    self.inst(b, &f.insts[inst.index()], allocs)?;
                }
            }
            reloads::step(&mut self.held, f, self.out, &item, self.stores_reach_stack);
        }
        Ok(())
    }

    fn edit_move(&mut self, from: Allocation, to: Allocation) -> Result<()> {
        match (from.as_reg(), to.as_reg()) {
            (Some(_), Some(_)) => {
                let (s, d) = (alloc_reg(from)?, alloc_reg(to)?);
                if s != d {
                    self.push(Opcode::MoveReg, vec![r(d), r(s)]);
                }
            }
            (Some(_), None) => {
                let at = self.slot_offset(to).ok_or_else(|| CompileError::new("internal error: move to nowhere"))?;
                let from = alloc_reg(from)?;
                // A spill of the value the slot holds already is left out.
                let holds = to.as_stack().is_some_and(|s| self.held.holds(usize::from(from.index()), s.index()));
                if !(holds && self.held_at_start.is_some()) {
                    self.push(Opcode::StoreIndU64, vec![r(from), r(abi::SP), imm(at)]);
                }
            }
            (None, Some(_)) => {
                let at =
                    self.slot_offset(from).ok_or_else(|| CompileError::new("internal error: move from nowhere"))?;
                let to = alloc_reg(to)?;
                let slot = from.as_stack().map(|s| s.index());
                let holder = slot.and_then(|s| self.held.holder(s)).filter(|_| self.held_at_start.is_some());
                match holder {
                    // The register holds the slot already.
                    Some(_) if slot.is_some_and(|s| self.held.holds(usize::from(to.index()), s)) => {}
                    Some(h) => self.push(Opcode::MoveReg, vec![r(to), r(reg_of(h)?)]),
                    None => self.push(Opcode::LoadIndU64, vec![r(to), r(abi::SP), imm(at)]),
                }
            }
            (None, None) => return Err(CompileError::new("internal error: stack-to-stack move")),
        }
        Ok(())
    }

    fn inst(&mut self, b: usize, inst: &MInst, a: &[Allocation]) -> Result<()> {
        let reg = |i: usize| alloc_reg(a[i]);
        match inst {
            MInst::Args { .. } => {}
            MInst::LoadStackParam { index, .. } => {
                let offset = u64::from(self.frame) + 8 * u64::from(*index);
                self.push(Opcode::LoadIndU64, vec![r(reg(0)?), r(abi::SP), imm(offset)]);
            }
            MInst::Alu { op, .. } => self.push(*op, vec![r(reg(0)?), r(reg(1)?), r(reg(2)?)]),
            MInst::AluImm { op, imm: v, .. } => self.push(*op, vec![r(reg(0)?), r(reg(1)?), imm(*v)]),
            MInst::Unary { op, .. } => self.push(*op, vec![r(reg(0)?), r(reg(1)?)]),
            MInst::Cmov { op, .. } => self.push(*op, vec![r(reg(0)?), r(reg(2)?), r(reg(3)?)]),
            MInst::CmovImm { op, imm: v, .. } => self.push(*op, vec![r(reg(0)?), r(reg(2)?), imm(*v)]),
            MInst::LoadImm { value, .. } => {
                let opcode = if imm_len(*value).is_some() { Opcode::LoadImm } else { Opcode::LoadImm64 };
                self.push(opcode, vec![r(reg(0)?), imm(*value)]);
            }
            MInst::Move { .. } => {
                let (d, s) = (reg(0)?, reg(1)?);
                if d != s {
                    self.push(Opcode::MoveReg, vec![r(d), r(s)]);
                }
            }
            MInst::Load { op, base, offset, .. } => match base {
                Some(_) => self.push(*op, vec![r(reg(0)?), r(reg(1)?), imm(u64::from(*offset))]),
                None => self.push(absolute_load(*op), vec![r(reg(0)?), imm(u64::from(*offset))]),
            },
            MInst::Store { bytes, value, base, offset } => {
                let off = imm(u64::from(*offset));
                let (ind, imm_ind, abs, imm_abs) = store_opcodes(*bytes);
                match (value, base) {
                    (StoreValue::Reg(_), Some(_)) => self.push(ind, vec![r(reg(0)?), r(reg(1)?), off]),
                    (StoreValue::Reg(_), None) => self.push(abs, vec![r(reg(0)?), off]),
                    (StoreValue::Imm(v), Some(_)) => self.push(imm_ind, vec![r(reg(0)?), off, imm(*v)]),
                    (StoreValue::Imm(v), None) => self.push(imm_abs, vec![off, imm(*v)]),
                }
            }
            MInst::StoreStackArg { offset, .. } => {
                self.push(Opcode::StoreIndU64, vec![r(reg(0)?), r(abi::SP), imm(u64::from(*offset))]);
            }
            MInst::Call { target, results, args, .. } => {
                self.returns += 1;
                let ret = format!("{}.r{}", self.f.name, self.returns);
                match target {
                    CallTarget::Label(label) => {
                        self.push(
                            Opcode::LoadImmJump,
                            vec![r(abi::RA), Operand::jump_address(&ret), Operand::label(label)],
                        );
                    }
                    CallTarget::Table { base, .. } => {
                        let index = reg(results.len() + args.len())?;
                        self.push(
                            Opcode::LoadImmJumpInd,
                            vec![r(abi::RA), r(index), Operand::jump_address(&ret), imm(*base)],
                        );
                    }
                }
                self.items.push(Item::Label(ret));
            }
            MInst::Ecalli { index, .. } => self.push(Opcode::Ecalli, vec![imm(u64::from(*index))]),
            MInst::Jump { .. } => {
                let target = self.f.blocks[b].succs[0].index();
                if !self.falls_into(b, target) {
                    self.push(Opcode::Jump, vec![Operand::label(self.label(target))]);
                }
            }
            MInst::Branch { pred, b: rhs, taken, not_taken, .. } => {
                let succs = &self.f.blocks[b].succs;
                let (t, n) = (succs[*taken].index(), succs[*not_taken].index());
                let a0 = reg(0)?;
                let rhs = match rhs {
                    Rhs::Reg(_) => BranchRhs::Reg(reg(1)?),
                    Rhs::Imm(v) => BranchRhs::Imm(*v),
                };
                if self.falls_into(b, t) {
                    self.branch(pred.inverse(), a0, rhs, n);
                } else if self.back_edge_first(b, n, t) {
                    // A loop's back edge is the conditional branch, so that an iteration
                    // runs one control instruction; the exit jumps.
                    self.branch(pred.inverse(), a0, rhs, n);
                    self.push(Opcode::Jump, vec![Operand::label(self.label(t))]);
                } else {
                    self.branch(*pred, a0, rhs, t);
                    if !self.falls_into(b, n) {
                        self.push(Opcode::Jump, vec![Operand::label(self.label(n))]);
                    }
                }
            }
            MInst::Switch { kind, default } => {
                let succs = self.f.blocks[b].succs.clone();
                let default = succs[*default].index();
                match kind {
                    SwitchKind::Table { len, base, .. } => {
                        let (index, doubled) = (reg(0)?, reg(1)?);
                        self.push(Opcode::BranchGeUImm, vec![r(index), imm(*len), Operand::label(self.label(default))]);
                        self.push(Opcode::JumpInd, vec![r(doubled), imm(*base)]);
                    }
                    SwitchKind::Compare { cases, .. } => {
                        let value = reg(0)?;
                        // Wide case values come in registers, after the value.
                        let mut wide = 1;
                        for &(c, s) in cases {
                            let target = Operand::label(self.label(succs[s].index()));
                            if imm_len(c).is_some() {
                                self.push(Opcode::BranchEqImm, vec![r(value), imm(c), target]);
                            } else {
                                self.push(Opcode::BranchEq, vec![r(value), r(reg(wide)?), target]);
                                wide += 1;
                            }
                        }
                        if !self.falls_into(b, default) {
                            self.push(Opcode::Jump, vec![Operand::label(self.label(default))]);
                        }
                    }
                }
            }
            MInst::Return { values } => {
                for &(reg, offset) in &self.saved.clone() {
                    self.push(Opcode::LoadIndU64, vec![r(reg), r(abi::SP), imm(offset.into())]);
                }
                self.adjust_sp(i64::from(self.frame));
                if self.f.is_entry {
                    // The result: r8 = the high half of the packed value (the end, or the
                    // length), r7 = the start; the reference reads r7's low 32 bits, the
                    // Gray Paper all 64. A constant result comes split already.
                    let (r7, r8) = (abi::reg(abi::RESULT_REGS[0]), abi::reg(abi::RESULT_REGS[1]));
                    if values.len() == 1 {
                        self.push(Opcode::ShloRImm64, vec![r(r8), r(r7), imm(32)]);
                        if self.gray_paper_result {
                            self.push(Opcode::ShloLImm64, vec![r(r7), r(r7), imm(32)]);
                            self.push(Opcode::ShloRImm64, vec![r(r7), r(r7), imm(32)]);
                        }
                    }
                    if self.has_calls {
                        // Calls overwrote r0, which held the halt address.
                        self.push(
                            Opcode::LoadImm,
                            vec![r(abi::RA), imm(u64::from(pvm_isa::spi::HALT_ADDRESS) as u32 as i32 as i64 as u64)],
                        );
                    }
                }
                self.push(Opcode::JumpInd, vec![r(abi::RA), imm(0)]);
            }
            MInst::Trap => self.push(Opcode::Trap, vec![]),
            MInst::AddressCheck { outside, zone, .. } => {
                let address = reg(0)?;
                // A check that may let an argument through has a rare path of its own;
                // the others share the function's trap.
                let rare = match zone {
                    Some(_) => format!("{}.c{}", self.f.name, self.checks),
                    None => self.shared_trap(),
                };
                self.checks += 1;
                match outside {
                    // An address above 2^31 - 1 is negative (registers hold 32-bit values
                    // sign-extended): a test of the sign needs no immediate.
                    Outside::Above(0x7fff_ffff) => {
                        self.push(Opcode::BranchLtSImm, vec![r(address), imm(0), Operand::label(&rare)])
                    }
                    Outside::Above(limit) => {
                        self.push(Opcode::BranchGtUImm, vec![r(address), imm(*limit), Operand::label(&rare)])
                    }
                    Outside::Flag(_) => self.push(Opcode::BranchNeImm, vec![r(reg(1)?), imm(0), Operand::label(&rare)]),
                }
                if let Some(zone) = zone {
                    // Back to the access when the address is in the argument zone (or, for
                    // an offset check, in memory).
                    let back = format!("{rare}.back");
                    let trap = self.shared_trap();
                    self.items.push(Item::Label(back.clone()));
                    let branch =
                        |opcode, bound: u64, to: &str| op(opcode, vec![r(address), imm(bound), Operand::label(to)]);
                    self.rare_paths.push(Item::Label(rare));
                    match *zone {
                        Zone::Address { low, high } => self.rare_paths.extend([
                            branch(Opcode::BranchGeUImm, high, &trap),
                            branch(Opcode::BranchGeUImm, low, &back),
                        ]),
                        Zone::Offset { below, memory: (first, last) } => {
                            self.rare_paths.extend(below.map(|below| branch(Opcode::BranchGeUImm, below, &back)));
                            self.rare_paths.extend([
                                branch(Opcode::BranchLtUImm, first, &trap),
                                branch(Opcode::BranchLeUImm, last, &back),
                            ]);
                        }
                    }
                    self.rare_paths.push(op(Opcode::Trap, vec![]));
                }
            }
        }
        Ok(())
    }

    /// The label of the trap the function's address checks share.
    fn shared_trap(&mut self) -> String {
        self.trap_used = true;
        format!("{}.trap", self.f.name)
    }

    fn branch(&mut self, pred: Pred, a: Reg, rhs: BranchRhs, target: usize) {
        let label = Operand::label(self.label(target));
        match rhs {
            BranchRhs::Imm(v) => {
                let opcode = match pred {
                    Pred::Eq => Opcode::BranchEqImm,
                    Pred::Ne => Opcode::BranchNeImm,
                    Pred::Ult => Opcode::BranchLtUImm,
                    Pred::Ule => Opcode::BranchLeUImm,
                    Pred::Uge => Opcode::BranchGeUImm,
                    Pred::Ugt => Opcode::BranchGtUImm,
                    Pred::Slt => Opcode::BranchLtSImm,
                    Pred::Sle => Opcode::BranchLeSImm,
                    Pred::Sge => Opcode::BranchGeSImm,
                    Pred::Sgt => Opcode::BranchGtSImm,
                };
                self.push(opcode, vec![r(a), imm(v), label]);
            }
            BranchRhs::Reg(b) => {
                // Register forms exist for eq, ne, lt and ge; gt and le swap operands.
                let (opcode, x, y) = match pred {
                    Pred::Eq => (Opcode::BranchEq, a, b),
                    Pred::Ne => (Opcode::BranchNe, a, b),
                    Pred::Ult => (Opcode::BranchLtU, a, b),
                    Pred::Uge => (Opcode::BranchGeU, a, b),
                    Pred::Slt => (Opcode::BranchLtS, a, b),
                    Pred::Sge => (Opcode::BranchGeS, a, b),
                    Pred::Ugt => (Opcode::BranchLtU, b, a),
                    Pred::Ule => (Opcode::BranchGeU, b, a),
                    Pred::Sgt => (Opcode::BranchLtS, b, a),
                    Pred::Sle => (Opcode::BranchGeS, b, a),
                };
                self.push(opcode, vec![r(x), r(y), label]);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum BranchRhs {
    Reg(Reg),
    Imm(u64),
}

/// The absolute-address form of an indirect load.
fn absolute_load(op: Opcode) -> Opcode {
    match op {
        Opcode::LoadIndU8 => Opcode::LoadU8,
        Opcode::LoadIndI8 => Opcode::LoadI8,
        Opcode::LoadIndU16 => Opcode::LoadU16,
        Opcode::LoadIndI16 => Opcode::LoadI16,
        Opcode::LoadIndU32 => Opcode::LoadU32,
        Opcode::LoadIndI32 => Opcode::LoadI32,
        _ => Opcode::LoadU64,
    }
}

/// (store_ind, store_imm_ind, store, store_imm) opcodes for a width.
fn store_opcodes(bytes: u32) -> (Opcode, Opcode, Opcode, Opcode) {
    match bytes {
        1 => (Opcode::StoreIndU8, Opcode::StoreImmIndU8, Opcode::StoreU8, Opcode::StoreImmU8),
        2 => (Opcode::StoreIndU16, Opcode::StoreImmIndU16, Opcode::StoreU16, Opcode::StoreImmU16),
        4 => (Opcode::StoreIndU32, Opcode::StoreImmIndU32, Opcode::StoreU32, Opcode::StoreImmU32),
        _ => (Opcode::StoreIndU64, Opcode::StoreImmIndU64, Opcode::StoreU64, Opcode::StoreImmU64),
    }
}

/// Code that ends in an unconditional `jump` followed by the code it jumps to, without the
/// jump. The items fall into runs that end in an unconditional control transfer (`jump`,
/// `jump_ind`, `trap`): nothing falls from one run into the next, so the runs may go in
/// any order but the first (the function's entry). Run by run, in their order, a run that
/// ends in `jump L`, where `L` starts a run not yet placed, is followed by that run, and
/// its jump is dropped; otherwise the next run in order follows. Every jump dropped is
/// one instruction less on its path, and no other path changes.
fn place_jump_targets(items: Vec<Item>) -> Vec<Item> {
    let ends_run = |item: &Item| matches!(item, Item::Instruction(i) if matches!(i.opcode, Opcode::Jump | Opcode::JumpInd | Opcode::Trap));
    let mut runs: Vec<Vec<Item>> = vec![Vec::new()];
    for item in items {
        let ends = ends_run(&item);
        runs.last_mut().expect("a run").push(item);
        if ends {
            runs.push(Vec::new());
        }
    }
    // The run each label starts (the labels before a run's first instruction).
    let mut starts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (k, run) in runs.iter().enumerate().skip(1) {
        for item in run {
            match item {
                Item::Label(l) => {
                    starts.insert(l.clone(), k);
                }
                _ => break,
            }
        }
    }
    let jump_target = |run: &[Item]| match run.last() {
        Some(Item::Instruction(i)) if i.opcode == Opcode::Jump => match i.operands.first() {
            Some(Operand::Target { target: pvm_asm::Target::Label(l), .. }) => Some(l.clone()),
            _ => None,
        },
        _ => None,
    };
    let mut placed = vec![false; runs.len()];
    let mut order = Vec::with_capacity(runs.len());
    let mut next_in_order = 0;
    let mut current = Some(0);
    while let Some(k) = current {
        placed[k] = true;
        order.push(k);
        current = jump_target(&runs[k]).and_then(|l| starts.get(&l).copied()).filter(|&t| !placed[t]).or_else(|| {
            while next_in_order < runs.len() && placed[next_in_order] {
                next_in_order += 1;
            }
            (next_in_order < runs.len()).then_some(next_in_order)
        });
    }
    let mut out = Vec::new();
    for (n, &k) in order.iter().enumerate() {
        let mut run = std::mem::take(&mut runs[k]);
        let falls_to_next =
            jump_target(&run).is_some_and(|l| order.get(n + 1).is_some_and(|&t| starts.get(&l) == Some(&t)));
        if falls_to_next {
            run.pop();
        }
        out.extend(run);
    }
    out
}

/// How far (in estimated bytes) a branch reaches with a one-byte offset, less a margin
/// for the error of the estimate and the traps inserted.
const NEAR: usize = 96;

/// The address checks' branches to the function's shared trap (`trap`) that lie too far
/// from it for a one-byte offset branch to a nearer `trap` instead: one that code already
/// has after a label, or one inserted between two runs of code (after an unconditional
/// `jump`, `jump_ind` or `trap`, where nothing falls into it) when at least two checks
/// use it. Each such check is a byte shorter (`branch_lt_s_imm a, 0, L`: 3 bytes instead
/// of 4); an inserted trap costs one. Positions are estimates ([`estimated_len`]).
fn near_traps(mut items: Vec<Item>, trap: &str) -> Vec<Item> {
    let mut at = Vec::with_capacity(items.len() + 1);
    let mut offset = 0;
    for item in &items {
        at.push(offset);
        if let Item::Instruction(i) = item {
            offset += estimated_len(i);
        }
    }
    at.push(offset);
    let is_trap = |item: Option<&Item>| matches!(item, Some(Item::Instruction(i)) if i.opcode == Opcode::Trap);
    let targets_trap = |item: &Item| match item {
        Item::Instruction(i) => {
            matches!(i.operands.last(), Some(Operand::Target { target: pvm_asm::Target::Label(l), .. }) if l == trap)
        }
        _ => false,
    };
    // Traps already there (a label followed by `trap`), and places for new ones.
    let mut existing: Vec<(usize, String)> = Vec::new();
    let mut places: Vec<usize> = Vec::new();
    for k in 0..items.len() {
        if let Item::Label(l) = &items[k]
            && is_trap(items[k + 1..].iter().find(|i| !matches!(i, Item::Label(_))))
        {
            existing.push((at[k], l.clone()));
        }
        let after_terminator = k > 0
            && matches!(&items[k - 1], Item::Instruction(i) if matches!(i.opcode, Opcode::Jump | Opcode::JumpInd | Opcode::Trap));
        if after_terminator && matches!(items[k], Item::Label(_)) {
            places.push(k);
        }
    }
    let checks: Vec<usize> = (0..items.len()).filter(|&k| targets_trap(&items[k])).collect();
    let near = |a: usize, b: usize| a.abs_diff(b) <= NEAR;
    let mut retarget: Vec<(usize, String)> = Vec::new();
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let mut covered = vec![false; checks.len()];
    for n in 0..checks.len() {
        if covered[n] {
            continue;
        }
        let c = at[checks[n]];
        if let Some((_, label)) = existing.iter().find(|(t, _)| near(*t, c)) {
            covered[n] = true;
            retarget.push((checks[n], label.clone()));
            continue;
        }
        // The farthest place forward that reaches this check covers the most after it.
        let Some(&place) = places.iter().rev().find(|&&p| near(at[p], c)) else { continue };
        let users: Vec<usize> = (n..checks.len()).filter(|&m| !covered[m] && near(at[place], at[checks[m]])).collect();
        if users.len() < 2 {
            continue;
        }
        let label = format!("{trap}{}", inserts.len());
        for m in users {
            covered[m] = true;
            retarget.push((checks[m], label.clone()));
        }
        inserts.push((place, label));
    }
    for (k, label) in retarget {
        if let Item::Instruction(i) = &mut items[k]
            && let Some(last) = i.operands.last_mut()
        {
            *last = Operand::label(label);
        }
    }
    inserts.sort_by_key(|(place, _)| std::cmp::Reverse(*place));
    for (place, label) in inserts {
        items.splice(place..place, [Item::Label(label), op(Opcode::Trap, vec![])]);
    }
    items
}

/// An instruction's length, estimated for [`near_traps`]: the opcode, the register
/// bytes, each immediate in its fewest bytes, a label's address in two and a branch
/// offset in two.
fn estimated_len(i: &AsmInstruction) -> usize {
    if i.opcode == Opcode::LoadImm64 {
        return 10;
    }
    let regs = i.operands.iter().filter(|o| matches!(o, Operand::Reg(_))).count();
    let fields: usize = i
        .operands
        .iter()
        .map(|o| match o {
            Operand::Reg(_) => 0,
            Operand::Imm { value: pvm_asm::Value::Const(v), .. } => {
                imm_len(*v as u32 as i32 as i64 as u64).unwrap_or(4)
            }
            Operand::Imm { .. } | Operand::Target { .. } => 2,
        })
        .sum();
    let length_byte = usize::from(regs == 0 && i.operands.len() > 1);
    1 + regs.div_ceil(2) + fields + length_byte
}

/// Inserts `fallthrough` before every referenced label that code can fall into without
/// a terminator, so that it starts a basic block (a jump target must, in the PVM).
pub fn insert_block_starts(items: &mut Vec<Item>, referenced: &std::collections::HashSet<String>) {
    let mut out = Vec::with_capacity(items.len() + items.len() / 8);
    let mut after_terminator = true;
    for item in items.drain(..) {
        match &item {
            Item::Label(name) => {
                if referenced.contains(name) && !after_terminator {
                    out.push(op(Opcode::Fallthrough, vec![]));
                    after_terminator = true;
                }
            }
            Item::Instruction(i) => after_terminator = i.opcode.is_terminator(),
            Item::Insn(_) | Item::Bytes(_) => after_terminator = false,
            Item::Comment(_) => {}
        }
        out.push(item);
    }
    *items = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_checks_branch_to_a_trap_placed_near_them() {
        let label = |l: &str| Item::Label(l.into());
        let check =
            |reg: u8, to: &str| op(Opcode::BranchLtSImm, vec![r(Reg::new(reg).unwrap()), imm(0), Operand::label(to)]);
        let filler = || op(Opcode::LoadImm, vec![r(Reg::new(9).unwrap()), imm(0x1234_5678)]);
        let body = |checks: [Item; 3], near: Vec<Item>| {
            let [a, b, c] = checks;
            let mut items = vec![label("f"), a, b, op(Opcode::Jump, vec![Operand::label("f.b1")]), label("f.b0"), c];
            items.push(op(Opcode::Jump, vec![Operand::label("f.b1")]));
            items.extend(near);
            items.push(label("f.b1"));
            items.extend((0..40).map(|_| filler()));
            items.extend([op(Opcode::JumpInd, vec![r(abi::RA), imm(0)]), label("f.trap"), op(Opcode::Trap, vec![])]);
            items
        };
        let far = [check(7, "f.trap"), check(8, "f.trap"), check(10, "f.trap")];
        let near = [check(7, "f.trap0"), check(8, "f.trap0"), check(10, "f.trap0")];
        assert_eq!(
            near_traps(body(far.clone(), vec![]), "f.trap"),
            body(near, vec![label("f.trap0"), op(Opcode::Trap, vec![])])
        );
        // One far check alone keeps the shared trap: a trap of its own would cost the byte
        // it saves.
        let one = |items: Vec<Item>| {
            items.into_iter().filter(|i| !matches!(i, Item::Instruction(x) if x.opcode == Opcode::BranchLtSImm && x.operands[0] != r(Reg::new(7).unwrap()))).collect::<Vec<_>>()
        };
        assert_eq!(near_traps(one(body(far.clone(), vec![])), "f.trap"), one(body(far, vec![])));
    }

    #[test]
    fn code_that_jumps_is_followed_by_its_target() {
        let label = |l: &str| Item::Label(l.into());
        let jump = |l: &str| op(Opcode::Jump, vec![Operand::label(l)]);
        let trap = || op(Opcode::Trap, vec![]);
        let branch = |l: &str| op(Opcode::BranchEqImm, vec![r(Reg::new(7).unwrap()), imm(0), Operand::label(l)]);
        let items = vec![
            label("f"),
            branch("f.b2"),
            jump("f.b3"),
            label("f.b1"),
            op(Opcode::JumpInd, vec![r(abi::RA), imm(0)]),
            label("f.b2"),
            trap(),
            label("f.b3"),
            jump("f.b1"),
            label("f.b4"),
            jump("f.b4"),
        ];
        assert_eq!(
            place_jump_targets(items),
            vec![
                label("f"),
                branch("f.b2"),
                label("f.b3"),
                label("f.b1"),
                op(Opcode::JumpInd, vec![r(abi::RA), imm(0)]),
                label("f.b2"),
                trap(),
                label("f.b4"),
                jump("f.b4"),
            ]
        );
    }

    #[test]
    fn a_frame_larger_than_half_the_stack_guard_is_an_error() {
        let ctx = test_context();
        let f = MFunction::new("big".into(), false, vec![], vec![], 0, 32 * 1024 + 8);
        let e = emit(&f, &Output::default(), &ctx).err().expect("an error");
        assert_eq!(
            e.to_string(),
            "function big: its stack frame (32776 bytes) exceeds the 32768 bytes the stack guard allows"
        );
        let spills = Output { num_spillslots: 4097, ..Output::default() };
        let f = MFunction::new("spills".into(), false, vec![], vec![], 0, 0);
        let e = emit(&f, &spills, &ctx).err().expect("an error");
        assert!(e.to_string().contains("(32776 bytes)"), "{e}");
    }
}

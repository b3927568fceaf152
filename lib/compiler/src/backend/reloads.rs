//! Reloads of spilled values that a register already holds.
//!
//! `regalloc2` reloads a spilled value from its stack slot before each use that needs it
//! in a register, even when an earlier reload (or the spill itself) left it in a
//! register that nothing has written since: the nested interpreter's run loop reloaded
//! its `this` pointer eleven times per inner instruction, twice in a row across a jump.
//! Here, per program point, is what each register holds of the spill slots, the meet
//! over a block's predecessors at its start; the emitter then leaves out a reload into a
//! register that holds the slot already, and turns one whose slot another register holds
//! into a `move_reg` (2 bytes instead of 3), and a spill of a register into the slot it
//! was loaded from (nothing having written either since).
//!
//! A register stops holding its slot when anything writes the register (a definition, a
//! call's clobbers) or the slot (a spill of another value, and, when memory accesses are
//! unchecked, any store: an address far out of bounds may then reach the stack).

use crate::backend::mir::{MFunction, MInst};
use regalloc2::{Allocation, Block, Edit, InstOrEdit, OperandKind, Output};

/// The number of PVM registers.
const REGS: usize = 13;

/// For each register, the spill slot whose value it holds, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Held([Option<usize>; REGS]);

impl Held {
    /// The register holding `slot`, if one does.
    pub fn holder(&self, slot: usize) -> Option<usize> {
        self.0.iter().position(|&s| s == Some(slot))
    }

    /// Whether register `reg` holds `slot`.
    pub fn holds(&self, reg: usize, slot: usize) -> bool {
        self.0[reg] == Some(slot)
    }

    /// What both hold.
    fn meet(&self, other: &Held) -> Held {
        let mut held = *self;
        for (mine, theirs) in held.0.iter_mut().zip(other.0) {
            if *mine != theirs {
                *mine = None;
            }
        }
        held
    }

    /// After a move between registers and slots (`regalloc2`'s edits).
    pub fn edit(&mut self, from: Allocation, to: Allocation) {
        match (from.as_reg(), from.as_stack(), to.as_reg(), to.as_stack()) {
            (Some(s), _, Some(d), _) => self.0[d.hw_enc()] = self.0[s.hw_enc()],
            (Some(s), _, _, Some(slot)) => {
                self.forget_slot(slot.index());
                self.0[s.hw_enc()] = Some(slot.index());
            }
            (_, Some(slot), Some(d), _) => self.0[d.hw_enc()] = Some(slot.index()),
            _ => {}
        }
    }

    /// After instruction `inst`, whose operands have the allocations `allocs`.
    /// `stores_reach_stack`: whether a store to memory may write a spill slot.
    pub fn inst(
        &mut self,
        inst: &MInst,
        operands: &[regalloc2::Operand],
        allocs: &[Allocation],
        stores_reach_stack: bool,
    ) {
        if inst.is_call()
            || matches!(inst, MInst::Ecalli { .. })
            || (stores_reach_stack && matches!(inst, MInst::Store { .. }))
        {
            *self = Held::default();
            return;
        }
        for (operand, alloc) in operands.iter().zip(allocs) {
            if operand.kind() == OperandKind::Def
                && let Some(reg) = alloc.as_reg()
            {
                self.0[reg.hw_enc()] = None;
            }
        }
    }

    fn forget_slot(&mut self, slot: usize) {
        for held in &mut self.0 {
            if *held == Some(slot) {
                *held = None;
            }
        }
    }
}

/// Steps `held` over one instruction or edit of `f`.
pub fn step(held: &mut Held, f: &MFunction, out: &Output, item: &InstOrEdit<'_>, stores_reach_stack: bool) {
    match item {
        InstOrEdit::Edit(Edit::Move { from, to }) => held.edit(*from, *to),
        InstOrEdit::Inst(inst) => {
            let i = inst.index();
            held.inst(&f.insts[i], f.inst_operands_of(i), out.inst_allocs(*inst), stores_reach_stack);
        }
    }
}

/// What the registers hold at the start of each block: nothing at the entry, the meet
/// over the predecessors elsewhere.
pub fn at_block_starts(f: &MFunction, out: &Output, stores_reach_stack: bool) -> Vec<Held> {
    let n = f.blocks.len();
    let mut at_end: Vec<Option<Held>> = vec![None; n];
    let mut at_start = vec![Held::default(); n];
    let mut changed = true;
    while changed {
        changed = false;
        for b in 0..n {
            let start = if b == 0 {
                Held::default()
            } else {
                // Predecessors not yet stepped over may hold anything: they are met when
                // they have been (every block is reachable from the entry).
                let mut known = f.blocks[b].preds.iter().filter_map(|p| at_end[p.index()]);
                let Some(first) = known.next() else { continue };
                known.fold(first, |held, other| held.meet(&other))
            };
            at_start[b] = start;
            let mut held = start;
            for item in out.block_insts_and_edits(f, Block::new(b)) {
                step(&mut held, f, out, &item, stores_reach_stack);
            }
            if at_end[b] != Some(held) {
                at_end[b] = Some(held);
                changed = true;
            }
        }
    }
    at_start
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::mir::preg;
    use regalloc2::SpillSlot;

    fn reg(n: u8) -> Allocation {
        Allocation::reg(preg(n))
    }

    fn slot(n: usize) -> Allocation {
        Allocation::stack(SpillSlot::new(n))
    }

    #[test]
    fn registers_hold_slots_until_either_is_written() {
        let mut held = Held::default();
        held.edit(slot(2), reg(7));
        held.edit(reg(7), reg(9));
        assert_eq!((held.holder(2), held.holds(9, 2)), (Some(7), true));
        // Another value spilled to the slot: only its register holds it now.
        held.edit(reg(3), slot(2));
        assert_eq!((held.holds(7, 2), held.holds(9, 2), held.holder(2)), (false, false, Some(3)));
        // A definition of the register.
        let def = [regalloc2::Operand::reg_def(regalloc2::VReg::new(0, regalloc2::RegClass::Int))];
        let inst = MInst::LoadImm { dst: regalloc2::VReg::new(0, regalloc2::RegClass::Int), value: 1 };
        held.inst(&inst, &def, &[reg(3)], false);
        assert_eq!(held.holder(2), None);
        // A store to memory forgets everything only when it may reach the stack.
        held.edit(slot(1), reg(4));
        let store = MInst::Store { bytes: 4, value: crate::backend::mir::StoreValue::Imm(0), base: None, offset: 0 };
        held.inst(&store, &[], &[], false);
        assert_eq!(held.holder(1), Some(4));
        held.inst(&store, &[], &[], true);
        assert_eq!(held.holder(1), None);
        // The meet keeps what both hold.
        let (mut a, mut b) = (Held::default(), Held::default());
        a.edit(slot(1), reg(4));
        a.edit(slot(2), reg(5));
        b.edit(slot(1), reg(4));
        b.edit(slot(2), reg(6));
        let both = a.meet(&b);
        assert_eq!((both.holder(1), both.holder(2)), (Some(4), None));
    }
}

//! Dead instructions: those instruction selection emitted whose result nothing reads.
//!
//! Selection lowers each LLVM instruction on its own, and some of what it emits ends up
//! unread: a `trunc` whose only user, a narrow store, stores the wide register itself
//! (`sign_extend_8`), a constant only an immediate operand needed, an operand of another
//! dead instruction. Such an instruction would still take a register and run. Here every
//! instruction that only computes a register (no memory access, no control flow, no
//! fixed register) and whose register nothing reads (no instruction, no block argument)
//! is removed, until none is left.

use crate::backend::mir::{BlockDraft, MInst};
use regalloc2::{OperandKind, VReg};

/// Removes the dead instructions of a function's blocks; returns how many it removed.
pub fn remove(blocks: &mut [BlockDraft]) -> usize {
    let mut reads: Vec<u32> = Vec::new();
    let mut operands = Vec::new();
    for block in blocks.iter() {
        for inst in &block.insts {
            operands.clear();
            inst.operands(&mut operands);
            for o in operands.iter().filter(|o| o.kind() == OperandKind::Use) {
                count(o.vreg(), &mut reads, 1);
            }
        }
        for v in block.succs.iter().flat_map(|(_, args)| args) {
            count(*v, &mut reads, 1);
        }
    }
    let mut removed = 0;
    loop {
        let before = removed;
        for block in blocks.iter_mut() {
            let mut kept = Vec::with_capacity(block.insts.len());
            for inst in block.insts.drain(..) {
                match pure_def(&inst) {
                    Some(dst) if reads.get(dst.vreg()).copied().unwrap_or(0) == 0 => {
                        operands.clear();
                        inst.operands(&mut operands);
                        for o in operands.iter().filter(|o| o.kind() == OperandKind::Use) {
                            count(o.vreg(), &mut reads, -1);
                        }
                        removed += 1;
                    }
                    _ => kept.push(inst),
                }
            }
            block.insts = kept;
        }
        if removed == before {
            return removed;
        }
    }
}

/// Adds `delta` to the count of reads of `v`.
fn count(v: VReg, reads: &mut Vec<u32>, delta: i32) {
    if reads.len() <= v.vreg() {
        reads.resize(v.vreg() + 1, 0);
    }
    reads[v.vreg()] = reads[v.vreg()].saturating_add_signed(delta);
}

/// The register an instruction writes, if writing it is all the instruction does.
fn pure_def(inst: &MInst) -> Option<VReg> {
    match inst {
        MInst::LoadImm { dst, .. }
        | MInst::LoadStackParam { dst, .. }
        | MInst::Alu { dst, .. }
        | MInst::AluImm { dst, .. }
        | MInst::Unary { dst, .. }
        | MInst::Move { dst, .. }
        | MInst::Cmov { dst, .. }
        | MInst::CmovImm { dst, .. } => Some(*dst),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvm_isa::Opcode;
    use regalloc2::RegClass;

    fn v(n: usize) -> VReg {
        VReg::new(n, RegClass::Int)
    }

    #[test]
    fn removes_unread_results_and_what_only_they_read() {
        let mut blocks = vec![BlockDraft {
            label: "b0".into(),
            insts: vec![
                MInst::LoadImm { dst: v(0), value: 7 },
                MInst::Unary { op: Opcode::SignExtend8, dst: v(1), src: v(0) },
                MInst::AluImm { op: Opcode::AddImm32, dst: v(2), src: v(1), imm: 1 },
                MInst::LoadImm { dst: v(3), value: 9 },
                MInst::Store { bytes: 1, value: crate::backend::mir::StoreValue::Reg(v(3)), base: None, offset: 0 },
                MInst::LoadImm { dst: v(4), value: 5 },
                MInst::Jump { target: 1, args: vec![v(4)] },
            ],
            params: vec![],
            succs: vec![(1, vec![v(4)])],
        }];
        assert_eq!(remove(&mut blocks), 3);
        assert_eq!(
            blocks[0].insts,
            vec![
                MInst::LoadImm { dst: v(3), value: 9 },
                MInst::Store { bytes: 1, value: crate::backend::mir::StoreValue::Reg(v(3)), base: None, offset: 0 },
                MInst::LoadImm { dst: v(4), value: 5 },
                MInst::Jump { target: 1, args: vec![v(4)] },
            ]
        );
    }
}

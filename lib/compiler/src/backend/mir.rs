//! MIR: PVM instructions over virtual registers, in blocks, as instruction selection
//! produces them and `regalloc2` allocates them. Every instruction says which virtual
//! registers it reads and writes and which physical registers it needs ([`MInst::operands`]);
//! the emitter turns the allocated result into assembly.

use crate::abi;
use crate::backend::lir::Pred;
use pvm_isa::Opcode;
use regalloc2::{Block, Inst, InstRange, Operand, PReg, PRegSet, RegClass, VReg};

/// Physical register `n` of the integer class.
pub fn preg(n: u8) -> PReg {
    PReg::new(n as usize, RegClass::Int)
}

/// The right-hand side of a compare-and-branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rhs {
    /// A register.
    Reg(VReg),
    /// A sign-extended 32-bit immediate.
    Imm(u64),
}

/// The value a store writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreValue {
    /// A register.
    Reg(VReg),
    /// An immediate (its low bytes are stored).
    Imm(u64),
}

/// What a call reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallTarget {
    /// A label (a function or runtime routine).
    Label(String),
    /// An entry of the dynamic jump table: the doubled index register plus a base
    /// dynamic-jump address.
    Table {
        /// Register holding `2 × table index`.
        doubled_index: VReg,
        /// Dynamic-jump address of table slot 0.
        base: u64,
    },
}

/// How a switch dispatches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchKind {
    /// Through a region of the jump table: `index` is `value - min`, `doubled` is
    /// `2 × index`; indices `>= len` go to the default.
    Table {
        /// `value - min`.
        index: VReg,
        /// `2 × index`.
        doubled: VReg,
        /// Number of table entries.
        len: u64,
        /// Dynamic-jump address of entry 0.
        base: u64,
        /// Successor index (into the block's successors) for each entry.
        entries: Vec<usize>,
    },
    /// A chain of compares on the value: (case value, successor index).
    Compare {
        /// The value switched on.
        value: VReg,
        /// Cases in order.
        cases: Vec<(u64, usize)>,
        /// The case values an immediate cannot hold, in registers, in the order of
        /// their cases.
        wide: Vec<VReg>,
    },
}

/// A MIR instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MInst {
    /// Defines the parameters and the return address at function entry.
    Args {
        /// (register, where it arrives).
        defs: Vec<(VReg, PReg)>,
    },
    /// Loads stack parameter `index` (beyond the register parameters).
    LoadStackParam {
        /// Destination.
        dst: VReg,
        /// Stack parameter index.
        index: u32,
    },
    /// `op rD, rA, rB` (three-register format).
    Alu {
        /// Opcode.
        op: Opcode,
        /// rD.
        dst: VReg,
        /// rA.
        a: VReg,
        /// rB.
        b: VReg,
    },
    /// `op rA, rB, imm` (two registers and an immediate: rA is written).
    AluImm {
        /// Opcode.
        op: Opcode,
        /// rA.
        dst: VReg,
        /// rB.
        src: VReg,
        /// Immediate.
        imm: u64,
    },
    /// `op rD, rA` (two-register format).
    Unary {
        /// Opcode.
        op: Opcode,
        /// rD.
        dst: VReg,
        /// rA.
        src: VReg,
    },
    /// `cmov_iz`/`cmov_nz rD, rA, rB`: `dst` starts as `old`.
    Cmov {
        /// Opcode.
        op: Opcode,
        /// Destination (same register as `old`).
        dst: VReg,
        /// Value when the condition fails.
        old: VReg,
        /// Value when the condition holds.
        value: VReg,
        /// Condition register.
        cond: VReg,
    },
    /// `cmov_iz_imm`/`cmov_nz_imm rA, rB, imm`: `dst` starts as `old`.
    CmovImm {
        /// Opcode.
        op: Opcode,
        /// Destination (same register as `old`).
        dst: VReg,
        /// Value when the condition fails.
        old: VReg,
        /// Condition register.
        cond: VReg,
        /// Value when the condition holds.
        imm: u64,
    },
    /// Loads a constant.
    LoadImm {
        /// Destination.
        dst: VReg,
        /// Value.
        value: u64,
    },
    /// Register copy.
    Move {
        /// Destination.
        dst: VReg,
        /// Source.
        src: VReg,
    },
    /// A load: `load_ind_* dst, base, offset`, or `load_* dst, offset` without a base.
    Load {
        /// The indirect form of the load opcode.
        op: Opcode,
        /// Destination.
        dst: VReg,
        /// Base register.
        base: Option<VReg>,
        /// Offset (an address without a base).
        offset: u32,
    },
    /// A store: `store_ind_*`/`store_imm_ind_*` with a base, `store_*`/`store_imm_*` without.
    Store {
        /// Access width in bytes.
        bytes: u32,
        /// Value.
        value: StoreValue,
        /// Base register.
        base: Option<VReg>,
        /// Offset.
        offset: u32,
    },
    /// Stores an outgoing stack argument at `sp + offset`.
    StoreStackArg {
        /// Value.
        value: VReg,
        /// Byte offset from the stack pointer.
        offset: u32,
    },
    /// A call.
    Call {
        /// Where.
        target: CallTarget,
        /// Arguments in fixed registers.
        args: Vec<(VReg, PReg)>,
        /// Results in fixed registers.
        results: Vec<(VReg, PReg)>,
        /// Registers the call destroys.
        clobbers: PRegSet,
    },
    /// A host call.
    Ecalli {
        /// Host-call index.
        index: u32,
        /// Arguments in fixed registers.
        args: Vec<(VReg, PReg)>,
        /// Results in fixed registers.
        results: Vec<(VReg, PReg)>,
        /// Registers the host may change.
        clobbers: PRegSet,
    },
    /// Unconditional branch (terminator).
    Jump {
        /// Successor block.
        target: usize,
        /// Block arguments.
        args: Vec<VReg>,
    },
    /// Compare and branch (terminator): to `taken` if `a pred b`, else `not_taken`.
    Branch {
        /// Comparison.
        pred: Pred,
        /// Left operand.
        a: VReg,
        /// Right operand.
        b: Rhs,
        /// Successor when true.
        taken: usize,
        /// Successor when false.
        not_taken: usize,
    },
    /// Multi-way branch (terminator) to the block's successors.
    Switch {
        /// Dispatch.
        kind: SwitchKind,
        /// Successor index of the default.
        default: usize,
    },
    /// Return (terminator); the return address is in r0.
    Return {
        /// Result registers: r7 alone (an entry's packed result, which the emitter splits
        /// into r7 and r8), or r7 and r8 (an entry's constant result, already split).
        values: Vec<(VReg, PReg)>,
    },
    /// Trap (terminator).
    Trap,
    /// An address check (`backend::address_check`): a branch to a rare path emitted at
    /// the end of the function, which comes back here or traps.
    AddressCheck {
        /// The WebAssembly address.
        address: VReg,
        /// When the rare path runs.
        outside: Outside,
        /// Where the rare path comes back to the access; `None`: it traps.
        zone: Option<Zone>,
    },
}

/// When an address check's rare path comes back to the access (`backend::address_check`);
/// bounds are canonical 32-bit values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The check's register is the address: back when `low <= address < high` (the
    /// argument zone).
    Address { low: u64, high: u64 },
    /// The check's register is `x`, the address `x + base` with `base` in the argument
    /// zone (the access folds `base` into its offset): back when the address lies in the
    /// zone below `base` (`x >= below`) or at most at the memory limit (`x` in
    /// `memory`, both ends included).
    Offset { below: Option<u64>, memory: (u64, u64) },
}

/// When an address check takes its rare path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// When the address is above this (canonical) limit.
    Above(u64),
    /// When this i1 value is 1.
    Flag(VReg),
}

impl MInst {
    /// Whether the instruction is a call (which overwrites r0).
    pub fn is_call(&self) -> bool {
        matches!(self, MInst::Call { .. })
    }

    /// Whether the instruction ends a block.
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            MInst::Jump { .. } | MInst::Branch { .. } | MInst::Switch { .. } | MInst::Return { .. } | MInst::Trap
        )
    }

    /// The register operands in a fixed order (the emitter reads allocations in the
    /// same order).
    pub fn operands(&self, out: &mut Vec<Operand>) {
        match self {
            MInst::Args { defs } => out.extend(defs.iter().map(|&(v, r)| Operand::reg_fixed_def(v, r))),
            MInst::LoadStackParam { dst, .. } | MInst::LoadImm { dst, .. } => out.push(Operand::reg_def(*dst)),
            MInst::Alu { dst, a, b, .. } => {
                out.extend([Operand::reg_def(*dst), Operand::reg_use(*a), Operand::reg_use(*b)]);
            }
            MInst::AluImm { dst, src, .. } | MInst::Unary { dst, src, .. } | MInst::Move { dst, src } => {
                out.extend([Operand::reg_def(*dst), Operand::reg_use(*src)]);
            }
            MInst::Cmov { dst, old, value, cond, .. } => {
                out.extend([
                    Operand::reg_reuse_def(*dst, 1),
                    Operand::reg_use(*old),
                    Operand::reg_use(*value),
                    Operand::reg_use(*cond),
                ]);
            }
            MInst::CmovImm { dst, old, cond, .. } => {
                out.extend([Operand::reg_reuse_def(*dst, 1), Operand::reg_use(*old), Operand::reg_use(*cond)]);
            }
            MInst::Load { dst, base, .. } => {
                out.push(Operand::reg_def(*dst));
                out.extend(base.map(Operand::reg_use));
            }
            MInst::Store { value, base, .. } => {
                if let StoreValue::Reg(v) = value {
                    out.push(Operand::reg_use(*v));
                }
                out.extend(base.map(Operand::reg_use));
            }
            MInst::StoreStackArg { value, .. } => out.push(Operand::reg_use(*value)),
            MInst::Call { target, args, results, .. } => {
                out.extend(results.iter().map(|&(v, r)| Operand::reg_fixed_def(v, r)));
                out.extend(args.iter().map(|&(v, r)| Operand::reg_fixed_use(v, r)));
                if let CallTarget::Table { doubled_index, .. } = target {
                    out.push(Operand::reg_use(*doubled_index));
                }
            }
            MInst::Ecalli { args, results, .. } => {
                out.extend(results.iter().map(|&(v, r)| Operand::reg_fixed_def(v, r)));
                out.extend(args.iter().map(|&(v, r)| Operand::reg_fixed_use(v, r)));
            }
            MInst::Jump { .. } | MInst::Trap => {}
            MInst::AddressCheck { address, outside, .. } => {
                out.push(Operand::reg_use(*address));
                if let Outside::Flag(flag) = outside {
                    out.push(Operand::reg_use(*flag));
                }
            }
            MInst::Branch { a, b, .. } => {
                out.push(Operand::reg_use(*a));
                if let Rhs::Reg(b) = b {
                    out.push(Operand::reg_use(*b));
                }
            }
            MInst::Switch { kind, .. } => match kind {
                SwitchKind::Table { index, doubled, .. } => {
                    out.extend([Operand::reg_use(*index), Operand::reg_use(*doubled)]);
                }
                SwitchKind::Compare { value, wide, .. } => {
                    out.push(Operand::reg_use(*value));
                    out.extend(wide.iter().map(|&v| Operand::reg_use(v)));
                }
            },
            MInst::Return { values } => {
                out.extend(values.iter().map(|&(v, r)| Operand::reg_fixed_use(v, r)));
            }
        }
    }

    /// The registers the instruction reads, to rename them.
    pub fn uses_mut(&mut self) -> Vec<&mut VReg> {
        match self {
            MInst::Args { .. } | MInst::LoadStackParam { .. } | MInst::LoadImm { .. } | MInst::Trap => Vec::new(),
            MInst::Jump { args, .. } => args.iter_mut().collect(),
            MInst::Alu { a, b, .. } => vec![a, b],
            MInst::AluImm { src, .. } | MInst::Unary { src, .. } | MInst::Move { src, .. } => vec![src],
            MInst::Cmov { old, value, cond, .. } => vec![old, value, cond],
            MInst::CmovImm { old, cond, .. } => vec![old, cond],
            MInst::Load { base, .. } => base.iter_mut().collect(),
            MInst::Store { value, base, .. } => {
                let value = match value {
                    StoreValue::Reg(v) => Some(v),
                    StoreValue::Imm(_) => None,
                };
                value.into_iter().chain(base.iter_mut()).collect()
            }
            MInst::StoreStackArg { value, .. } => vec![value],
            MInst::Call { target, args, .. } => {
                let index = match target {
                    CallTarget::Table { doubled_index, .. } => Some(doubled_index),
                    CallTarget::Label(_) => None,
                };
                args.iter_mut().map(|(v, _)| v).chain(index).collect()
            }
            MInst::Ecalli { args, .. } => args.iter_mut().map(|(v, _)| v).collect(),
            MInst::Branch { a, b, .. } => {
                let b = match b {
                    Rhs::Reg(r) => Some(r),
                    Rhs::Imm(_) => None,
                };
                std::iter::once(a).chain(b).collect()
            }
            MInst::Switch { kind, .. } => match kind {
                SwitchKind::Table { index, doubled, .. } => vec![index, doubled],
                SwitchKind::Compare { value, wide, .. } => std::iter::once(value).chain(wide).collect(),
            },
            MInst::Return { values } => values.iter_mut().map(|(v, _)| v).collect(),
            MInst::AddressCheck { address, outside, .. } => {
                let flag = match outside {
                    Outside::Flag(flag) => Some(flag),
                    Outside::Above(_) => None,
                };
                std::iter::once(address).chain(flag).collect()
            }
        }
    }

    /// Physical registers destroyed beyond the operands.
    pub fn clobbers(&self) -> PRegSet {
        match self {
            MInst::Call { clobbers, .. } | MInst::Ecalli { clobbers, .. } => *clobbers,
            _ => PRegSet::empty(),
        }
    }
}

/// A block as instruction selection builds it.
#[derive(Debug, Clone, Default)]
pub struct BlockDraft {
    /// Its label.
    pub label: String,
    /// Its instructions, terminator last.
    pub insts: Vec<MInst>,
    /// Its parameters.
    pub params: Vec<VReg>,
    /// Successor blocks with the arguments passed to each.
    pub succs: Vec<(usize, Vec<VReg>)>,
}

/// A block: a range of instructions, its parameters (the LLVM phis) and its edges.
#[derive(Debug, Clone, Default)]
pub struct MBlock {
    /// Its label.
    pub label: String,
    /// First instruction.
    pub start: usize,
    /// One past the last instruction.
    pub end: usize,
    /// Block parameters.
    pub params: Vec<VReg>,
    /// Successor blocks.
    pub succs: Vec<Block>,
    /// Predecessor blocks.
    pub preds: Vec<Block>,
    /// Arguments passed to each successor (in `succs` order).
    pub succ_args: Vec<Vec<VReg>>,
}

/// A function in MIR, ready for register allocation.
#[derive(Debug, Clone, Default)]
pub struct MFunction {
    /// Its label.
    pub name: String,
    /// Whether this is the program entry.
    pub is_entry: bool,
    /// Blocks in layout order; block 0 is the entry.
    pub blocks: Vec<MBlock>,
    /// All instructions.
    pub insts: Vec<MInst>,
    /// Number of virtual registers.
    pub num_vregs: usize,
    /// Bytes of outgoing stack arguments the largest call needs.
    pub outgoing_args: u32,
    /// For each block, the block it was split from (edge blocks), or itself.
    pub origin: Vec<usize>,
    operands: Vec<Operand>,
    operand_ranges: Vec<(u32, u32)>,
}

impl MFunction {
    /// What the function's calls reach.
    pub fn calls(&self) -> impl Iterator<Item = &CallTarget> {
        self.insts.iter().filter_map(|inst| match inst {
            MInst::Call { target, .. } => Some(target),
            _ => None,
        })
    }

    /// Builds the function from blocks of instructions. `blocks[i]` holds block i's
    /// instructions (terminator last), its parameters and its successors with arguments.
    pub fn new(
        name: String,
        is_entry: bool,
        blocks: Vec<BlockDraft>,
        origin: Vec<usize>,
        num_vregs: usize,
        outgoing_args: u32,
    ) -> Self {
        let mut f = MFunction { name, is_entry, num_vregs, outgoing_args, origin, ..Default::default() };
        for BlockDraft { label, insts, params, succs } in blocks {
            let start = f.insts.len();
            f.insts.extend(insts);
            f.blocks.push(MBlock {
                label,
                start,
                end: f.insts.len(),
                params,
                succs: succs.iter().map(|s| Block::new(s.0)).collect(),
                preds: Vec::new(),
                succ_args: succs.into_iter().map(|s| s.1).collect(),
            });
        }
        for b in 0..f.blocks.len() {
            for s in f.blocks[b].succs.clone() {
                let preds = &mut f.blocks[s.index()].preds;
                if !preds.contains(&Block::new(b)) {
                    preds.push(Block::new(b));
                }
            }
        }
        for inst in &f.insts {
            let start = f.operands.len() as u32;
            inst.operands(&mut f.operands);
            f.operand_ranges.push((start, f.operands.len() as u32));
        }
        f
    }

    /// The operands of instruction `i`.
    pub fn inst_operands_of(&self, i: usize) -> &[Operand] {
        let (s, e) = self.operand_ranges[i];
        &self.operands[s as usize..e as usize]
    }
}

impl regalloc2::Function for MFunction {
    fn num_insts(&self) -> usize {
        self.insts.len()
    }

    fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    fn entry_block(&self) -> Block {
        Block::new(0)
    }

    fn block_insns(&self, block: Block) -> InstRange {
        let b = &self.blocks[block.index()];
        InstRange::new(Inst::new(b.start), Inst::new(b.end))
    }

    fn block_succs(&self, block: Block) -> &[Block] {
        &self.blocks[block.index()].succs
    }

    fn block_preds(&self, block: Block) -> &[Block] {
        &self.blocks[block.index()].preds
    }

    fn block_params(&self, block: Block) -> &[VReg] {
        &self.blocks[block.index()].params
    }

    fn is_ret(&self, insn: Inst) -> bool {
        matches!(self.insts[insn.index()], MInst::Return { .. } | MInst::Trap)
    }

    fn is_branch(&self, insn: Inst) -> bool {
        matches!(self.insts[insn.index()], MInst::Jump { .. } | MInst::Branch { .. } | MInst::Switch { .. })
    }

    fn branch_blockparams(&self, block: Block, _insn: Inst, succ_idx: usize) -> &[VReg] {
        &self.blocks[block.index()].succ_args[succ_idx]
    }

    fn inst_operands(&self, insn: Inst) -> &[Operand] {
        self.inst_operands_of(insn.index())
    }

    fn inst_clobbers(&self, insn: Inst) -> PRegSet {
        self.insts[insn.index()].clobbers()
    }

    fn num_vregs(&self) -> usize {
        self.num_vregs
    }

    fn spillslot_size(&self, _regclass: RegClass) -> usize {
        1
    }
}

/// The allocatable registers: caller-saved ones first (cheapest), callee-saved ones after
/// them. r0 (the return address, saved in the frame of functions that call) and r1 (the
/// stack pointer) are not allocated.
pub fn machine_env() -> regalloc2::MachineEnv {
    let mut preferred = PRegSet::empty();
    for r in abi::ARG_REGS {
        preferred.add(preg(r));
    }
    let mut non_preferred = PRegSet::empty();
    for r in abi::CALLEE_SAVED {
        non_preferred.add(preg(r));
    }
    regalloc2::MachineEnv {
        preferred_regs_by_class: [preferred, PRegSet::empty(), PRegSet::empty()],
        non_preferred_regs_by_class: [non_preferred, PRegSet::empty(), PRegSet::empty()],
        scratch_by_class: [None, None, None],
        fixed_stack_slots: vec![],
    }
}

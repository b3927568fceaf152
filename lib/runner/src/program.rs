//! A program decoded once into a form that is cheap to execute: one [`Op`] per
//! instruction (from `pvm_isa`'s instruction table) with branch targets resolved to op
//! indices, a trap op wherever execution can fall onto a byte that starts no
//! instruction, and per-op gas accounting for basic blocks.
//!
//! Basic-block starts (the valid jump targets) follow the [`Semantics`]: for the
//! reference, pc 0 and every position right after a terminator, even when no valid
//! instruction starts there (such a jump "succeeds" and the trap at the target panics one
//! step later); for the Gray Paper (eq. A.5), only those positions where a valid
//! instruction starts (a jump anywhere else panics at the jump). Gas is charged by the
//! reference's blocks in both.

use crate::semantics::Semantics;
use pvm_isa::blob::ProgramBlob;
use pvm_isa::{Args, DecodeError, Instruction, Opcode};

/// Marks a branch or jump-table target that is not a basic-block start.
pub const INVALID: u32 = u32::MAX;

/// A register number as a type with exactly 13 values, so that indexing the register
/// file with it needs no bounds check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
#[rustfmt::skip]
pub enum R { #[default] R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12 }

impl R {
    const ALL: [R; 13] = [R::R0, R::R1, R::R2, R::R3, R::R4, R::R5, R::R6, R::R7, R::R8, R::R9, R::R10, R::R11, R::R12];

    /// The register file index.
    #[inline(always)]
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    /// The opcode (`Trap` also for invalid opcodes and bytes that start no instruction).
    pub kind: Opcode,
    /// Register A (or the only register).
    pub a: R,
    /// Register B.
    pub b: R,
    /// Register D (destination of the two- and three-register formats).
    pub d: R,
    /// Op index of a static branch target, or [`INVALID`].
    pub target: u32,
    /// At a basic-block start: the block's instruction count; else 0.
    pub block_gas: u32,
    /// Instructions after this one in its block (refunded when the block ends early).
    pub remaining: u32,
    /// First immediate.
    pub imm1: u64,
    /// Second immediate.
    pub imm2: u64,
}

impl Op {
    /// A trap: what execution meets where no valid instruction starts.
    pub const TRAP: Op = Op {
        kind: Opcode::Trap,
        a: R::R0,
        b: R::R0,
        d: R::R0,
        target: INVALID,
        block_gas: 0,
        remaining: 0,
        imm1: 0,
        imm2: 0,
    };
}

/// A decoded program.
#[derive(Debug, Clone)]
pub struct Program {
    /// The ops, in code order.
    pub ops: Vec<Op>,
    /// The code offset of every op (kept apart so that an op fits in 32 bytes).
    pub pcs: Vec<u32>,
    /// Op index of each jump-table entry's target, or [`INVALID`].
    pub jump_table: Vec<u32>,
    /// Op index of every code offset that has an op (else [`INVALID`]); one entry past
    /// the end of the code.
    pub op_at: Vec<u32>,
    /// The decoded instruction of every op (`None` for traps at bytes that start no
    /// valid instruction), for tracing.
    pub instructions: Vec<Option<Instruction>>,
}

fn reg(r: pvm_isa::Reg) -> R {
    R::ALL[usize::from(r.index())]
}

impl Program {
    /// A program without code: every run panics at its first position.
    pub fn empty() -> Self {
        Program { ops: vec![Op::TRAP], pcs: vec![0], jump_table: Vec::new(), op_at: vec![0], instructions: vec![None] }
    }

    /// Decodes a program blob; `base` is its offset in the file, for errors.
    pub fn from_blob(bytes: &[u8], base: usize, semantics: Semantics) -> Result<Self, DecodeError> {
        let blob = ProgramBlob::parse(bytes, base)?;
        Ok(Self::from_parsed(&blob, semantics))
    }

    /// Decodes a parsed blob, with the basic-block starts of `semantics`.
    pub fn from_parsed(blob: &ProgramBlob<'_>, semantics: Semantics) -> Self {
        let code = blob.code;
        let mask = blob.bitmask();
        let len = code.len();
        let decoding = semantics.decoding();
        let skip = |p: usize| mask.skip_capped(p, decoding.skip_cap());
        let starts: Vec<usize> = mask.starts().collect();
        // Positions that get an op: instruction starts, where each falls through to, and 0.
        let mut positions: Vec<usize> = Vec::with_capacity(starts.len() + 2);
        positions.push(0);
        let mut block_start_positions = vec![0usize];
        for &s in &starts {
            positions.push(s);
            let next = s + 1 + skip(s);
            positions.push(next);
            if Opcode::from_u8(code[s]).is_some_and(Opcode::is_terminator) {
                block_start_positions.push(next);
            }
        }

        positions.sort_unstable();
        positions.dedup();
        let mut op_at = vec![INVALID; len + 1];
        for (i, &p) in positions.iter().enumerate() {
            if p <= len {
                op_at[p] = i as u32;
            }
        }
        let mut is_block_start = vec![false; positions.len()];
        for p in block_start_positions {
            if p <= len {
                is_block_start[op_at[p] as usize] = true;
            }
        }
        // Gas blocks start at every block start of the reference; the Gray Paper takes
        // away as jump targets those where no valid instruction starts.
        let valid = |p: usize| mask.is_start(p) && Opcode::from_u8(code[p]).is_some();
        let is_target = |p: usize| match semantics {
            Semantics::Reference => true,
            Semantics::GrayPaper => valid(p),
        };
        let resolve = |target: u32| -> u32 {
            match op_at.get(target as usize) {
                Some(&i) if i != INVALID && is_block_start[i as usize] && is_target(target as usize) => i,
                _ => INVALID,
            }
        };
        let is_start = |p: usize| p < len && mask.is_start(p);
        let instructions: Vec<Option<Instruction>> = positions
            .iter()
            .map(|&p| if is_start(p) { Instruction::decode_as(code, p as u32, skip(p), decoding) } else { None })
            .collect();
        let mut ops: Vec<Op> =
            instructions.iter().map(|instruction| instruction.map_or(Op::TRAP, |i| op_from(i, &resolve))).collect();
        // Blocks: from each block start to the next terminator.
        let mut i = 0;
        while i < ops.len() {
            let start = i;
            while i < ops.len() && !ops[i].kind.is_terminator() && !(i + 1 < ops.len() && is_block_start[i + 1]) {
                i += 1;
            }
            let end = i.min(ops.len() - 1);
            let count = (end - start + 1) as u32;
            for (k, op) in ops[start..=end].iter_mut().enumerate() {
                op.remaining = count - 1 - k as u32;
            }
            if is_block_start[start] {
                ops[start].block_gas = count;
            }
            i = end + 1;
        }
        // With 0-byte entries every entry is pc 0 by the Gray Paper; the reference
        // panics on any dynamic jump through such a table (docs/runner.md).
        let jump_table = if blob.jump_table_entry_size == 0 {
            let entry = match semantics {
                Semantics::Reference => INVALID,
                Semantics::GrayPaper => resolve(0),
            };
            vec![entry; blob.jump_table_len]
        } else {
            blob.jump_table().map(|t| u32::try_from(t).map_or(INVALID, resolve)).collect()
        };
        let pcs = positions.iter().map(|&p| p as u32).collect();
        Program { ops, pcs, jump_table, op_at, instructions }
    }
}

/// The op for a decoded instruction at `pc`.
fn op_from(i: Instruction, resolve: &dyn Fn(u32) -> u32) -> Op {
    let mut op = Op { kind: i.opcode, ..Op::TRAP };
    match i.args {
        Args::None => {}
        Args::Imm(x) => op.imm1 = x,
        Args::RegImm64(r, x) | Args::RegImm(r, x) => {
            op.a = reg(r);
            op.imm1 = x;
        }
        Args::ImmImm(x, y) => {
            op.imm1 = x;
            op.imm2 = y;
        }
        Args::Offset(t) => op.target = resolve(t),
        Args::RegImmImm(r, x, y) => {
            op.a = reg(r);
            op.imm1 = x;
            op.imm2 = y;
        }
        Args::RegImmOffset(r, x, t) => {
            op.a = reg(r);
            op.imm1 = x;
            op.target = resolve(t);
        }
        Args::RegReg(d, a) => {
            op.d = reg(d);
            op.a = reg(a);
        }
        Args::RegRegImm(a, b, x) => {
            op.a = reg(a);
            op.b = reg(b);
            op.imm1 = x;
        }
        Args::RegRegOffset(a, b, t) => {
            op.a = reg(a);
            op.b = reg(b);
            op.target = resolve(t);
        }
        Args::RegRegImmImm(a, b, x, y) => {
            op.a = reg(a);
            op.b = reg(b);
            op.imm1 = x;
            op.imm2 = y;
        }
        Args::RegRegReg(d, a, b) => {
            op.d = reg(d);
            op.a = reg(a);
            op.b = reg(b);
        }
    }
    op
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_targets_and_trailing_trap() {
        // 0: load_imm r7, 1  3: branch_eq_imm r7, 1, @9  8: trap  9: fallthrough  (end at 10)
        let code = [0x33, 0x07, 0x01, 0x51, 0x17, 0x01, 0x06, 0x00, 0x00, 0x01];
        let mut bits = vec![false; code.len()];
        for s in [0, 3, 8, 9] {
            bits[s] = true;
        }
        let blob = pvm_isa::blob::build_blob(0, &[], &code, &bits);
        let p = Program::from_blob(&blob, 0, Semantics::Reference).unwrap();
        assert_eq!(p.pcs, vec![0, 3, 8, 9, 10]);
        assert_eq!(std::mem::size_of::<Op>(), 32);
        assert_eq!(p.ops[1].target, 3);
        assert_eq!((p.ops[0].block_gas, p.ops[0].remaining, p.ops[1].remaining), (2, 1, 0));
        assert_eq!((p.ops[2].block_gas, p.ops[3].block_gas, p.ops[4].block_gas), (1, 1, 1));
        assert_eq!(p.ops[4].kind, Opcode::Trap);
    }
}

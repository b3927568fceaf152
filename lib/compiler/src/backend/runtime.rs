//! Runtime routines written directly in PVM assembly, emitted only when used: the shared
//! trap, `memset`, `memmove` (also serving `memcpy`) and `memory.grow`.
//!
//! They follow the calling convention (arguments in a0.., result in a0, return through
//! r0) and use only caller-saved registers: only those [`clobbers`] lists, so that a
//! value live across a call of one stays in another caller-saved register instead of a
//! callee-saved one the caller must save.

use crate::backend::isel::Routine;
use pvm_asm::{AsmInstruction, Item, Operand};
use pvm_isa::{Opcode, Reg};

/// Label of the shared trap.
pub const TRAP: &str = "__pvm.trap";

/// The label of a routine.
pub fn label(routine: Routine) -> &'static str {
    match routine {
        Routine::Memset => "__pvm.memset",
        Routine::Memmove => "__pvm.memmove",
        Routine::MemoryGrow => "__pvm.memory_grow",
    }
}

/// The registers a routine writes (besides r0, which the call sets): a call of it
/// clobbers only these.
pub fn clobbers(routine: Routine) -> &'static [u8] {
    match routine {
        Routine::Memset => &[A0, A1, A2, A3],
        Routine::Memmove => &[A0, A1, A2, A3, A4],
        Routine::MemoryGrow => &[A0, A1, A2],
    }
}

/// Builds routine bodies.
struct Asm {
    items: Vec<Item>,
    prefix: &'static str,
}

fn reg(n: u8) -> Reg {
    Reg::new(n).expect("routine registers are below 13")
}

const RA: u8 = 0;
const A0: u8 = 7;
const A1: u8 = 8;
const A2: u8 = 9;
const A3: u8 = 10;
const A4: u8 = 11;

/// Operands of a routine instruction.
enum O {
    R(u8),
    I(u64),
    L(&'static str),
}

impl Asm {
    fn new(prefix: &'static str) -> Self {
        Asm { items: vec![Item::Label(prefix.to_string())], prefix }
    }

    fn local(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    fn label(&mut self, name: &str) {
        self.items.push(Item::Label(self.local(name)));
    }

    fn i(&mut self, opcode: Opcode, operands: &[O]) {
        let operands = operands
            .iter()
            .map(|o| match o {
                O::R(n) => Operand::Reg(reg(*n)),
                O::I(v) => Operand::imm(*v),
                O::L(name) => Operand::label(self.local(name)),
            })
            .collect();
        self.items.push(Item::Instruction(AsmInstruction::new(opcode, operands)));
    }

    fn ret(&mut self) {
        self.i(Opcode::JumpInd, &[O::R(RA), O::I(0)]);
    }

    /// Zero-extends the 32-bit length in `r`.
    fn zero_extend_32(&mut self, r: u8) {
        self.i(Opcode::ShloLImm64, &[O::R(r), O::R(r), O::I(32)]);
        self.i(Opcode::ShloRImm64, &[O::R(r), O::R(r), O::I(32)]);
    }
}

const fn neg(v: i64) -> u64 {
    v as u64
}

/// The shared trap.
pub fn trap() -> Vec<Item> {
    vec![Item::Label(TRAP.to_string()), Item::Instruction(AsmInstruction::new(Opcode::Trap, vec![]))]
}

/// PVM page size: the routines split their work at page boundaries.
const PAGE: u64 = 4096;

/// `memset(a0 = dst, a1 = byte, a2 = len)`: page by page; in each, 32 bytes per
/// iteration while possible, then words, then single bytes. Each loop compares the
/// destination with the segment's end less the step (`A3`, moved up between loops), so an
/// iteration is its stores, one add and one branch. No access crosses a page boundary
/// (see [`memmove`]). The destination is a mapped address (the caller has checked the
/// range), so the end less 31 does not wrap.
pub fn memset() -> Vec<Item> {
    use O::*;
    let mut a = Asm::new(label(Routine::Memset));
    a.zero_extend_32(A2);
    a.i(Opcode::AndImm, &[R(A1), R(A1), I(0xff)]);
    a.i(Opcode::LoadImm64, &[R(A3), I(0x0101_0101_0101_0101)]);
    a.i(Opcode::Mul64, &[R(A1), R(A1), R(A3)]);
    // Segment: up to the next page boundary, at most the length; A3 = its end - 31.
    a.label("segment");
    a.i(Opcode::BranchEqImm, &[R(A2), I(0), L("done")]);
    a.i(Opcode::AndImm, &[R(A3), R(A0), I(PAGE - 1)]);
    a.i(Opcode::NegAddImm64, &[R(A3), R(A3), I(PAGE)]);
    a.take_segment();
    a.i(Opcode::Add64, &[R(A3), R(A3), R(A0)]);
    a.i(Opcode::AddImm64, &[R(A3), R(A3), I(neg(-31))]);
    a.i(Opcode::BranchGeU, &[R(A0), R(A3), L("words")]);
    a.label("blocks");
    for k in 0..4 {
        a.i(Opcode::StoreIndU64, &[R(A1), R(A0), I(8 * k)]);
    }
    a.i(Opcode::AddImm64, &[R(A0), R(A0), I(32)]);
    a.i(Opcode::BranchLtU, &[R(A0), R(A3), L("blocks")]);
    // A3 = end - 7.
    a.label("words");
    a.i(Opcode::AddImm64, &[R(A3), R(A3), I(24)]);
    a.i(Opcode::BranchGeU, &[R(A0), R(A3), L("bytes")]);
    a.label("word");
    a.i(Opcode::StoreIndU64, &[R(A1), R(A0), I(0)]);
    a.i(Opcode::AddImm64, &[R(A0), R(A0), I(8)]);
    a.i(Opcode::BranchLtU, &[R(A0), R(A3), L("word")]);
    // A3 = end.
    a.label("bytes");
    a.i(Opcode::AddImm64, &[R(A3), R(A3), I(7)]);
    a.i(Opcode::BranchGeU, &[R(A0), R(A3), L("segment")]);
    a.label("byte");
    a.i(Opcode::StoreIndU8, &[R(A1), R(A0), I(0)]);
    a.i(Opcode::AddImm64, &[R(A0), R(A0), I(1)]);
    a.i(Opcode::BranchLtU, &[R(A0), R(A3), L("byte")]);
    a.i(Opcode::Jump, &[L("segment")]);
    a.label("done");
    a.ret();
    a.items
}

impl Asm {
    /// Limits the segment `A3` to the length `A2` and takes it from the length.
    fn take_segment(&mut self) {
        use O::*;
        self.i(Opcode::MinU, &[R(A3), R(A3), R(A2)]);
        self.i(Opcode::Sub64, &[R(A2), R(A2), R(A3)]);
    }

    /// `bytes` bytes (8 or 1) from `[A1 + at]` to `[A0 + at]`.
    fn copy(&mut self, bytes: u32, at: u64) {
        use O::*;
        let (load, store) = if bytes == 8 {
            (Opcode::LoadIndU64, Opcode::StoreIndU64)
        } else {
            (Opcode::LoadIndU8, Opcode::StoreIndU8)
        };
        self.i(load, &[R(A4), R(A1), I(at)]);
        self.i(store, &[R(A4), R(A0), I(at)]);
    }

    /// Adds `delta` to the destination and source pointers and subtracts `|delta|` from
    /// the segment.
    fn advance(&mut self, delta: i64) {
        use O::*;
        self.i(Opcode::AddImm64, &[R(A0), R(A0), I(delta as u64)]);
        self.i(Opcode::AddImm64, &[R(A1), R(A1), I(delta as u64)]);
        self.i(Opcode::AddImm64, &[R(A3), R(A3), I(neg(-delta.abs()))]);
    }
}

/// `memmove(a0 = dst, a1 = src, a2 = len)`, also serving `memcpy`: copies upward when the
/// destination is below the source and downward (from the ends) otherwise, so
/// overlapping ranges come out right: every word is loaded before the store that could
/// overwrite it. The work goes in segments that end at the next page boundary of the
/// source or the destination, so no word access crosses a page boundary (the PVM allows
/// it, but not every PVM implementation gets it right); in each, words (32 bytes per
/// iteration while possible), then single bytes. The PVM charges an access the same at
/// any alignment, and the caller has checked both ranges.
pub fn memmove() -> Vec<Item> {
    use O::*;
    let mut a = Asm::new(label(Routine::Memmove));
    a.zero_extend_32(A2);
    a.i(Opcode::BranchLtU, &[R(A1), R(A0), L("backward")]);
    // Upward segment: up to the nearer next page boundary.
    a.label("fsegment");
    a.i(Opcode::BranchEqImm, &[R(A2), I(0), L("done")]);
    a.i(Opcode::AndImm, &[R(A3), R(A0), I(PAGE - 1)]);
    a.i(Opcode::AndImm, &[R(A4), R(A1), I(PAGE - 1)]);
    a.i(Opcode::MaxU, &[R(A3), R(A3), R(A4)]);
    a.i(Opcode::NegAddImm64, &[R(A3), R(A3), I(PAGE)]);
    a.take_segment();
    a.i(Opcode::BranchLtUImm, &[R(A3), I(32), L("fwords")]);
    a.label("fblocks");
    for k in 0..4 {
        a.copy(8, 8 * k);
    }
    a.advance(32);
    a.i(Opcode::BranchGeUImm, &[R(A3), I(32), L("fblocks")]);
    a.label("fwords");
    a.i(Opcode::BranchLtUImm, &[R(A3), I(8), L("fbytes")]);
    a.copy(8, 0);
    a.advance(8);
    a.i(Opcode::Jump, &[L("fwords")]);
    a.label("fbytes");
    a.i(Opcode::BranchEqImm, &[R(A3), I(0), L("fsegment")]);
    a.copy(1, 0);
    a.advance(1);
    a.i(Opcode::Jump, &[L("fbytes")]);

    a.label("backward");
    a.i(Opcode::Add64, &[R(A0), R(A0), R(A2)]);
    a.i(Opcode::Add64, &[R(A1), R(A1), R(A2)]);
    // Downward segment: down to the nearer page boundary below the ends.
    a.label("bsegment");
    a.i(Opcode::BranchEqImm, &[R(A2), I(0), L("done")]);
    a.i(Opcode::AddImm64, &[R(A3), R(A0), I(neg(-1))]);
    a.i(Opcode::AndImm, &[R(A3), R(A3), I(PAGE - 1)]);
    a.i(Opcode::AddImm64, &[R(A4), R(A1), I(neg(-1))]);
    a.i(Opcode::AndImm, &[R(A4), R(A4), I(PAGE - 1)]);
    a.i(Opcode::MinU, &[R(A3), R(A3), R(A4)]);
    a.i(Opcode::AddImm64, &[R(A3), R(A3), I(1)]);
    a.take_segment();
    a.i(Opcode::BranchLtUImm, &[R(A3), I(32), L("bwords")]);
    a.label("bblocks");
    a.advance(-32);
    for k in (0..4).rev() {
        a.copy(8, 8 * k);
    }
    a.i(Opcode::BranchGeUImm, &[R(A3), I(32), L("bblocks")]);
    a.label("bwords");
    a.i(Opcode::BranchLtUImm, &[R(A3), I(8), L("bbytes")]);
    a.advance(-8);
    a.copy(8, 0);
    a.i(Opcode::Jump, &[L("bwords")]);
    a.label("bbytes");
    a.i(Opcode::BranchEqImm, &[R(A3), I(0), L("bsegment")]);
    a.advance(-1);
    a.copy(1, 0);
    a.i(Opcode::Jump, &[L("bbytes")]);
    a.label("done");
    a.ret();
    a.items
}

/// `memory_grow(a0 = delta pages) -> old pages, or -1` past `max_pages`; the page count
/// lives at `pages_address` and new pages come from `sbrk`, which maps them zeroed
/// right after the current memory.
pub fn memory_grow(pages_address: u64, max_pages: u64) -> Vec<Item> {
    use O::*;
    let mut a = Asm::new(label(Routine::MemoryGrow));
    a.i(Opcode::LoadU32, &[R(A1), I(pages_address)]);
    a.i(Opcode::BranchLtSImm, &[R(A0), I(0), L("fail")]);
    a.i(Opcode::Add64, &[R(A2), R(A1), R(A0)]);
    a.i(Opcode::BranchGtUImm, &[R(A2), I(max_pages), L("fail")]);
    a.i(Opcode::StoreU32, &[R(A2), I(pages_address)]);
    a.i(Opcode::ShloLImm64, &[R(A2), R(A0), I(16)]);
    a.i(Opcode::Sbrk, &[R(A2), R(A2)]);
    a.i(Opcode::MoveReg, &[R(A0), R(A1)]);
    a.ret();
    a.label("fail");
    a.i(Opcode::LoadImm, &[R(A0), I(neg(-1))]);
    a.ret();
    a.items
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The register an instruction of a routine writes: the first register operand, except
    /// in stores, branches and jumps, which write none.
    fn written(instruction: &AsmInstruction) -> Option<u8> {
        let name = instruction.opcode.to_string();
        if ["store", "branch", "jump", "trap"].iter().any(|p| name.starts_with(p)) {
            return None;
        }
        instruction.operands.iter().find_map(|o| match o {
            Operand::Reg(r) => Some(r.index()),
            _ => None,
        })
    }

    #[test]
    fn routines_write_only_the_registers_they_clobber() {
        for (routine, items) in [
            (Routine::Memset, memset()),
            (Routine::Memmove, memmove()),
            (Routine::MemoryGrow, memory_grow(0xfefd_fff8, 1024)),
        ] {
            let mut seen = Vec::new();
            for item in &items {
                if let Item::Instruction(instruction) = item
                    && let Some(r) = written(instruction)
                {
                    assert!(clobbers(routine).contains(&r), "{routine:?} writes r{r} in {instruction}");
                    seen.push(r);
                }
            }
            for r in clobbers(routine) {
                assert!(seen.contains(r), "{routine:?} does not write r{r}");
            }
        }
    }
}

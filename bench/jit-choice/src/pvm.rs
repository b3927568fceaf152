//! The PVM code both backends translate: the blocks of `fib` from `../shared/bench`
//! compiled by `wasm2pvm` (`jam-inspect --asm fib.jam`), written out as the few
//! operations they use, and the machine state the generated code runs on.
//!
//! ```text
//!     load_imm r9, 1              ; block 0 (3 gas)
//!     load_imm r8, 0
//!     fallthrough
//! L19:
//!     add_32 r10, r8, r9          ; block 1, the hot loop (5 gas)
//!     add_imm_32 r7, r7, -1
//!     move_reg r8, r9
//!     move_reg r9, r10
//!     branch_ne_imm r7, 0, L19
//!     (halt)                      ; block 2 (1 gas): stands for the store and return
//! ```

/// A guest register, 0..13.
pub type Reg = usize;

/// The operations of the loop, with the engine's meaning.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// `load_imm a, x`.
    LoadImm(Reg, u64),
    /// `add_32 d, a, b`: the 32-bit sum, sign-extended.
    Add32(Reg, Reg, Reg),
    /// `add_imm_32 d, a, x`.
    AddImm32(Reg, Reg, i32),
    /// `move_reg d, a`.
    MoveReg(Reg, Reg),
    /// `branch_ne_imm a, x, block`.
    BranchNeImm(Reg, i32, usize),
    /// `fallthrough`: on to the next block.
    Fallthrough,
    /// Stops the machine (a halt).
    Halt,
}

/// A basic block: its gas, charged at its start, and its operations.
pub struct Block {
    pub gas: u32,
    pub ops: Vec<Op>,
}

impl Block {
    /// The number of PVM instructions (the halt counts as one).
    pub fn instructions(&self) -> usize {
        self.ops.len()
    }
}

/// Fib's three blocks; block 1 is the loop.
pub fn fib() -> Vec<Block> {
    vec![
        Block { gas: 3, ops: vec![Op::LoadImm(9, 1), Op::LoadImm(8, 0), Op::Fallthrough] },
        Block {
            gas: 5,
            ops: vec![
                Op::Add32(10, 8, 9),
                Op::AddImm32(7, 7, -1),
                Op::MoveReg(8, 9),
                Op::MoveReg(9, 10),
                Op::BranchNeImm(7, 0, 1),
            ],
        },
        Block { gas: 1, ops: vec![Op::Halt] },
    ]
}

/// A program of about `instructions` instructions for timing translation: fib's
/// blocks, its loop repeated (each copy a block of its own that branches to itself and
/// falls through to the next), then the halt.
pub fn long(instructions: usize) -> Vec<Block> {
    let mut blocks = fib();
    let halt = blocks.pop().expect("fib ends with its halt block");
    let looped = blocks.pop().expect("fib has its loop");
    for copy in 0..instructions / looped.instructions() {
        let ops = looped
            .ops
            .iter()
            .map(|&op| match op {
                Op::BranchNeImm(a, x, _) => Op::BranchNeImm(a, x, 1 + copy),
                op => op,
            })
            .collect();
        blocks.push(Block { gas: looped.gas, ops });
    }
    blocks.push(halt);
    blocks
}

/// The machine state as the generated code sees it (`r15` points at it), laid out as
/// the engine's.
#[repr(C)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ctx {
    pub regs: [u64; 13],
    pub gas: i64,
    /// The block where the code stopped.
    pub block: u32,
}

/// Exit code: the machine halted at `Ctx::block`.
pub const EXIT_HALT: u32 = 0;
/// Exit code: the gas does not cover `Ctx::block` (the engine interprets it).
pub const EXIT_INTERPRET: u32 = 3;

pub const REGS: usize = std::mem::offset_of!(Ctx, regs);
pub const GAS: i32 = std::mem::offset_of!(Ctx, gas) as i32;
pub const BLOCK: i32 = std::mem::offset_of!(Ctx, block) as i32;

/// The `Ctx` offset of a guest register.
pub fn reg_offset(r: Reg) -> i32 {
    (REGS + 8 * r) as i32
}

/// The engine's register mapping (`lib/runner/src/native/mod.rs`): the host register
/// (x86 number) of each guest register, `None` for r4–r6, kept in the `Ctx`.
pub const HOST: [Option<u8>; 13] =
    [Some(3), Some(5), Some(12), Some(13), None, None, None, Some(6), Some(7), Some(8), Some(9), Some(10), Some(11)];
/// The gas left lives in `r14`.
pub const GAS_REG: u8 = 14;
/// Scratch registers.
pub const RAX: u8 = 0;
pub const RCX: u8 = 1;

/// What the interpreter computes for fib's blocks from `n` (> 0) with `gas`: the state
/// after the halt, or at the block the gas does not cover.
pub fn expected(n: u64, gas: i64) -> (u32, Ctx) {
    let mut ctx = Ctx { regs: [0; 13], gas, block: 0 };
    ctx.regs[7] = n;
    let mut block = 0;
    loop {
        let cost = [3, 5, 1][block];
        if ctx.gas < cost {
            ctx.block = block as u32;
            return (EXIT_INTERPRET, ctx);
        }
        ctx.gas -= cost;
        let r = &mut ctx.regs;
        match block {
            0 => {
                r[9] = 1;
                r[8] = 0;
                block = 1;
            }
            1 => {
                r[10] = i64::from((r[8] as u32).wrapping_add(r[9] as u32) as i32) as u64;
                r[7] = i64::from((r[7] as u32).wrapping_sub(1) as i32) as u64;
                r[8] = r[9];
                r[9] = r[10];
                block = if r[7] != 0 { 1 } else { 2 };
            }
            _ => {
                ctx.block = 2;
                return (EXIT_HALT, ctx);
            }
        }
    }
}

//! The interpreter: runs a [`State`] on a decoded [`Program`] one op at a time.
//!
//! Gas is charged per basic block when the remaining gas covers the whole block (the
//! unexecuted part is refunded when the block ends early: a fault, a host call); when it
//! does not, instructions are charged one by one, so out-of-gas happens at exactly the
//! instruction the Gray Paper says, with the state as before it.

use crate::memory::AccessError;
use crate::program::{INVALID, Op, Program};
use crate::state::{State, Status};
use pvm_isa::Opcode;
use pvm_isa::spi::HALT_ADDRESS;

/// One traced step: the instruction's pc, before and after registers, gas after.
#[derive(Debug, Clone)]
pub struct Step {
    /// Code offset.
    pub pc: u32,
    /// The instruction (`None` for a trap at a byte that starts no valid instruction).
    pub instruction: Option<pvm_isa::Instruction>,
    /// Registers before.
    pub before: [u64; 13],
    /// Registers after.
    pub after: [u64; 13],
    /// Gas left after the instruction.
    pub gas: i64,
}

/// What an instruction does to control.
pub(crate) enum Flow {
    /// Continue with the next op.
    Next,
    /// Continue at this op.
    Jump(u32),
    /// The machine stops.
    Exit(Status),
}

/// Runs `state` on `program` until the machine stops.
pub(crate) fn run(program: &Program, state: &mut State) -> Status {
    Interpreter { program, state }.interpret::<false>(&mut |_: Step| {})
}

/// Runs, charging and reporting every instruction separately.
pub(crate) fn run_traced(program: &Program, state: &mut State, trace: &mut dyn FnMut(Step)) -> Status {
    Interpreter { program, state }.interpret::<true>(trace)
}

/// Executes one instruction at `state`'s position, charged on its own: `None` when the
/// machine goes on (at the next op or a jump target), else how it stopped (at that op).
pub(crate) fn step(program: &Program, state: &mut State) -> Option<Status> {
    let mut interpreter = Interpreter { program, state };
    if interpreter.state.op == INVALID {
        return Some(interpreter.charge_one().unwrap_or(Status::Panic));
    }
    if interpreter.state.gas < 1 {
        return Some(Status::OutOfGas);
    }
    interpreter.state.gas -= 1;
    let i = interpreter.state.op;
    match interpreter.step(&program.ops[i as usize]) {
        Flow::Next => interpreter.state.op = i + 1,
        Flow::Jump(t) => interpreter.state.op = t,
        Flow::Exit(status) => return Some(status),
    }
    None
}

/// Executes op `i` on `state` without charging gas or moving the position (for an engine
/// that hands single instructions to the interpreter).
pub(crate) fn execute(program: &Program, state: &mut State, i: u32) -> Flow {
    Interpreter { program, state }.step(&program.ops[i as usize])
}

/// The interpreter over one machine state.
struct Interpreter<'a> {
    program: &'a Program,
    state: &'a mut State,
}

impl Interpreter<'_> {
    /// The interpreter. `TRACE` charges every instruction separately and reports it.
    fn interpret<const TRACE: bool>(&mut self, trace: &mut dyn FnMut(Step)) -> Status {
        if self.state.op == INVALID {
            // Execution at a position that starts no instruction: a trap.
            return self.charge_one().unwrap_or(Status::Panic);
        }
        let ops = &self.program.ops[..];
        self.interpret_ops::<TRACE>(ops, trace)
    }

    fn charge_one(&mut self) -> Option<Status> {
        if self.state.gas < 1 {
            self.state.gas = 0;
            return Some(Status::OutOfGas);
        }
        self.state.gas -= 1;
        None
    }

    fn interpret_ops<const TRACE: bool>(&mut self, ops: &[Op], trace: &mut dyn FnMut(Step)) -> Status {
        let mut i = self.state.op as usize;
        // Gas lives in a local (a register) while running; every exit writes it back.
        let mut gas = self.state.gas;
        loop {
            let count = ops[i].block_gas;
            if !TRACE && count != 0 && gas >= i64::from(count) {
                // A block start with its gas available: charge the block once and run it
                // without per-instruction checks; refund the rest if it ends early.
                gas -= i64::from(count);
                let block = &ops[i..i + count as usize];
                let mut next = i + block.len();
                for (k, op) in block.iter().enumerate() {
                    match self.step(op) {
                        Flow::Next => {}
                        Flow::Jump(t) => {
                            next = t as usize;
                            break;
                        }
                        Flow::Exit(status) => {
                            self.state.gas = gas + i64::from(op.remaining);
                            self.state.op = (i + k) as u32;
                            return status;
                        }
                    }
                }
                i = next;
                continue;
            }
            // One instruction at a time: inside a block entered in the middle, when the
            // gas does not cover the block (so out-of-gas stops at the exact
            // instruction), and when tracing.
            if gas < 1 {
                self.state.gas = gas;
                self.state.op = i as u32;
                return Status::OutOfGas;
            }
            gas -= 1;
            let op = &ops[i];
            let before = if TRACE { self.state.regs } else { [0; 13] };
            let flow = self.step(op);
            if TRACE {
                trace(Step {
                    pc: self.program.pcs[i],
                    instruction: self.program.instructions[i],
                    before,
                    after: self.state.regs,
                    gas,
                });
            }
            match flow {
                Flow::Next => i += 1,
                Flow::Jump(t) => i = t as usize,
                Flow::Exit(status) => {
                    self.state.gas = gas;
                    self.state.op = i as u32;
                    return status;
                }
            }
        }
    }

    #[inline(always)]
    fn load<const N: usize>(&mut self, address: u64) -> Result<[u8; N], Flow> {
        self.state.memory.read::<N>(address as u32).map_err(access_exit)
    }

    #[inline(always)]
    fn store<const N: usize>(&mut self, address: u64, value: u64) -> Result<(), Flow> {
        let bytes: [u8; N] = value.to_le_bytes()[..N].try_into().expect("N <= 8");
        self.state.memory.write::<N>(address as u32, bytes).map_err(access_exit)
    }

    /// A dynamic jump to `address`.
    fn djump(&self, address: u64) -> Flow {
        let a = address as u32;
        if a == HALT_ADDRESS {
            return Flow::Exit(Status::Halt);
        }
        let table = &self.program.jump_table;
        if a == 0 || a % 2 == 1 || a as usize > 2 * table.len() {
            return Flow::Exit(Status::Panic);
        }
        match table[a as usize / 2 - 1] {
            INVALID => Flow::Exit(Status::Panic),
            t => Flow::Jump(t),
        }
    }

    fn branch(cond: bool, target: u32) -> Flow {
        match (cond, target) {
            (false, _) => Flow::Next,
            (true, INVALID) => Flow::Exit(Status::Panic),
            (true, t) => Flow::Jump(t),
        }
    }

    /// Executes one instruction.
    #[inline(always)]
    fn step(&mut self, op: &Op) -> Flow {
        match self.exec(op) {
            Ok(flow) | Err(flow) => flow,
        }
    }

    #[inline(always)]
    fn exec(&mut self, op: &Op) -> Result<Flow, Flow> {
        use Opcode as O;
        let (a, b, d) = (op.a.index(), op.b.index(), op.d.index());
        let (ra, rb) = (self.state.regs[a], self.state.regs[b]);
        let (x, y) = (op.imm1, op.imm2);
        let sx32 = |v: u64| v as u32 as i32 as i64 as u64;
        let lo = |v: u64| v as u32;
        macro_rules! set {
            ($reg:expr, $v:expr) => {{
                let v = $v;
                self.state.regs[$reg] = v;
            }};
        }
        match op.kind {
            O::Trap => return Ok(Flow::Exit(Status::Panic)),
            O::Fallthrough => {}
            O::Ecalli => return Ok(Flow::Exit(Status::Host(x))),
            O::LoadImm64 | O::LoadImm => set!(a, x),
            O::StoreImmU8 => self.store::<1>(x, y)?,
            O::StoreImmU16 => self.store::<2>(x, y)?,
            O::StoreImmU32 => self.store::<4>(x, y)?,
            O::StoreImmU64 => self.store::<8>(x, y)?,
            O::Jump => return Ok(Self::branch(true, op.target)),
            O::JumpInd => return Ok(self.djump(ra.wrapping_add(x))),
            O::LoadU8 => set!(a, u64::from(self.load::<1>(x)?[0])),
            O::LoadI8 => set!(a, self.load::<1>(x)?[0] as i8 as i64 as u64),
            O::LoadU16 => set!(a, u64::from(u16::from_le_bytes(self.load::<2>(x)?))),
            O::LoadI16 => set!(a, i16::from_le_bytes(self.load::<2>(x)?) as i64 as u64),
            O::LoadU32 => set!(a, u64::from(u32::from_le_bytes(self.load::<4>(x)?))),
            O::LoadI32 => set!(a, i32::from_le_bytes(self.load::<4>(x)?) as i64 as u64),
            O::LoadU64 => set!(a, u64::from_le_bytes(self.load::<8>(x)?)),
            O::StoreU8 => self.store::<1>(x, ra)?,
            O::StoreU16 => self.store::<2>(x, ra)?,
            O::StoreU32 => self.store::<4>(x, ra)?,
            O::StoreU64 => self.store::<8>(x, ra)?,
            O::StoreImmIndU8 => self.store::<1>(ra.wrapping_add(x), y)?,
            O::StoreImmIndU16 => self.store::<2>(ra.wrapping_add(x), y)?,
            O::StoreImmIndU32 => self.store::<4>(ra.wrapping_add(x), y)?,
            O::StoreImmIndU64 => self.store::<8>(ra.wrapping_add(x), y)?,
            O::LoadImmJump => {
                set!(a, x);
                return Ok(Self::branch(true, op.target));
            }
            O::BranchEqImm => return Ok(Self::branch(ra == x, op.target)),
            O::BranchNeImm => return Ok(Self::branch(ra != x, op.target)),
            O::BranchLtUImm => return Ok(Self::branch(ra < x, op.target)),
            O::BranchLeUImm => return Ok(Self::branch(ra <= x, op.target)),
            O::BranchGeUImm => return Ok(Self::branch(ra >= x, op.target)),
            O::BranchGtUImm => return Ok(Self::branch(ra > x, op.target)),
            O::BranchLtSImm => return Ok(Self::branch((ra as i64) < (x as i64), op.target)),
            O::BranchLeSImm => return Ok(Self::branch((ra as i64) <= (x as i64), op.target)),
            O::BranchGeSImm => return Ok(Self::branch((ra as i64) >= (x as i64), op.target)),
            O::BranchGtSImm => return Ok(Self::branch((ra as i64) > (x as i64), op.target)),
            O::MoveReg => set!(d, ra),
            O::Sbrk => match self.state.memory.sbrk(lo(ra)) {
                Some(old) => set!(d, old),
                None => return Ok(Flow::Exit(Status::Panic)),
            },
            O::CountSetBits64 => set!(d, u64::from(ra.count_ones())),
            O::CountSetBits32 => set!(d, u64::from(lo(ra).count_ones())),
            O::LeadingZeroBits64 => set!(d, u64::from(ra.leading_zeros())),
            O::LeadingZeroBits32 => set!(d, u64::from(lo(ra).leading_zeros())),
            O::TrailingZeroBits64 => set!(d, u64::from(ra.trailing_zeros())),
            O::TrailingZeroBits32 => set!(d, u64::from(lo(ra).trailing_zeros())),
            O::SignExtend8 => set!(d, ra as u8 as i8 as i64 as u64),
            O::SignExtend16 => set!(d, ra as u16 as i16 as i64 as u64),
            O::ZeroExtend16 => set!(d, ra & 0xffff),
            O::ReverseBytes => set!(d, ra.swap_bytes()),
            O::StoreIndU8 => self.store::<1>(rb.wrapping_add(x), ra)?,
            O::StoreIndU16 => self.store::<2>(rb.wrapping_add(x), ra)?,
            O::StoreIndU32 => self.store::<4>(rb.wrapping_add(x), ra)?,
            O::StoreIndU64 => self.store::<8>(rb.wrapping_add(x), ra)?,
            O::LoadIndU8 => set!(a, u64::from(self.load::<1>(rb.wrapping_add(x))?[0])),
            O::LoadIndI8 => set!(a, self.load::<1>(rb.wrapping_add(x))?[0] as i8 as i64 as u64),
            O::LoadIndU16 => set!(a, u64::from(u16::from_le_bytes(self.load::<2>(rb.wrapping_add(x))?))),
            O::LoadIndI16 => set!(a, i16::from_le_bytes(self.load::<2>(rb.wrapping_add(x))?) as i64 as u64),
            O::LoadIndU32 => set!(a, u64::from(u32::from_le_bytes(self.load::<4>(rb.wrapping_add(x))?))),
            O::LoadIndI32 => set!(a, i32::from_le_bytes(self.load::<4>(rb.wrapping_add(x))?) as i64 as u64),
            O::LoadIndU64 => set!(a, u64::from_le_bytes(self.load::<8>(rb.wrapping_add(x))?)),
            O::AddImm32 => set!(a, sx32(rb.wrapping_add(x))),
            O::AndImm => set!(a, rb & x),
            O::XorImm => set!(a, rb ^ x),
            O::OrImm => set!(a, rb | x),
            O::MulImm32 => set!(a, sx32(rb.wrapping_mul(x))),
            O::SetLtUImm => set!(a, u64::from(rb < x)),
            O::SetLtSImm => set!(a, u64::from((rb as i64) < (x as i64))),
            O::ShloLImm32 => set!(a, sx32(u64::from(lo(rb) << (x % 32)))),
            O::ShloRImm32 => set!(a, sx32(u64::from(lo(rb) >> (x % 32)))),
            O::SharRImm32 => set!(a, ((lo(rb) as i32) >> (x % 32)) as i64 as u64),
            O::NegAddImm32 => set!(a, sx32(x.wrapping_sub(rb))),
            O::SetGtUImm => set!(a, u64::from(rb > x)),
            O::SetGtSImm => set!(a, u64::from((rb as i64) > (x as i64))),
            O::ShloLImmAlt32 => set!(a, sx32(u64::from(lo(x) << (rb % 32)))),
            O::ShloRImmAlt32 => set!(a, sx32(u64::from(lo(x) >> (rb % 32)))),
            O::SharRImmAlt32 => set!(a, ((lo(x) as i32) >> (rb % 32)) as i64 as u64),
            O::CmovIzImm => {
                if rb == 0 {
                    set!(a, x)
                }
            }
            O::CmovNzImm => {
                if rb != 0 {
                    set!(a, x)
                }
            }
            O::AddImm64 => set!(a, rb.wrapping_add(x)),
            O::MulImm64 => set!(a, rb.wrapping_mul(x)),
            O::ShloLImm64 => set!(a, rb << (x % 64)),
            O::ShloRImm64 => set!(a, rb >> (x % 64)),
            O::SharRImm64 => set!(a, ((rb as i64) >> (x % 64)) as u64),
            O::NegAddImm64 => set!(a, x.wrapping_sub(rb)),
            O::ShloLImmAlt64 => set!(a, x << (rb % 64)),
            O::ShloRImmAlt64 => set!(a, x >> (rb % 64)),
            O::SharRImmAlt64 => set!(a, ((x as i64) >> (rb % 64)) as u64),
            O::RotR64Imm => set!(a, rb.rotate_right((x % 64) as u32)),
            O::RotR64ImmAlt => set!(a, x.rotate_right((rb % 64) as u32)),
            O::RotR32Imm => set!(a, sx32(u64::from(lo(rb).rotate_right((x % 32) as u32)))),
            O::RotR32ImmAlt => set!(a, sx32(u64::from(lo(x).rotate_right((rb % 32) as u32)))),
            O::BranchEq => return Ok(Self::branch(ra == rb, op.target)),
            O::BranchNe => return Ok(Self::branch(ra != rb, op.target)),
            O::BranchLtU => return Ok(Self::branch(ra < rb, op.target)),
            O::BranchLtS => return Ok(Self::branch((ra as i64) < (rb as i64), op.target)),
            O::BranchGeU => return Ok(Self::branch(ra >= rb, op.target)),
            O::BranchGeS => return Ok(Self::branch((ra as i64) >= (rb as i64), op.target)),
            O::LoadImmJumpInd => {
                let address = rb.wrapping_add(y);
                set!(a, x);
                return Ok(self.djump(address));
            }
            O::Add32 => set!(d, sx32(ra.wrapping_add(rb))),
            O::Sub32 => set!(d, sx32(ra.wrapping_sub(rb))),
            O::Mul32 => set!(d, sx32(ra.wrapping_mul(rb))),
            O::DivU32 => set!(d, if lo(rb) == 0 { u64::MAX } else { sx32(u64::from(lo(ra) / lo(rb))) }),
            O::DivS32 => {
                let (p, q) = (lo(ra) as i32, lo(rb) as i32);
                set!(d, if q == 0 { u64::MAX } else { p.wrapping_div(q) as i64 as u64 })
            }
            O::RemU32 => set!(d, if lo(rb) == 0 { sx32(ra) } else { sx32(u64::from(lo(ra) % lo(rb))) }),
            O::RemS32 => {
                let (p, q) = (lo(ra) as i32, lo(rb) as i32);
                set!(d, if q == 0 { p as i64 as u64 } else { p.wrapping_rem(q) as i64 as u64 })
            }
            O::ShloL32 => set!(d, sx32(u64::from(lo(ra) << (rb % 32)))),
            O::ShloR32 => set!(d, sx32(u64::from(lo(ra) >> (rb % 32)))),
            O::SharR32 => set!(d, ((lo(ra) as i32) >> (rb % 32)) as i64 as u64),
            O::Add64 => set!(d, ra.wrapping_add(rb)),
            O::Sub64 => set!(d, ra.wrapping_sub(rb)),
            O::Mul64 => set!(d, ra.wrapping_mul(rb)),
            O::DivU64 => set!(d, ra.checked_div(rb).unwrap_or(u64::MAX)),
            O::DivS64 => set!(d, if rb == 0 { u64::MAX } else { (ra as i64).wrapping_div(rb as i64) as u64 }),
            O::RemU64 => set!(d, if rb == 0 { ra } else { ra % rb }),
            O::RemS64 => set!(d, if rb == 0 { ra } else { (ra as i64).wrapping_rem(rb as i64) as u64 }),
            O::ShloL64 => set!(d, ra << (rb % 64)),
            O::ShloR64 => set!(d, ra >> (rb % 64)),
            O::SharR64 => set!(d, ((ra as i64) >> (rb % 64)) as u64),
            O::And => set!(d, ra & rb),
            O::Xor => set!(d, ra ^ rb),
            O::Or => set!(d, ra | rb),
            O::MulUpperSS => set!(d, ((i128::from(ra as i64) * i128::from(rb as i64)) >> 64) as u64),
            O::MulUpperUU => set!(d, ((u128::from(ra) * u128::from(rb)) >> 64) as u64),
            O::MulUpperSU => set!(d, ((i128::from(ra as i64) * i128::from(rb)) >> 64) as u64),
            O::SetLtU => set!(d, u64::from(ra < rb)),
            O::SetLtS => set!(d, u64::from((ra as i64) < (rb as i64))),
            O::CmovIz => {
                if rb == 0 {
                    set!(d, ra)
                }
            }
            O::CmovNz => {
                if rb != 0 {
                    set!(d, ra)
                }
            }
            O::RotL64 => set!(d, ra.rotate_left((rb % 64) as u32)),
            O::RotL32 => set!(d, sx32(u64::from(lo(ra).rotate_left((rb % 32) as u32)))),
            O::RotR64 => set!(d, ra.rotate_right((rb % 64) as u32)),
            O::RotR32 => set!(d, sx32(u64::from(lo(ra).rotate_right((rb % 32) as u32)))),
            O::AndInv => set!(d, ra & !rb),
            O::OrInv => set!(d, ra | !rb),
            O::Xnor => set!(d, !(ra ^ rb)),
            O::Max => set!(d, (ra as i64).max(rb as i64) as u64),
            O::MaxU => set!(d, ra.max(rb)),
            O::Min => set!(d, (ra as i64).min(rb as i64) as u64),
            O::MinU => set!(d, ra.min(rb)),
        }
        Ok(Flow::Next)
    }
}

fn access_exit(e: AccessError) -> Flow {
    match e {
        AccessError::Panic => Flow::Exit(Status::Panic),
        AccessError::Fault(a) => Flow::Exit(Status::Fault(a)),
    }
}

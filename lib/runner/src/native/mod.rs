//! The native engine (x86-64 Linux): the program's basic blocks translated to machine
//! code with `dynasmrt`, run on the same [`State`] as the interpreter, with the same
//! observable outcome.
//!
//! * Gas is charged once per block at its start. When the gas left does not cover the
//!   block, the code exits and the interpreter runs the block's instructions one by one,
//!   so out-of-gas stops at exactly the instruction it would on the interpreter.
//! * Instructions the code does not handle inline (traps, host calls, `sbrk`, divisions,
//!   bit counts, jumps to invalid targets, memory accesses off the fast path) go to the
//!   interpreter one at a time through a helper, within the block; an instruction that
//!   stops the machine refunds the rest of the block, as the interpreter does.
//! * Ten guest registers and the gas live in host registers; they go back to the `Ctx`
//!   around helper calls and at exits.
//! * Loads and stores look the page up in the memory's table of read or write addresses
//!   inline (and check that the access stays in the page); anything else is the helper's.
//! * Static branches jump straight to their target's code; dynamic jumps go through a
//!   table of native addresses indexed by the jump address.
//! * After a host call the machine resumes mid-block: the interpreter runs up to the next
//!   block start, where the native code takes over again.
//!
//! All `unsafe` lives in [`code`].

#[allow(unsafe_code)]
mod code;

use crate::interpreter::{self, Flow};
use crate::program::{INVALID, Op, Program, R};
use crate::state::{State, Status};
use code::{Code, helper};
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};
use pvm_isa::Opcode;
use pvm_isa::spi::HALT_ADDRESS;
use std::mem::offset_of;

/// The machine state as the generated code sees it (`r15` points at it).
#[repr(C)]
pub(crate) struct Ctx {
    regs: [u64; 13],
    gas: i64,
    /// Per page, the address of its bytes for a load, or 0 (see `Memory::page_addresses`).
    read_addresses: *const usize,
    /// Per page, the address of its bytes for a store, or 0.
    write_addresses: *const usize,
    /// Native address of the target of each jump address up to the jump table's end, 0
    /// where it has none (`Native::jump_table`).
    jump_table: *const usize,
    /// Where execution continues after an exit (or the op that stopped the machine).
    op: u32,
    /// How the machine stopped, at [`EXIT_STATUS`]: status code and argument.
    status_code: u32,
    status_argument: u64,
    state: *mut State,
    program: *const Program,
}

/// Exit codes of the generated code (the helper returns [`NEXT`] to go on).
const NEXT: u32 = 0;
/// Continue at `Ctx::op`.
const EXIT_JUMP: u32 = 1;
/// The machine stopped (status in the `Ctx`, at `Ctx::op`).
const EXIT_STATUS: u32 = 2;
/// The gas does not cover the block at `Ctx::op`: interpret it.
const EXIT_INTERPRET: u32 = 3;

/// No native code at this op.
const NO_ENTRY: u32 = u32::MAX;

/// A program translated to native code.
pub(crate) struct Native {
    code: Code,
    /// Code offset of every block start, [`NO_ENTRY`] elsewhere.
    entries: Vec<u32>,
    /// Native address of the target of each jump address up to the jump table's end (2k + 2
    /// for entry k), 0 where the jump address is no valid entry.
    jump_table: Vec<usize>,
}

impl std::fmt::Debug for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Native").field("entries", &self.entries.len()).finish_non_exhaustive()
    }
}

impl Native {
    /// Translates `program`.
    pub(crate) fn translate(program: &Program) -> std::io::Result<Native> {
        Translator::new(program)?.translate()
    }
}

/// Runs `state` on `program` with its translation `native` until the machine stops.
pub(crate) fn run(native: &Native, program: &Program, state: &mut State) -> Status {
    loop {
        if let Some(&entry) = native.entries.get(state.op as usize)
            && entry != NO_ENTRY
        {
            let (read_addresses, write_addresses) = state.memory.page_addresses();
            let mut ctx = Ctx {
                regs: state.regs,
                gas: state.gas,
                read_addresses,
                write_addresses,
                jump_table: native.jump_table.as_ptr(),
                op: state.op,
                status_code: 0,
                status_argument: 0,
                state: &raw mut *state,
                program,
            };
            let exit = native.code.run(entry as usize, &mut ctx);
            state.regs = ctx.regs;
            state.gas = ctx.gas;
            state.op = ctx.op;
            match exit {
                EXIT_JUMP => continue,
                EXIT_STATUS => return status_from(ctx.status_code, ctx.status_argument),
                _ => {}
            }
        }
        if let Some(status) = interpreter::step(program, state) {
            return status;
        }
    }
}

fn status_from(code: u32, argument: u64) -> Status {
    match code {
        0 => Status::Halt,
        1 => Status::Panic,
        2 => Status::Fault(argument as u32),
        3 => Status::Host(argument),
        _ => Status::OutOfGas,
    }
}

/// What the helper does for the generated code: op `op` on the interpreter, inside a block
/// whose gas is charged. Returns [`NEXT`], or an exit code with `ctx` set for it.
fn execute(ctx: &mut Ctx, state: &mut State, program: &Program, op: u32) -> u32 {
    state.regs = ctx.regs;
    state.gas = ctx.gas;
    let exit = match interpreter::execute(program, state, op) {
        Flow::Next => NEXT,
        Flow::Jump(target) => {
            ctx.op = target;
            EXIT_JUMP
        }
        Flow::Exit(status) => {
            // The rest of the block is refunded, as on the interpreter.
            state.gas += i64::from(program.ops[op as usize].remaining);
            ctx.op = op;
            ctx.status_code = u32::from(status.code());
            ctx.status_argument = match status {
                Status::Fault(address) => u64::from(address),
                Status::Host(index) => index,
                _ => 0,
            };
            EXIT_STATUS
        }
    };
    ctx.regs = state.regs;
    ctx.gas = state.gas;
    (ctx.read_addresses, ctx.write_addresses) = state.memory.page_addresses();
    exit
}

const GAS: i32 = offset_of!(Ctx, gas) as i32;
const READ_ADDRESSES: i32 = offset_of!(Ctx, read_addresses) as i32;
const WRITE_ADDRESSES: i32 = offset_of!(Ctx, write_addresses) as i32;
const JUMP_TABLE: i32 = offset_of!(Ctx, jump_table) as i32;
const OP: i32 = offset_of!(Ctx, op) as i32;

/// The scratch registers of the generated code (x86 register numbers): `rax`, `rcx`
/// (shift counts) and `rdx` (the high half of wide multiplies). `r15` holds the `Ctx`.
const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;

/// The host register holding each guest register, `None` for the three kept in the
/// `Ctx` (r4, r5 and r6, the least used by compiled code): the other ten live in `rbx`,
/// `rbp`, `r12`, `r13`, `rsi`, `rdi`, `r8`–`r11`, loaded at entry and after each helper
/// call, stored back at exits and before each helper call.
const HOST: [Option<u8>; 13] =
    [Some(3), Some(5), Some(12), Some(13), None, None, None, Some(6), Some(7), Some(8), Some(9), Some(10), Some(11)];

/// The gas left lives in `r14` (in the `Ctx` around helper calls and after exits, as the
/// registers).
const GAS_REG: u8 = 14;

/// The `Ctx` offset of a guest register.
fn reg_offset(r: usize) -> i32 {
    (offset_of!(Ctx, regs) + 8 * r) as i32
}

/// Whether `x` is the sign extension of its low 32 bits (fits an x86 imm32).
fn imm32(x: u64) -> Option<i32> {
    i32::try_from(x as i64).ok()
}

/// A branch condition.
#[derive(Clone, Copy)]
enum Cond {
    Eq,
    Ne,
    LtU,
    LeU,
    GeU,
    GtU,
    LtS,
    LeS,
    GeS,
    GtS,
}

/// A two-operand operation on `rax` (first operand, result) and `rcx` (second operand).
#[derive(Clone, Copy)]
enum Alu {
    Add,
    Sub,
    Mul,
    And,
    Or,
    Xor,
    AndInv,
    OrInv,
    Xnor,
    Shl,
    Shr,
    Sar,
    Rol,
    Ror,
    Max,
    MaxU,
    Min,
    MinU,
    MulUpperUU,
    MulUpperSS,
    SetLtU,
    SetLtS,
    SetGtU,
    SetGtS,
    /// `rcx - rax`.
    NegAdd,
}

/// The operands of an [`Alu`] operation: two registers, a register and an immediate, or
/// an immediate and a register (the `_alt` forms).
#[derive(Clone, Copy)]
enum Operands {
    Regs(R, R),
    RegImm(R, u64),
    ImmReg(u64, R),
}

/// How a memory access uses its value.
#[derive(Clone, Copy)]
enum Access {
    /// Load into register `a`: width and whether it sign-extends.
    Load(u32, bool),
    /// Store register `a`: width.
    Store(u32),
    /// Store the immediate: width and value.
    StoreImm(u32, u64),
}

/// Code off the hot path, emitted after all blocks so that the hot path falls through
/// its checks without a taken jump.
enum Cold {
    /// The gas does not cover the block at op `op`: give its `gas` back and exit to
    /// interpret it.
    OutOfGas { label: DynamicLabel, op: usize, gas: u32 },
    /// A memory access off the fast path: op `op` on the helper, then on at `done`.
    Access { label: DynamicLabel, op: usize, done: DynamicLabel },
}

/// The translator: one pass over the ops.
struct Translator<'a> {
    program: &'a Program,
    asm: dynasmrt::x64::Assembler,
    /// A label per op (used at block starts).
    labels: Vec<DynamicLabel>,
    /// The common exit: registers back to the `Ctx`, return to the caller.
    exit: DynamicLabel,
    /// The helper thunk.
    helper: DynamicLabel,
    /// The cold code still to emit.
    cold: Vec<Cold>,
}

// dynasm's dynamic registers (`Rq(n)`) expand to `n.into()`, a conversion of a `u8` to itself.
#[allow(clippy::useless_conversion)]
impl<'a> Translator<'a> {
    fn new(program: &'a Program) -> std::io::Result<Self> {
        // About 48 bytes of code per op: one buffer, no regrowth.
        let mut asm = dynasmrt::x64::Assembler::new_with_capacity(64 * 1024 + 48 * program.ops.len())?;
        let labels = (0..program.ops.len()).map(|_| asm.new_dynamic_label()).collect();
        let (exit, helper) = (asm.new_dynamic_label(), asm.new_dynamic_label());
        Ok(Translator { program, asm, labels, exit, helper, cold: Vec::new() })
    }

    fn translate(mut self) -> std::io::Result<Native> {
        let enter = self.asm.offset();
        dynasm!(self.asm
            ; .arch x64
            ; push rbx
            ; push rbp
            ; push r12
            ; push r13
            ; push r14
            ; push r15
            ; sub rsp, 8
            ; mov r15, rdi
            ; mov rax, rsi
        );
        self.reload_registers();
        dynasm!(self.asm
            ; .arch x64
            ; jmp rax
            ; =>self.exit
        );
        self.spill_registers();
        dynasm!(self.asm
            ; .arch x64
            ; add rsp, 8
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop r12
            ; pop rbp
            ; pop rbx
            ; ret
            // The helper thunk: op index in `eax`; the registers go to the `Ctx` for the
            // interpreter and come back from it; the helper's answer in `eax`.
            ; =>self.helper
        );
        self.spill_registers();
        dynasm!(self.asm
            ; .arch x64
            ; mov rdi, r15
            ; mov esi, eax
            ; sub rsp, 8
            ; mov rax, QWORD helper as *const () as usize as i64
            ; call rax
            ; add rsp, 8
        );
        self.reload_registers();
        dynasm!(self.asm ; .arch x64 ; ret);
        let program = self.program;
        let mut entries = vec![NO_ENTRY; program.ops.len()];
        for (i, op) in program.ops.iter().enumerate() {
            if op.block_gas != 0 {
                entries[i] = self.asm.offset().0 as u32;
                self.block_start(i, op.block_gas);
            }
            self.op(i, op);
        }
        self.emit_cold();
        let buffer = self.asm.finalize().map_err(|_| std::io::Error::other("cannot finalise the native code"))?;
        let code = Code::new(buffer, enter);
        // Indexed by the jump address itself: entry k (address 2k + 2) at 2k + 2, 0 at
        // every other address up to the table's end.
        let mut jump_table = vec![0; 2 * program.jump_table.len() + 1];
        for (k, &t) in program.jump_table.iter().enumerate() {
            if let Some(&e) = entries.get(t as usize)
                && t != INVALID
                && e != NO_ENTRY
            {
                jump_table[2 * k + 2] = code.address(e as usize);
            }
        }
        Ok(Native { code, entries, jump_table })
    }

    /// Stores the gas and the guest registers held in host registers into the `Ctx`.
    fn spill_registers(&mut self) {
        dynasm!(self.asm ; .arch x64 ; mov QWORD [r15 + GAS], Rq(GAS_REG));
        for (r, host) in HOST.iter().enumerate() {
            if let Some(h) = *host {
                dynasm!(self.asm ; .arch x64 ; mov QWORD [r15 + reg_offset(r)], Rq(h));
            }
        }
    }

    /// Loads the gas and the guest registers held in host registers from the `Ctx`.
    fn reload_registers(&mut self) {
        dynasm!(self.asm ; .arch x64 ; mov Rq(GAS_REG), QWORD [r15 + GAS]);
        for (r, host) in HOST.iter().enumerate() {
            if let Some(h) = *host {
                dynasm!(self.asm ; .arch x64 ; mov Rq(h), QWORD [r15 + reg_offset(r)]);
            }
        }
    }

    /// Scratch register `scratch` = guest register `r`.
    fn get(&mut self, scratch: u8, r: R) {
        match HOST[r.index()] {
            Some(h) => dynasm!(self.asm ; .arch x64 ; mov Rq(scratch), Rq(h)),
            None => dynasm!(self.asm ; .arch x64 ; mov Rq(scratch), QWORD [r15 + reg_offset(r.index())]),
        }
    }

    /// The host register holding guest register `r`, loaded into `scratch` if it has none.
    fn source(&mut self, scratch: u8, r: R) -> u8 {
        match HOST[r.index()] {
            Some(h) => h,
            None => {
                self.get(scratch, r);
                scratch
            }
        }
    }

    /// Guest register `r` = scratch register `scratch`.
    fn set(&mut self, r: R, scratch: u8) {
        match HOST[r.index()] {
            Some(h) => dynasm!(self.asm ; .arch x64 ; mov Rq(h), Rq(scratch)),
            None => dynasm!(self.asm ; .arch x64 ; mov QWORD [r15 + reg_offset(r.index())], Rq(scratch)),
        }
    }

    /// Scratch register `scratch` = the 64-bit immediate `x`.
    fn imm(&mut self, scratch: u8, x: u64) {
        match imm32(x) {
            Some(0) => dynasm!(self.asm ; .arch x64 ; xor Rd(scratch), Rd(scratch)),
            Some(v) => dynasm!(self.asm ; .arch x64 ; mov Rq(scratch), v),
            None => dynasm!(self.asm ; .arch x64 ; mov Rq(scratch), QWORD x as i64),
        }
    }

    /// A block's start: its label and the gas check (the exit when the gas does not cover
    /// the block is cold code).
    fn block_start(&mut self, i: usize, gas: u32) {
        let (label, cold) = (self.labels[i], self.asm.new_dynamic_label());
        dynasm!(self.asm ; .arch x64 ; =>label);
        match i8::try_from(gas) {
            Ok(small) => dynasm!(self.asm ; .arch x64 ; sub Rq(GAS_REG), BYTE small),
            Err(_) => dynasm!(self.asm ; .arch x64 ; sub Rq(GAS_REG), gas as i32),
        }
        dynasm!(self.asm ; .arch x64 ; js =>cold);
        self.cold.push(Cold::OutOfGas { label: cold, op: i, gas });
    }

    /// Emits the cold code of every block.
    fn emit_cold(&mut self) {
        let exit = self.exit;
        for cold in std::mem::take(&mut self.cold) {
            match cold {
                Cold::OutOfGas { label, op, gas } => dynasm!(self.asm
                    ; .arch x64
                    ; =>label
                    ; add Rq(GAS_REG), gas as i32
                    ; mov DWORD [r15 + OP], op as i32
                    ; mov eax, EXIT_INTERPRET as i32
                    ; jmp =>exit
                ),
                Cold::Access { label, op, done } => {
                    dynasm!(self.asm ; .arch x64 ; =>label);
                    self.helper(op);
                    dynasm!(self.asm ; .arch x64 ; jmp =>done);
                }
            }
        }
    }

    /// Hands op `i` to the interpreter; exits when it does not go on to the next op.
    fn helper(&mut self, i: usize) {
        let (helper, exit) = (self.helper, self.exit);
        dynasm!(self.asm
            ; .arch x64
            ; mov eax, i as i32
            ; call =>helper
            ; test eax, eax
            ; jnz =>exit
        );
    }

    fn op(&mut self, i: usize, op: &Op) {
        use Opcode as O;
        let (a, b, d) = (op.a, op.b, op.d);
        let (x, y) = (op.imm1, op.imm2);
        macro_rules! asm {
            ($($t:tt)*) => { dynasm!(self.asm ; .arch x64 $($t)*) };
        }
        let regs = Operands::Regs(a, b);
        let reg_imm = Operands::RegImm(b, x);
        let imm_reg = Operands::ImmReg(x, b);
        match op.kind {
            O::Fallthrough => {}
            O::LoadImm | O::LoadImm64 => {
                self.imm(RAX, x);
                self.set(a, RAX);
            }
            O::MoveReg => {
                self.get(RAX, a);
                self.set(d, RAX);
            }
            O::Jump if op.target != INVALID => {
                let l = self.labels[op.target as usize];
                asm!(; jmp =>l);
            }
            O::LoadImmJump if op.target != INVALID => {
                let l = self.labels[op.target as usize];
                self.imm(RAX, x);
                self.set(a, RAX);
                asm!(; jmp =>l);
            }
            O::BranchEq | O::BranchNe | O::BranchLtU | O::BranchLtS | O::BranchGeU | O::BranchGeS
                if op.target != INVALID =>
            {
                let ha = self.source(RAX, a);
                let hb = self.source(RCX, b);
                asm!(; cmp Rq(ha), Rq(hb));
                let cond = match op.kind {
                    O::BranchEq => Cond::Eq,
                    O::BranchNe => Cond::Ne,
                    O::BranchLtU => Cond::LtU,
                    O::BranchLtS => Cond::LtS,
                    O::BranchGeU => Cond::GeU,
                    _ => Cond::GeS,
                };
                self.jcc(cond, op.target);
            }
            O::BranchEqImm
            | O::BranchNeImm
            | O::BranchLtUImm
            | O::BranchLeUImm
            | O::BranchGeUImm
            | O::BranchGtUImm
            | O::BranchLtSImm
            | O::BranchLeSImm
            | O::BranchGeSImm
            | O::BranchGtSImm
                if op.target != INVALID =>
            {
                let ha = self.source(RAX, a);
                match imm32(x) {
                    Some(v) => asm!(; cmp Rq(ha), v),
                    None => {
                        self.imm(RCX, x);
                        asm!(; cmp Rq(ha), rcx);
                    }
                }
                let cond = match op.kind {
                    O::BranchEqImm => Cond::Eq,
                    O::BranchNeImm => Cond::Ne,
                    O::BranchLtUImm => Cond::LtU,
                    O::BranchLeUImm => Cond::LeU,
                    O::BranchGeUImm => Cond::GeU,
                    O::BranchGtUImm => Cond::GtU,
                    O::BranchLtSImm => Cond::LtS,
                    O::BranchLeSImm => Cond::LeS,
                    O::BranchGeSImm => Cond::GeS,
                    _ => Cond::GtS,
                };
                self.jcc(cond, op.target);
            }
            O::JumpInd => {
                self.get(RAX, a);
                asm!(; add eax, x as u32 as i32);
                self.dynamic_jump(i, None);
            }
            O::LoadImmJumpInd => {
                self.get(RAX, b);
                asm!(; add eax, y as u32 as i32);
                self.dynamic_jump(i, Some((a, x)));
            }
            O::Add64 => self.alu(Alu::Add, true, regs, d),
            O::Sub64 => self.alu(Alu::Sub, true, regs, d),
            O::Mul64 => self.alu(Alu::Mul, true, regs, d),
            O::And => self.alu(Alu::And, true, regs, d),
            O::Or => self.alu(Alu::Or, true, regs, d),
            O::Xor => self.alu(Alu::Xor, true, regs, d),
            O::AndInv => self.alu(Alu::AndInv, true, regs, d),
            O::OrInv => self.alu(Alu::OrInv, true, regs, d),
            O::Xnor => self.alu(Alu::Xnor, true, regs, d),
            O::ShloL64 => self.alu(Alu::Shl, true, regs, d),
            O::ShloR64 => self.alu(Alu::Shr, true, regs, d),
            O::SharR64 => self.alu(Alu::Sar, true, regs, d),
            O::RotL64 => self.alu(Alu::Rol, true, regs, d),
            O::RotR64 => self.alu(Alu::Ror, true, regs, d),
            O::Max => self.alu(Alu::Max, true, regs, d),
            O::MaxU => self.alu(Alu::MaxU, true, regs, d),
            O::Min => self.alu(Alu::Min, true, regs, d),
            O::MinU => self.alu(Alu::MinU, true, regs, d),
            O::MulUpperUU => self.alu(Alu::MulUpperUU, true, regs, d),
            O::MulUpperSS => self.alu(Alu::MulUpperSS, true, regs, d),
            O::SetLtU => self.alu(Alu::SetLtU, true, regs, d),
            O::SetLtS => self.alu(Alu::SetLtS, true, regs, d),
            O::Add32 => self.alu(Alu::Add, false, regs, d),
            O::Sub32 => self.alu(Alu::Sub, false, regs, d),
            O::Mul32 => self.alu(Alu::Mul, false, regs, d),
            O::ShloL32 => self.alu(Alu::Shl, false, regs, d),
            O::ShloR32 => self.alu(Alu::Shr, false, regs, d),
            O::SharR32 => self.alu(Alu::Sar, false, regs, d),
            O::RotL32 => self.alu(Alu::Rol, false, regs, d),
            O::RotR32 => self.alu(Alu::Ror, false, regs, d),
            O::AddImm64 => self.alu(Alu::Add, true, reg_imm, a),
            O::AndImm => self.alu(Alu::And, true, reg_imm, a),
            O::XorImm => self.alu(Alu::Xor, true, reg_imm, a),
            O::OrImm => self.alu(Alu::Or, true, reg_imm, a),
            O::MulImm64 => self.alu(Alu::Mul, true, reg_imm, a),
            O::NegAddImm64 => self.alu(Alu::NegAdd, true, reg_imm, a),
            O::ShloLImm64 => self.alu(Alu::Shl, true, reg_imm, a),
            O::ShloRImm64 => self.alu(Alu::Shr, true, reg_imm, a),
            O::SharRImm64 => self.alu(Alu::Sar, true, reg_imm, a),
            O::RotR64Imm => self.alu(Alu::Ror, true, reg_imm, a),
            O::ShloLImmAlt64 => self.alu(Alu::Shl, true, imm_reg, a),
            O::ShloRImmAlt64 => self.alu(Alu::Shr, true, imm_reg, a),
            O::SharRImmAlt64 => self.alu(Alu::Sar, true, imm_reg, a),
            O::RotR64ImmAlt => self.alu(Alu::Ror, true, imm_reg, a),
            O::SetLtUImm => self.alu(Alu::SetLtU, true, reg_imm, a),
            O::SetLtSImm => self.alu(Alu::SetLtS, true, reg_imm, a),
            O::SetGtUImm => self.alu(Alu::SetGtU, true, reg_imm, a),
            O::SetGtSImm => self.alu(Alu::SetGtS, true, reg_imm, a),
            O::AddImm32 => self.alu(Alu::Add, false, reg_imm, a),
            O::MulImm32 => self.alu(Alu::Mul, false, reg_imm, a),
            O::NegAddImm32 => self.alu(Alu::NegAdd, false, reg_imm, a),
            O::ShloLImm32 => self.alu(Alu::Shl, false, reg_imm, a),
            O::ShloRImm32 => self.alu(Alu::Shr, false, reg_imm, a),
            O::SharRImm32 => self.alu(Alu::Sar, false, reg_imm, a),
            O::RotR32Imm => self.alu(Alu::Ror, false, reg_imm, a),
            O::ShloLImmAlt32 => self.alu(Alu::Shl, false, imm_reg, a),
            O::ShloRImmAlt32 => self.alu(Alu::Shr, false, imm_reg, a),
            O::SharRImmAlt32 => self.alu(Alu::Sar, false, imm_reg, a),
            O::RotR32ImmAlt => self.alu(Alu::Ror, false, imm_reg, a),
            O::CmovIz | O::CmovNz | O::CmovIzImm | O::CmovNzImm => {
                // d = (b == 0) == (kind is "iz") ? a (or the immediate) : d.
                let dest = if matches!(op.kind, O::CmovIz | O::CmovNz) { d } else { a };
                self.get(RAX, dest);
                if matches!(op.kind, O::CmovIz | O::CmovNz) {
                    self.get(RDX, a);
                } else {
                    self.imm(RDX, x);
                }
                let hb = self.source(RCX, b);
                asm!(; test Rq(hb), Rq(hb));
                if matches!(op.kind, O::CmovIz | O::CmovIzImm) {
                    asm!(; cmove rax, rdx);
                } else {
                    asm!(; cmovne rax, rdx);
                }
                self.set(dest, RAX);
            }
            O::SignExtend8 => {
                let ha = self.source(RCX, a);
                asm!(; movsx rax, Rb(ha));
                self.set(d, RAX);
            }
            O::SignExtend16 => {
                let ha = self.source(RCX, a);
                asm!(; movsx rax, Rw(ha));
                self.set(d, RAX);
            }
            O::ZeroExtend16 => {
                let ha = self.source(RCX, a);
                asm!(; movzx eax, Rw(ha));
                self.set(d, RAX);
            }
            O::ReverseBytes => {
                self.get(RAX, a);
                asm!(; bswap rax);
                self.set(d, RAX);
            }
            O::LoadU8 | O::LoadI8 | O::LoadU16 | O::LoadI16 | O::LoadU32 | O::LoadI32 | O::LoadU64 => {
                self.access_at(i, x as u32, a, access(op.kind, y));
            }
            O::LoadIndU8
            | O::LoadIndI8
            | O::LoadIndU16
            | O::LoadIndI16
            | O::LoadIndU32
            | O::LoadIndI32
            | O::LoadIndU64
            | O::StoreIndU8
            | O::StoreIndU16
            | O::StoreIndU32
            | O::StoreIndU64 => {
                self.address(b, x);
                self.access(i, a, access(op.kind, y));
            }
            O::StoreU8 | O::StoreU16 | O::StoreU32 | O::StoreU64 => {
                self.access_at(i, x as u32, a, access(op.kind, y));
            }
            O::StoreImmU8 | O::StoreImmU16 | O::StoreImmU32 | O::StoreImmU64 => {
                self.access_at(i, x as u32, a, access(op.kind, y));
            }
            O::StoreImmIndU8 | O::StoreImmIndU16 | O::StoreImmIndU32 | O::StoreImmIndU64 => {
                self.address(a, x);
                self.access(i, a, access(op.kind, y));
            }
            _ => self.helper(i),
        }
    }

    /// `dest` = the [`Alu`] operation on `operands`, on 64 bits or on 32 bits with the
    /// result sign-extended.
    fn alu(&mut self, alu: Alu, wide: bool, operands: Operands, dest: R) {
        if matches!(alu, Alu::Add | Alu::Sub | Alu::And | Alu::Or | Alu::Xor)
            && let Some(hd) = HOST[dest.index()]
            && self.alu_in_place(alu, wide, operands, hd)
        {
            return;
        }
        match operands {
            Operands::Regs(first, second) => {
                self.get(RAX, first);
                self.get(RCX, second);
            }
            Operands::RegImm(first, x) => {
                self.get(RAX, first);
                self.imm(RCX, x);
            }
            Operands::ImmReg(x, second) => {
                self.get(RCX, second);
                self.imm(RAX, x);
            }
        }
        macro_rules! asm {
            ($($t:tt)*) => { dynasm!(self.asm ; .arch x64 $($t)*) };
        }
        match (alu, wide) {
            (Alu::Add, true) => asm!(; add rax, rcx),
            (Alu::Add, false) => asm!(; add eax, ecx),
            (Alu::Sub, true) => asm!(; sub rax, rcx),
            (Alu::Sub, false) => asm!(; sub eax, ecx),
            (Alu::Mul, true) => asm!(; imul rax, rcx),
            (Alu::Mul, false) => asm!(; imul eax, ecx),
            (Alu::NegAdd, true) => asm!(; neg rax ; add rax, rcx),
            (Alu::NegAdd, false) => asm!(; neg eax ; add eax, ecx),
            (Alu::Shl, true) => asm!(; shl rax, cl),
            (Alu::Shl, false) => asm!(; shl eax, cl),
            (Alu::Shr, true) => asm!(; shr rax, cl),
            (Alu::Shr, false) => asm!(; shr eax, cl),
            (Alu::Sar, true) => asm!(; sar rax, cl),
            (Alu::Sar, false) => asm!(; sar eax, cl),
            (Alu::Rol, true) => asm!(; rol rax, cl),
            (Alu::Rol, false) => asm!(; rol eax, cl),
            (Alu::Ror, true) => asm!(; ror rax, cl),
            (Alu::Ror, false) => asm!(; ror eax, cl),
            (Alu::And, _) => asm!(; and rax, rcx),
            (Alu::Or, _) => asm!(; or rax, rcx),
            (Alu::Xor, _) => asm!(; xor rax, rcx),
            (Alu::AndInv, _) => asm!(; not rcx ; and rax, rcx),
            (Alu::OrInv, _) => asm!(; not rcx ; or rax, rcx),
            (Alu::Xnor, _) => asm!(; xor rax, rcx ; not rax),
            (Alu::Max, _) => asm!(; cmp rax, rcx ; cmovl rax, rcx),
            (Alu::MaxU, _) => asm!(; cmp rax, rcx ; cmovb rax, rcx),
            (Alu::Min, _) => asm!(; cmp rax, rcx ; cmovg rax, rcx),
            (Alu::MinU, _) => asm!(; cmp rax, rcx ; cmova rax, rcx),
            (Alu::MulUpperUU, _) => asm!(; mul rcx ; mov rax, rdx),
            (Alu::MulUpperSS, _) => asm!(; imul rcx ; mov rax, rdx),
            (Alu::SetLtU, _) => asm!(; xor edx, edx ; cmp rax, rcx ; setb dl ; mov eax, edx),
            (Alu::SetLtS, _) => asm!(; xor edx, edx ; cmp rax, rcx ; setl dl ; mov eax, edx),
            (Alu::SetGtU, _) => asm!(; xor edx, edx ; cmp rax, rcx ; seta dl ; mov eax, edx),
            (Alu::SetGtS, _) => asm!(; xor edx, edx ; cmp rax, rcx ; setg dl ; mov eax, edx),
        }
        if !wide {
            asm!(; movsxd rax, eax);
        }
        self.set(dest, RAX);
    }

    /// A simple [`Alu`] operation (add, sub, and, or, xor) computed in the destination's
    /// host register `hd` itself, when the operands allow; returns whether it did.
    fn alu_in_place(&mut self, alu: Alu, wide: bool, operands: Operands, hd: u8) -> bool {
        let (first, second) = match operands {
            Operands::Regs(first, second) => (first, Ok(second)),
            Operands::RegImm(first, x) => match imm32(x) {
                Some(v) => (first, Err(v)),
                None => return false,
            },
            Operands::ImmReg(..) => return false,
        };
        let second = match second {
            Ok(r) => {
                let hs = self.source(RCX, r);
                if hs == hd && first != r {
                    return false;
                }
                Ok(hs)
            }
            Err(v) => Err(v),
        };
        let hf = self.source(RAX, first);
        macro_rules! asm {
            ($($t:tt)*) => { dynasm!(self.asm ; .arch x64 $($t)*) };
        }
        match (second, alu, wide) {
            (Err(v), Alu::Add, true) => asm!(; lea Rq(hd), [Rq(hf) + v]),
            _ if hf != hd => asm!(; mov Rq(hd), Rq(hf)),
            _ => {}
        }
        match (second, alu, wide) {
            (Err(_), Alu::Add, true) => {}
            (Err(v), Alu::Add, false) => asm!(; add Rd(hd), v),
            (Err(v), Alu::Sub, true) => asm!(; sub Rq(hd), v),
            (Err(v), Alu::Sub, false) => asm!(; sub Rd(hd), v),
            (Err(v), Alu::And, _) => asm!(; and Rq(hd), v),
            (Err(v), Alu::Or, _) => asm!(; or Rq(hd), v),
            (Err(v), Alu::Xor, _) => asm!(; xor Rq(hd), v),
            (Ok(hs), Alu::Add, true) => asm!(; add Rq(hd), Rq(hs)),
            (Ok(hs), Alu::Add, false) => asm!(; add Rd(hd), Rd(hs)),
            (Ok(hs), Alu::Sub, true) => asm!(; sub Rq(hd), Rq(hs)),
            (Ok(hs), Alu::Sub, false) => asm!(; sub Rd(hd), Rd(hs)),
            (Ok(hs), Alu::And, _) => asm!(; and Rq(hd), Rq(hs)),
            (Ok(hs), Alu::Or, _) => asm!(; or Rq(hd), Rq(hs)),
            (Ok(hs), Alu::Xor, _) => asm!(; xor Rq(hd), Rq(hs)),
            _ => unreachable!("only add, sub, and, or, xor are computed in place"),
        }
        if !wide {
            asm!(; movsxd Rq(hd), Rd(hd));
        }
        true
    }

    /// Jumps to op `target`'s code when the flags say `cond`.
    fn jcc(&mut self, cond: Cond, target: u32) {
        let l = self.labels[target as usize];
        match cond {
            Cond::Eq => dynasm!(self.asm ; .arch x64 ; je =>l),
            Cond::Ne => dynasm!(self.asm ; .arch x64 ; jne =>l),
            Cond::LtU => dynasm!(self.asm ; .arch x64 ; jb =>l),
            Cond::LeU => dynasm!(self.asm ; .arch x64 ; jbe =>l),
            Cond::GeU => dynasm!(self.asm ; .arch x64 ; jae =>l),
            Cond::GtU => dynasm!(self.asm ; .arch x64 ; ja =>l),
            Cond::LtS => dynasm!(self.asm ; .arch x64 ; jl =>l),
            Cond::LeS => dynasm!(self.asm ; .arch x64 ; jle =>l),
            Cond::GeS => dynasm!(self.asm ; .arch x64 ; jge =>l),
            Cond::GtS => dynasm!(self.asm ; .arch x64 ; jg =>l),
        }
    }

    /// A dynamic jump to the address in `eax` through the native jump table; the halt
    /// address and invalid targets go to the helper. `set` is the register write of
    /// `load_imm_jump_ind`, done once the jump is known to succeed.
    fn dynamic_jump(&mut self, i: usize, set: Option<(R, u64)>) {
        let table_len = self.program.jump_table.len();
        match i32::try_from(2 * table_len) {
            // (The halt address is above every table's limit.)
            Ok(limit) if table_len > 0 && (limit as u32) < HALT_ADDRESS => {
                let slow = self.asm.new_dynamic_label();
                dynasm!(self.asm
                    ; .arch x64
                    ; cmp eax, limit
                    ; ja =>slow
                    ; mov rcx, QWORD [r15 + JUMP_TABLE]
                    ; mov rcx, QWORD [rcx + rax * 8]
                    ; test rcx, rcx
                    ; jz =>slow
                );
                if let Some((a, x)) = set {
                    self.imm(RAX, x);
                    self.set(a, RAX);
                }
                dynasm!(self.asm ; .arch x64 ; jmp rcx ; =>slow);
                self.helper(i);
            }
            _ => self.helper(i),
        }
    }

    /// `eax` = the 32-bit address register `base` + `offset`.
    fn address(&mut self, base: R, offset: u64) {
        match HOST[base.index()] {
            Some(h) => dynasm!(self.asm ; .arch x64 ; lea eax, [Rq(h) + offset as u32 as i32]),
            None => {
                self.get(RAX, base);
                dynasm!(self.asm ; .arch x64 ; add eax, offset as u32 as i32);
            }
        }
    }

    /// A load or store at the fixed address `address`: its page and offset are known, so
    /// only the page's entry is looked up; an access across a page end goes to the helper.
    fn access_at(&mut self, i: usize, address: u32, a: R, access: Access) {
        let (width, addresses) = access.width_and_table();
        let offset = address & 0xfff;
        if offset + width > 0x1000 {
            self.helper(i);
            return;
        }
        let (slow, done) = (self.asm.new_dynamic_label(), self.asm.new_dynamic_label());
        dynasm!(self.asm
            ; .arch x64
            ; mov rdx, QWORD [r15 + addresses]
            ; mov rdx, QWORD [rdx + ((address >> 12) * 8) as i32]
            ; test rdx, rdx
            ; jz =>slow
            ; mov eax, offset as i32
        );
        self.access_page(a, access);
        dynasm!(self.asm ; .arch x64 ; =>done);
        self.cold.push(Cold::Access { label: slow, op: i, done });
    }

    /// A load or store at the address in `eax` (the value from register `a` or the
    /// immediate): inline when the access stays in one page and the memory's table of
    /// read (or write) addresses has the page; else the helper runs the instruction.
    fn access(&mut self, i: usize, a: R, access: Access) {
        let (width, addresses) = access.width_and_table();
        let (slow, done) = (self.asm.new_dynamic_label(), self.asm.new_dynamic_label());
        if width > 1 {
            dynasm!(self.asm
                ; .arch x64
                ; lea ecx, [rax + (width - 1) as i32]
                ; xor ecx, eax
                ; test ecx, !0xfff
                ; jnz =>slow
            );
        }
        dynasm!(self.asm
            ; .arch x64
            ; mov ecx, eax
            ; shr ecx, 12
            ; mov rdx, QWORD [r15 + addresses]
            ; mov rdx, QWORD [rdx + rcx * 8]
            ; test rdx, rdx
            ; jz =>slow
            ; and eax, 0xfff
        );
        self.access_page(a, access);
        dynasm!(self.asm ; .arch x64 ; =>done);
        self.cold.push(Cold::Access { label: slow, op: i, done });
    }

    /// The access itself: at offset `eax` of the page whose bytes are at `rdx`.
    fn access_page(&mut self, a: R, access: Access) {
        match access {
            Access::Load(w, signed) => {
                match (w, signed) {
                    (1, false) => dynasm!(self.asm ; .arch x64 ; movzx eax, BYTE [rdx + rax]),
                    (1, true) => dynasm!(self.asm ; .arch x64 ; movsx rax, BYTE [rdx + rax]),
                    (2, false) => dynasm!(self.asm ; .arch x64 ; movzx eax, WORD [rdx + rax]),
                    (2, true) => dynasm!(self.asm ; .arch x64 ; movsx rax, WORD [rdx + rax]),
                    (4, false) => dynasm!(self.asm ; .arch x64 ; mov eax, DWORD [rdx + rax]),
                    (4, true) => dynasm!(self.asm ; .arch x64 ; movsxd rax, DWORD [rdx + rax]),
                    _ => dynasm!(self.asm ; .arch x64 ; mov rax, QWORD [rdx + rax]),
                }
                self.set(a, RAX);
            }
            Access::Store(w) | Access::StoreImm(w, _) => {
                let value = match access {
                    Access::StoreImm(_, v) => {
                        self.imm(RCX, v);
                        RCX
                    }
                    _ => self.source(RCX, a),
                };
                match w {
                    1 => dynasm!(self.asm ; .arch x64 ; mov BYTE [rdx + rax], Rb(value)),
                    2 => dynasm!(self.asm ; .arch x64 ; mov WORD [rdx + rax], Rw(value)),
                    4 => dynasm!(self.asm ; .arch x64 ; mov DWORD [rdx + rax], Rd(value)),
                    _ => dynasm!(self.asm ; .arch x64 ; mov QWORD [rdx + rax], Rq(value)),
                }
            }
        }
    }
}

impl Access {
    /// The width in bytes, and the `Ctx` offset of the table of page addresses it uses.
    fn width_and_table(self) -> (u32, i32) {
        match self {
            Access::Load(w, _) => (w, READ_ADDRESSES),
            Access::Store(w) | Access::StoreImm(w, _) => (w, WRITE_ADDRESSES),
        }
    }
}

/// The memory access of a load or store opcode (`imm` is the value of a `store_imm*`).
fn access(kind: Opcode, imm: u64) -> Access {
    let name = kind.mnemonic();
    let suffix = name.rsplit('_').next().unwrap_or_default();
    let width = match &suffix[1..] {
        "8" => 1,
        "16" => 2,
        "32" => 4,
        _ => 8,
    };
    match kind {
        _ if name.starts_with("store_imm") => Access::StoreImm(width, imm),
        _ if name.starts_with("store") => Access::Store(width),
        _ => Access::Load(width, suffix.starts_with('i')),
    }
}

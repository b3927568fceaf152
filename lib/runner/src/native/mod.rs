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
//! * Loads and stores check the page table inline (mapped, writable, allocated, above
//!   0x10000, within one page); anything else is the helper's.
//! * Static branches jump straight to their target's code; dynamic jumps go through a
//!   table of native addresses built from the program's jump table.
//! * After a host call the machine resumes mid-block: the interpreter runs up to the next
//!   block start, where the native code takes over again.
//!
//! All `unsafe` lives in [`code`].

#[allow(unsafe_code)]
mod code;

use crate::interpreter::{self, Flow};
use crate::program::{INVALID, Op, Program};
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
    /// The memory's page table.
    table: *const u32,
    /// The memory's page pool.
    pool: *const *mut u8,
    /// Native address of each jump-table entry's target, 0 where it has none.
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
    /// Native address of every jump-table entry's target, 0 for invalid entries.
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
            let (table, pool) = state.memory.raw_parts();
            let mut ctx = Ctx {
                regs: state.regs,
                gas: state.gas,
                table,
                pool,
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
    (ctx.table, ctx.pool) = state.memory.raw_parts();
    exit
}

const GAS: i32 = offset_of!(Ctx, gas) as i32;
const TABLE: i32 = offset_of!(Ctx, table) as i32;
const POOL: i32 = offset_of!(Ctx, pool) as i32;
const JUMP_TABLE: i32 = offset_of!(Ctx, jump_table) as i32;
const OP: i32 = offset_of!(Ctx, op) as i32;

/// The `Ctx` offset of a guest register.
fn reg(r: crate::program::R) -> i32 {
    (offset_of!(Ctx, regs) + 8 * r.index()) as i32
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

/// How a memory access uses its value.
#[derive(Clone, Copy)]
enum Access {
    /// Load into register `a`: width and whether it sign-extends.
    Load(u32, bool),
    /// Store the value in `r8`: width.
    Store(u32),
}

/// The translator: one pass over the ops.
struct Translator<'a> {
    program: &'a Program,
    asm: dynasmrt::x64::Assembler,
    /// A label per op (used at block starts).
    labels: Vec<DynamicLabel>,
}

impl<'a> Translator<'a> {
    fn new(program: &'a Program) -> std::io::Result<Self> {
        let mut asm = dynasmrt::x64::Assembler::new()?;
        let labels = (0..program.ops.len()).map(|_| asm.new_dynamic_label()).collect();
        Ok(Translator { program, asm, labels })
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
            ; jmp rsi
            ; ->exit:
            ; add rsp, 8
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop r12
            ; pop rbp
            ; pop rbx
            ; ret
        );
        let program = self.program;
        let mut entries = vec![NO_ENTRY; program.ops.len()];
        for (i, op) in program.ops.iter().enumerate() {
            if op.block_gas != 0 {
                entries[i] = self.asm.offset().0 as u32;
                self.block_start(i, op.block_gas);
            }
            self.op(i, op);
        }
        let buffer = self.asm.finalize().map_err(|_| std::io::Error::other("cannot finalise the native code"))?;
        let code = Code::new(buffer, enter);
        let jump_table = program
            .jump_table
            .iter()
            .map(|&t| match entries.get(t as usize) {
                Some(&e) if t != INVALID && e != NO_ENTRY => code.address(e as usize),
                _ => 0,
            })
            .collect();
        Ok(Native { code, entries, jump_table })
    }

    /// A block's start: its label and the gas check.
    fn block_start(&mut self, i: usize, gas: u32) {
        let label = self.labels[i];
        dynasm!(self.asm
            ; .arch x64
            ; =>label
            ; sub QWORD [r15 + GAS], gas as i32
            ; jns >ok
            ; add QWORD [r15 + GAS], gas as i32
            ; mov DWORD [r15 + OP], i as i32
            ; mov eax, EXIT_INTERPRET as i32
            ; jmp ->exit
            ; ok:
        );
    }

    /// Hands op `i` to the interpreter; exits when it does not go on to the next op.
    fn helper(&mut self, i: usize) {
        dynasm!(self.asm
            ; .arch x64
            ; mov rdi, r15
            ; mov esi, i as i32
            ; mov rax, QWORD helper as *const () as usize as i64
            ; call rax
            ; test eax, eax
            ; jnz ->exit
        );
    }

    /// `rax` = the 64-bit immediate `x`.
    fn imm_to_rcx(&mut self, x: u64) {
        dynasm!(self.asm ; .arch x64 ; mov rcx, QWORD x as i64);
    }

    fn op(&mut self, i: usize, op: &Op) {
        use Opcode as O;
        let (a, b, d) = (reg(op.a), reg(op.b), reg(op.d));
        let (x, y) = (op.imm1, op.imm2);
        macro_rules! asm {
            ($($t:tt)*) => { dynasm!(self.asm ; .arch x64 $($t)*) };
        }
        // Three-register 64-bit operation: rd = ra OP rb.
        macro_rules! alu64 {
            ($($t:tt)*) => {{ asm!(; mov rax, QWORD [r15 + a] $($t)* ; mov QWORD [r15 + d], rax); }};
        }
        // Three-register 32-bit operation, result sign-extended.
        macro_rules! alu32 {
            ($($t:tt)*) => {{ asm!(; mov eax, DWORD [r15 + a] $($t)* ; movsxd rax, eax ; mov QWORD [r15 + d], rax); }};
        }
        // Register-immediate 64-bit operation: ra = rb OP x (x in rcx).
        macro_rules! imm64 {
            ($($t:tt)*) => {{ self.imm_to_rcx(x); asm!(; mov rax, QWORD [r15 + b] $($t)* ; mov QWORD [r15 + a], rax); }};
        }
        // Register-immediate 32-bit operation, result sign-extended.
        macro_rules! imm32op {
            ($($t:tt)*) => {{ self.imm_to_rcx(x); asm!(; mov eax, DWORD [r15 + b] $($t)* ; movsxd rax, eax ; mov QWORD [r15 + a], rax); }};
        }
        match op.kind {
            O::Fallthrough => {}
            O::LoadImm | O::LoadImm64 => {
                self.imm_to_rcx(x);
                asm!(; mov QWORD [r15 + a], rcx);
            }
            O::MoveReg => asm!(; mov rax, QWORD [r15 + a] ; mov QWORD [r15 + d], rax),
            O::Jump if op.target != INVALID => {
                let l = self.labels[op.target as usize];
                asm!(; jmp =>l);
            }
            O::LoadImmJump if op.target != INVALID => {
                let l = self.labels[op.target as usize];
                self.imm_to_rcx(x);
                asm!(; mov QWORD [r15 + a], rcx ; jmp =>l);
            }
            O::BranchEq | O::BranchNe | O::BranchLtU | O::BranchLtS | O::BranchGeU | O::BranchGeS
                if op.target != INVALID =>
            {
                asm!(; mov rax, QWORD [r15 + a] ; cmp rax, QWORD [r15 + b]);
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
                match imm32(x) {
                    Some(v) => asm!(; cmp QWORD [r15 + a], v),
                    None => {
                        self.imm_to_rcx(x);
                        asm!(; cmp QWORD [r15 + a], rcx);
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
                asm!(; mov eax, DWORD [r15 + a] ; add eax, x as u32 as i32);
                self.dynamic_jump(i, None);
            }
            O::LoadImmJumpInd => {
                asm!(; mov eax, DWORD [r15 + b] ; add eax, y as u32 as i32);
                self.dynamic_jump(i, Some((a, x)));
            }
            O::Add64 => alu64!(; add rax, QWORD [r15 + b]),
            O::Sub64 => alu64!(; sub rax, QWORD [r15 + b]),
            O::Mul64 => alu64!(; imul rax, QWORD [r15 + b]),
            O::And => alu64!(; and rax, QWORD [r15 + b]),
            O::Or => alu64!(; or rax, QWORD [r15 + b]),
            O::Xor => alu64!(; xor rax, QWORD [r15 + b]),
            O::AndInv => alu64!(; mov rcx, QWORD [r15 + b] ; not rcx ; and rax, rcx),
            O::OrInv => alu64!(; mov rcx, QWORD [r15 + b] ; not rcx ; or rax, rcx),
            O::Xnor => alu64!(; xor rax, QWORD [r15 + b] ; not rax),
            O::ShloL64 => alu64!(; mov rcx, QWORD [r15 + b] ; shl rax, cl),
            O::ShloR64 => alu64!(; mov rcx, QWORD [r15 + b] ; shr rax, cl),
            O::SharR64 => alu64!(; mov rcx, QWORD [r15 + b] ; sar rax, cl),
            O::RotL64 => alu64!(; mov rcx, QWORD [r15 + b] ; rol rax, cl),
            O::RotR64 => alu64!(; mov rcx, QWORD [r15 + b] ; ror rax, cl),
            O::Max => alu64!(; mov rcx, QWORD [r15 + b] ; cmp rax, rcx ; cmovl rax, rcx),
            O::MaxU => alu64!(; mov rcx, QWORD [r15 + b] ; cmp rax, rcx ; cmovb rax, rcx),
            O::Min => alu64!(; mov rcx, QWORD [r15 + b] ; cmp rax, rcx ; cmovg rax, rcx),
            O::MinU => alu64!(; mov rcx, QWORD [r15 + b] ; cmp rax, rcx ; cmova rax, rcx),
            O::MulUpperUU => alu64!(; mul QWORD [r15 + b] ; mov rax, rdx),
            O::MulUpperSS => alu64!(; imul QWORD [r15 + b] ; mov rax, rdx),
            O::SetLtU => alu64!(; xor ecx, ecx ; cmp rax, QWORD [r15 + b] ; setb cl ; mov rax, rcx),
            O::SetLtS => alu64!(; xor ecx, ecx ; cmp rax, QWORD [r15 + b] ; setl cl ; mov rax, rcx),
            O::CmovIz => asm!(
                ; mov rax, QWORD [r15 + d] ; cmp QWORD [r15 + b], 0 ; cmove rax, QWORD [r15 + a]
                ; mov QWORD [r15 + d], rax),
            O::CmovNz => asm!(
                ; mov rax, QWORD [r15 + d] ; cmp QWORD [r15 + b], 0 ; cmovne rax, QWORD [r15 + a]
                ; mov QWORD [r15 + d], rax),
            O::Add32 => alu32!(; add eax, DWORD [r15 + b]),
            O::Sub32 => alu32!(; sub eax, DWORD [r15 + b]),
            O::Mul32 => alu32!(; imul eax, DWORD [r15 + b]),
            O::ShloL32 => alu32!(; mov ecx, DWORD [r15 + b] ; shl eax, cl),
            O::ShloR32 => alu32!(; mov ecx, DWORD [r15 + b] ; shr eax, cl),
            O::SharR32 => alu32!(; mov ecx, DWORD [r15 + b] ; sar eax, cl),
            O::RotL32 => alu32!(; mov ecx, DWORD [r15 + b] ; rol eax, cl),
            O::RotR32 => alu32!(; mov ecx, DWORD [r15 + b] ; ror eax, cl),
            O::SignExtend8 => asm!(; movsx rax, BYTE [r15 + a] ; mov QWORD [r15 + d], rax),
            O::SignExtend16 => asm!(; movsx rax, WORD [r15 + a] ; mov QWORD [r15 + d], rax),
            O::ZeroExtend16 => asm!(; movzx eax, WORD [r15 + a] ; mov QWORD [r15 + d], rax),
            O::ReverseBytes => asm!(; mov rax, QWORD [r15 + a] ; bswap rax ; mov QWORD [r15 + d], rax),
            O::AddImm64 => imm64!(; add rax, rcx),
            O::AndImm => imm64!(; and rax, rcx),
            O::XorImm => imm64!(; xor rax, rcx),
            O::OrImm => imm64!(; or rax, rcx),
            O::MulImm64 => imm64!(; imul rax, rcx),
            O::NegAddImm64 => imm64!(; neg rax ; add rax, rcx),
            O::ShloLImm64 => imm64!(; shl rax, cl),
            O::ShloRImm64 => imm64!(; shr rax, cl),
            O::SharRImm64 => imm64!(; sar rax, cl),
            O::RotR64Imm => imm64!(; ror rax, cl),
            O::ShloLImmAlt64 => imm64!(; xchg rax, rcx ; shl rax, cl),
            O::ShloRImmAlt64 => imm64!(; xchg rax, rcx ; shr rax, cl),
            O::SharRImmAlt64 => imm64!(; xchg rax, rcx ; sar rax, cl),
            O::RotR64ImmAlt => imm64!(; xchg rax, rcx ; ror rax, cl),
            O::SetLtUImm => imm64!(; xor edx, edx ; cmp rax, rcx ; setb dl ; mov rax, rdx),
            O::SetLtSImm => imm64!(; xor edx, edx ; cmp rax, rcx ; setl dl ; mov rax, rdx),
            O::SetGtUImm => imm64!(; xor edx, edx ; cmp rax, rcx ; seta dl ; mov rax, rdx),
            O::SetGtSImm => imm64!(; xor edx, edx ; cmp rax, rcx ; setg dl ; mov rax, rdx),
            O::CmovIzImm => {
                self.imm_to_rcx(x);
                asm!(; mov rax, QWORD [r15 + a] ; cmp QWORD [r15 + b], 0 ; cmove rax, rcx ; mov QWORD [r15 + a], rax);
            }
            O::CmovNzImm => {
                self.imm_to_rcx(x);
                asm!(; mov rax, QWORD [r15 + a] ; cmp QWORD [r15 + b], 0 ; cmovne rax, rcx ; mov QWORD [r15 + a], rax);
            }
            O::AddImm32 => imm32op!(; add eax, ecx),
            O::MulImm32 => imm32op!(; imul eax, ecx),
            O::NegAddImm32 => imm32op!(; neg eax ; add eax, ecx),
            O::ShloLImm32 => imm32op!(; shl eax, cl),
            O::ShloRImm32 => imm32op!(; shr eax, cl),
            O::SharRImm32 => imm32op!(; sar eax, cl),
            O::RotR32Imm => imm32op!(; ror eax, cl),
            O::ShloLImmAlt32 => imm32op!(; xchg eax, ecx ; shl eax, cl),
            O::ShloRImmAlt32 => imm32op!(; xchg eax, ecx ; shr eax, cl),
            O::SharRImmAlt32 => imm32op!(; xchg eax, ecx ; sar eax, cl),
            O::RotR32ImmAlt => imm32op!(; xchg eax, ecx ; ror eax, cl),
            O::LoadU8 | O::LoadI8 | O::LoadU16 | O::LoadI16 | O::LoadU32 | O::LoadI32 | O::LoadU64 => {
                asm!(; mov eax, x as u32 as i32);
                self.access(i, op.a, load_access(op.kind));
            }
            O::LoadIndU8
            | O::LoadIndI8
            | O::LoadIndU16
            | O::LoadIndI16
            | O::LoadIndU32
            | O::LoadIndI32
            | O::LoadIndU64 => {
                asm!(; mov eax, DWORD [r15 + b] ; add eax, x as u32 as i32);
                self.access(i, op.a, load_access(op.kind));
            }
            O::StoreU8 | O::StoreU16 | O::StoreU32 | O::StoreU64 => {
                asm!(; mov r8, QWORD [r15 + a] ; mov eax, x as u32 as i32);
                self.access(i, op.a, Access::Store(store_width(op.kind)));
            }
            O::StoreIndU8 | O::StoreIndU16 | O::StoreIndU32 | O::StoreIndU64 => {
                asm!(; mov r8, QWORD [r15 + a] ; mov eax, DWORD [r15 + b] ; add eax, x as u32 as i32);
                self.access(i, op.a, Access::Store(store_width(op.kind)));
            }
            O::StoreImmU8 | O::StoreImmU16 | O::StoreImmU32 | O::StoreImmU64 => {
                asm!(; mov r8, QWORD y as i64 ; mov eax, x as u32 as i32);
                self.access(i, op.a, Access::Store(store_width(op.kind)));
            }
            O::StoreImmIndU8 | O::StoreImmIndU16 | O::StoreImmIndU32 | O::StoreImmIndU64 => {
                asm!(; mov r8, QWORD y as i64 ; mov eax, DWORD [r15 + a] ; add eax, x as u32 as i32);
                self.access(i, op.a, Access::Store(store_width(op.kind)));
            }
            _ => self.helper(i),
        }
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
    fn dynamic_jump(&mut self, i: usize, set: Option<(i32, u64)>) {
        let table_len = self.program.jump_table.len();
        match i32::try_from(2 * table_len) {
            Ok(limit) if table_len > 0 => {
                dynasm!(self.asm
                    ; .arch x64
                    ; cmp eax, HALT_ADDRESS as i32
                    ; je >slow
                    ; test eax, eax
                    ; jz >slow
                    ; test al, 1
                    ; jnz >slow
                    ; cmp eax, limit
                    ; ja >slow
                    ; shr eax, 1
                    ; mov rcx, QWORD [r15 + JUMP_TABLE]
                    ; mov rcx, QWORD [rcx + rax * 8 - 8]
                    ; test rcx, rcx
                    ; jz >slow
                );
                if let Some((a, x)) = set {
                    dynasm!(self.asm ; .arch x64 ; mov rdx, QWORD x as i64 ; mov QWORD [r15 + a], rdx);
                }
                dynasm!(self.asm ; .arch x64 ; jmp rcx ; slow:);
                self.helper(i);
            }
            _ => self.helper(i),
        }
    }

    /// A load or store at the address in `eax` (the value to store in `r8`): inline when
    /// the page is mapped (writable for a store), allocated and the access stays in it
    /// above 0x10000; else the helper runs the instruction.
    fn access(&mut self, i: usize, a: crate::program::R, access: Access) {
        use crate::memory::{MAPPED, RESERVED, SLOT_SHIFT, WRITABLE};
        let width = match access {
            Access::Load(w, _) | Access::Store(w) => w,
        };
        let last_offset = (4096 - width) as i32;
        let flags = (match access {
            Access::Load(..) => MAPPED,
            Access::Store(_) => MAPPED | WRITABLE,
        }) as i32;
        dynasm!(self.asm
            ; .arch x64
            ; cmp eax, RESERVED as i32
            ; jb >slow
            ; mov ecx, eax
            ; and ecx, 0xfff
            ; cmp ecx, last_offset
            ; ja >slow
            ; mov edx, eax
            ; shr edx, 12
            ; mov rsi, QWORD [r15 + TABLE]
            ; mov edx, DWORD [rsi + rdx * 4]
            ; mov edi, edx
            ; and edi, flags
            ; cmp edi, flags
            ; jne >slow
            ; shr edx, SLOT_SHIFT as i8
            ; jz >slow
            ; mov rsi, QWORD [r15 + POOL]
            ; mov rsi, QWORD [rsi + rdx * 8]
        );
        let dest = reg(a);
        match access {
            Access::Load(1, false) => dynasm!(self.asm ; .arch x64 ; movzx eax, BYTE [rsi + rcx]),
            Access::Load(1, true) => dynasm!(self.asm ; .arch x64 ; movsx rax, BYTE [rsi + rcx]),
            Access::Load(2, false) => dynasm!(self.asm ; .arch x64 ; movzx eax, WORD [rsi + rcx]),
            Access::Load(2, true) => dynasm!(self.asm ; .arch x64 ; movsx rax, WORD [rsi + rcx]),
            Access::Load(4, false) => dynasm!(self.asm ; .arch x64 ; mov eax, DWORD [rsi + rcx]),
            Access::Load(4, true) => dynasm!(self.asm ; .arch x64 ; movsxd rax, DWORD [rsi + rcx]),
            Access::Load(..) => dynasm!(self.asm ; .arch x64 ; mov rax, QWORD [rsi + rcx]),
            Access::Store(1) => dynasm!(self.asm ; .arch x64 ; mov BYTE [rsi + rcx], r8b),
            Access::Store(2) => dynasm!(self.asm ; .arch x64 ; mov WORD [rsi + rcx], r8w),
            Access::Store(4) => dynasm!(self.asm ; .arch x64 ; mov DWORD [rsi + rcx], r8d),
            Access::Store(_) => dynasm!(self.asm ; .arch x64 ; mov QWORD [rsi + rcx], r8),
        }
        if let Access::Load(..) = access {
            dynasm!(self.asm ; .arch x64 ; mov QWORD [r15 + dest], rax);
        }
        dynasm!(self.asm ; .arch x64 ; jmp >done ; slow:);
        self.helper(i);
        dynasm!(self.asm ; .arch x64 ; done:);
    }
}

fn load_access(kind: Opcode) -> Access {
    use Opcode as O;
    match kind {
        O::LoadU8 | O::LoadIndU8 => Access::Load(1, false),
        O::LoadI8 | O::LoadIndI8 => Access::Load(1, true),
        O::LoadU16 | O::LoadIndU16 => Access::Load(2, false),
        O::LoadI16 | O::LoadIndI16 => Access::Load(2, true),
        O::LoadU32 | O::LoadIndU32 => Access::Load(4, false),
        O::LoadI32 | O::LoadIndI32 => Access::Load(4, true),
        _ => Access::Load(8, false),
    }
}

fn store_width(kind: Opcode) -> u32 {
    use Opcode as O;
    match kind {
        O::StoreU8 | O::StoreIndU8 | O::StoreImmU8 | O::StoreImmIndU8 => 1,
        O::StoreU16 | O::StoreIndU16 | O::StoreImmU16 | O::StoreImmIndU16 => 2,
        O::StoreU32 | O::StoreIndU32 | O::StoreImmU32 | O::StoreImmIndU32 => 4,
        _ => 8,
    }
}

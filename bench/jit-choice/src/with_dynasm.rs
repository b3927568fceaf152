//! The loop translated with `dynasmrt`, emitting exactly what the engine emits
//! (`lib/runner/src/native/mod.rs`): one preallocated assembler, dynamic labels only.

use crate::Code;
use crate::exec;
use crate::pvm::{BLOCK, Block, Ctx, EXIT_HALT, EXIT_INTERPRET, GAS, GAS_REG, HOST, Op, RAX, RCX, Reg, reg_offset};
use dynasmrt::{AssemblyOffset, DynamicLabel, DynasmApi, DynasmLabelApi, ExecutableBuffer, dynasm};

/// Translated code: the buffer, the trampoline's offset and each block's.
pub struct Dynasm {
    buffer: ExecutableBuffer,
    enter: AssemblyOffset,
    blocks: Vec<AssemblyOffset>,
}

impl Code for Dynasm {
    fn run(&self, block: usize, ctx: &mut Ctx) -> u32 {
        // SAFETY: the trampoline and the block start are of this buffer, which lives.
        unsafe { exec::enter(self.buffer.ptr(self.enter), self.buffer.ptr(self.blocks[block]), ctx) }
    }

    fn size(&self) -> usize {
        self.buffer.len()
    }

    fn block_size(&self, block: usize) -> usize {
        self.blocks[block + 1].0 - self.blocks[block].0
    }
}

/// `dynasm!` for x86-64 on `$asm`.
macro_rules! x64 {
    ($asm:expr $(; $($t:tt)*)?) => { dynasm!($asm ; .arch x64 $(; $($t)*)?) };
}

// dynasm's dynamic registers (`Rq(n)`) expand to `n.into()`, a conversion of a `u8` to itself.
#[allow(clippy::useless_conversion)]
pub fn translate(program: &[Block]) -> Dynasm {
    let instructions: usize = program.iter().map(Block::instructions).sum();
    let mut asm = dynasmrt::x64::Assembler::new_with_capacity(4096 + 48 * instructions).expect("an executable buffer");
    let labels: Vec<DynamicLabel> = program.iter().map(|_| asm.new_dynamic_label()).collect();
    let exit = asm.new_dynamic_label();
    let enter = asm.offset();
    x64!(asm ; push rbx ; push rbp ; push r12 ; push r13 ; push r14 ; push r15 ; sub rsp, 8 ; mov r15, rdi ; mov rax, rsi);
    x64!(asm ; mov Rq(GAS_REG), QWORD [r15 + GAS]);
    for (r, host) in HOST.iter().enumerate() {
        if let Some(h) = *host {
            x64!(asm ; mov Rq(h), QWORD [r15 + reg_offset(r)]);
        }
    }
    x64!(asm ; jmp rax ; =>exit ; mov QWORD [r15 + GAS], Rq(GAS_REG));
    for (r, host) in HOST.iter().enumerate() {
        if let Some(h) = *host {
            x64!(asm ; mov QWORD [r15 + reg_offset(r)], Rq(h));
        }
    }
    x64!(asm ; add rsp, 8 ; pop r15 ; pop r14 ; pop r13 ; pop r12 ; pop rbp ; pop rbx ; ret);

    let mut blocks = Vec::with_capacity(program.len() + 1);
    for (i, block) in program.iter().enumerate() {
        blocks.push(asm.offset());
        let ok = asm.new_dynamic_label();
        x64!(asm
            ; =>labels[i]
            ; sub Rq(GAS_REG), block.gas as i32
            ; jns =>ok
            ; add Rq(GAS_REG), block.gas as i32
            ; mov DWORD [r15 + BLOCK], i as i32
            ; mov eax, EXIT_INTERPRET as i32
            ; jmp =>exit
            ; =>ok
        );
        for &op in &block.ops {
            match op {
                Op::LoadImm(a, x) => {
                    match i32::try_from(x as i64) {
                        Ok(0) => x64!(asm ; xor eax, eax),
                        Ok(v) => x64!(asm ; mov rax, v),
                        Err(_) => x64!(asm ; mov rax, QWORD x as i64),
                    }
                    set(&mut asm, a, RAX);
                }
                Op::Add32(d, a, b) => {
                    let hd = HOST[d].expect("the loop's destinations live in host registers");
                    let hs = source(&mut asm, RCX, b);
                    let hf = source(&mut asm, RAX, a);
                    if hf != hd {
                        x64!(asm ; mov Rq(hd), Rq(hf));
                    }
                    x64!(asm ; add Rd(hd), Rd(hs) ; movsxd Rq(hd), Rd(hd));
                }
                Op::AddImm32(d, a, v) => {
                    let hd = HOST[d].expect("the loop's destinations live in host registers");
                    let hf = source(&mut asm, RAX, a);
                    if hf != hd {
                        x64!(asm ; mov Rq(hd), Rq(hf));
                    }
                    x64!(asm ; add Rd(hd), v ; movsxd Rq(hd), Rd(hd));
                }
                Op::MoveReg(d, a) => {
                    get(&mut asm, RAX, a);
                    set(&mut asm, d, RAX);
                }
                Op::BranchNeImm(a, v, target) => {
                    let ha = source(&mut asm, RAX, a);
                    x64!(asm ; cmp Rq(ha), v ; jne =>labels[target]);
                }
                Op::Fallthrough => {}
                Op::Halt => x64!(asm ; mov DWORD [r15 + BLOCK], i as i32 ; mov eax, EXIT_HALT as i32 ; jmp =>exit),
            }
        }
    }
    blocks.push(asm.offset());
    let buffer = asm.finalize().expect("no other user of the assembler");
    Dynasm { buffer, enter, blocks }
}

/// Scratch register `scratch` = guest register `r`.
#[allow(clippy::useless_conversion)]
fn get(asm: &mut dynasmrt::x64::Assembler, scratch: u8, r: Reg) {
    match HOST[r] {
        Some(h) => x64!(asm ; mov Rq(scratch), Rq(h)),
        None => x64!(asm ; mov Rq(scratch), QWORD [r15 + reg_offset(r)]),
    }
}

/// The host register holding guest register `r`, loaded into `scratch` if it has none.
fn source(asm: &mut dynasmrt::x64::Assembler, scratch: u8, r: Reg) -> u8 {
    HOST[r].unwrap_or_else(|| {
        get(asm, scratch, r);
        scratch
    })
}

/// Guest register `r` = scratch register `scratch`.
#[allow(clippy::useless_conversion)]
fn set(asm: &mut dynasmrt::x64::Assembler, r: Reg, scratch: u8) {
    match HOST[r] {
        Some(h) => x64!(asm ; mov Rq(h), Rq(scratch)),
        None => x64!(asm ; mov QWORD [r15 + reg_offset(r)], Rq(scratch)),
    }
}

//! The loop translated with `iced-x86`'s code assembler, the same instructions as the
//! engine's `dynasmrt` code: the assembler collects the instructions, then encodes them
//! at once (choosing short or near branches), and the bytes are copied into an
//! executable mapping.

use crate::Code;
use crate::exec;
use crate::pvm::{BLOCK, Block, Ctx, EXIT_HALT, EXIT_INTERPRET, GAS, GAS_REG, HOST, Op, RAX, RCX, Reg, reg_offset};
use iced_x86::code_asm::{
    AsmRegister32, AsmRegister64, CodeAssembler, CodeLabel, IcedError, dword_ptr, eax, ebp, ebx, ecx, edi, edx, esi,
    esp, qword_ptr, r8, r8d, r9, r9d, r10, r10d, r11, r11d, r12, r12d, r13, r13d, r14, r14d, r15, r15d, rax, rbp, rbx,
    rcx, rdi, rdx, rsi, rsp,
};
use iced_x86::{BlockEncoderOptions, Instruction, Register};
use memmap2::Mmap;

/// The 64-bit registers by x86 number.
const Q: [AsmRegister64; 16] = [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15];
/// The 32-bit registers by x86 number.
const D: [AsmRegister32; 16] = [eax, ecx, edx, ebx, esp, ebp, esi, edi, r8d, r9d, r10d, r11d, r12d, r13d, r14d, r15d];

/// Translated code: the executable mapping, the trampoline's offset and each block's.
pub struct Iced {
    code: Mmap,
    enter: usize,
    blocks: Vec<usize>,
}

impl Code for Iced {
    fn run(&self, block: usize, ctx: &mut Ctx) -> u32 {
        let base = self.code.as_ptr();
        // SAFETY: the trampoline and the block start are offsets of this mapping, which
        // lives; `add` stays inside it.
        unsafe { exec::enter(base.add(self.enter), base.add(self.blocks[block]), ctx) }
    }

    fn size(&self) -> usize {
        self.code.len()
    }

    fn block_size(&self, block: usize) -> usize {
        self.blocks[block + 1] - self.blocks[block]
    }
}

pub fn translate(program: &[Block]) -> Iced {
    assemble(program).expect("the loop's instructions all encode")
}

fn assemble(program: &[Block]) -> Result<Iced, IcedError> {
    let mut a = CodeAssembler::new(64)?;
    let mut labels: Vec<CodeLabel> = program.iter().map(|_| a.create_label()).collect();
    // One more label after the last block, for the code size of each block.
    let mut end = a.create_label();
    let mut exit = a.create_label();
    let mut enter = a.create_label();
    a.set_label(&mut enter)?;
    a.push(rbx)?;
    a.push(rbp)?;
    a.push(r12)?;
    a.push(r13)?;
    a.push(r14)?;
    a.push(r15)?;
    a.sub(rsp, 8)?;
    a.mov(r15, rdi)?;
    a.mov(rax, rsi)?;
    a.mov(Q[GAS_REG as usize], qword_ptr(r15 + GAS))?;
    for (r, host) in HOST.iter().enumerate() {
        if let Some(h) = *host {
            a.mov(Q[h as usize], qword_ptr(r15 + reg_offset(r)))?;
        }
    }
    a.jmp(rax)?;
    a.set_label(&mut exit)?;
    a.mov(qword_ptr(r15 + GAS), Q[GAS_REG as usize])?;
    for (r, host) in HOST.iter().enumerate() {
        if let Some(h) = *host {
            a.mov(qword_ptr(r15 + reg_offset(r)), Q[h as usize])?;
        }
    }
    a.add(rsp, 8)?;
    a.pop(r15)?;
    a.pop(r14)?;
    a.pop(r13)?;
    a.pop(r12)?;
    a.pop(rbp)?;
    a.pop(rbx)?;
    a.ret()?;

    for (i, block) in program.iter().enumerate() {
        let mut ok = a.create_label();
        a.set_label(&mut labels[i])?;
        a.sub(Q[GAS_REG as usize], block.gas as i32)?;
        a.jns(ok)?;
        a.add(Q[GAS_REG as usize], block.gas as i32)?;
        a.mov(dword_ptr(r15 + BLOCK), i as u32)?;
        a.mov(eax, EXIT_INTERPRET)?;
        a.jmp(exit)?;
        // (A label marks the next instruction: every block has one after its gas check.)
        a.set_label(&mut ok)?;
        for &op in &block.ops {
            match op {
                Op::LoadImm(r, x) => {
                    match i32::try_from(x as i64) {
                        Ok(0) => a.xor(eax, eax)?,
                        // The code assembler's `mov r64, i32` is the 10-byte form: the sign-extended
                        // imm32 form takes an `Instruction` of its own.
                        Ok(v) => {
                            a.add_instruction(Instruction::with2(iced_x86::Code::Mov_rm64_imm32, Register::RAX, v)?)?
                        }
                        Err(_) => a.mov(rax, x)?,
                    }
                    set(&mut a, r, RAX)?;
                }
                Op::Add32(d, f, s) => {
                    let hd = HOST[d].expect("the loop's destinations live in host registers") as usize;
                    let hs = source(&mut a, RCX, s)? as usize;
                    let hf = source(&mut a, RAX, f)? as usize;
                    if hf != hd {
                        a.mov(Q[hd], Q[hf])?;
                    }
                    a.add(D[hd], D[hs])?;
                    a.movsxd(Q[hd], D[hd])?;
                }
                Op::AddImm32(d, f, v) => {
                    let hd = HOST[d].expect("the loop's destinations live in host registers") as usize;
                    let hf = source(&mut a, RAX, f)? as usize;
                    if hf != hd {
                        a.mov(Q[hd], Q[hf])?;
                    }
                    a.add(D[hd], v)?;
                    a.movsxd(Q[hd], D[hd])?;
                }
                Op::MoveReg(d, s) => {
                    get(&mut a, RAX, s)?;
                    set(&mut a, d, RAX)?;
                }
                Op::BranchNeImm(r, v, target) => {
                    let h = source(&mut a, RAX, r)? as usize;
                    a.cmp(Q[h], v)?;
                    a.jne(labels[target])?;
                }
                Op::Fallthrough => {}
                Op::Halt => {
                    a.mov(dword_ptr(r15 + BLOCK), i as u32)?;
                    a.mov(eax, EXIT_HALT)?;
                    a.jmp(exit)?;
                }
            }
        }
    }
    a.set_label(&mut end)?;
    a.int3()?;
    // Branches are relative and nothing refers outside the code: encoded at 0, it runs
    // wherever it is copied.
    let result = a.assemble_options(0, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS)?;
    let offset = |label: &CodeLabel| result.label_ip(label).map(|ip| ip as usize);
    let blocks = labels.iter().chain([&end]).map(offset).collect::<Result<Vec<_>, _>>()?;
    let enter = offset(&enter)?;
    let bytes = &result.inner.code_buffer;
    let mut map = memmap2::MmapMut::map_anon(bytes.len()).expect("an anonymous mapping");
    map.copy_from_slice(bytes);
    let code = map.make_exec().expect("an executable mapping");
    Ok(Iced { code, enter, blocks })
}

/// Scratch register `scratch` = guest register `r`.
fn get(a: &mut CodeAssembler, scratch: u8, r: Reg) -> Result<(), IcedError> {
    match HOST[r] {
        Some(h) => a.mov(Q[scratch as usize], Q[h as usize]),
        None => a.mov(Q[scratch as usize], qword_ptr(r15 + reg_offset(r))),
    }
}

/// The host register holding guest register `r`, loaded into `scratch` if it has none.
fn source(a: &mut CodeAssembler, scratch: u8, r: Reg) -> Result<u8, IcedError> {
    match HOST[r] {
        Some(h) => Ok(h),
        None => get(a, scratch, r).map(|()| scratch),
    }
}

/// Guest register `r` = scratch register `scratch`.
fn set(a: &mut CodeAssembler, r: Reg, scratch: u8) -> Result<(), IcedError> {
    match HOST[r] {
        Some(h) => a.mov(Q[h as usize], Q[scratch as usize]),
        None => a.mov(qword_ptr(r15 + reg_offset(r)), Q[scratch as usize]),
    }
}

//! The machine state every engine works on — registers, memory, gas, the position of
//! the next instruction — and [`Status`], how a run ended. Embedders see it through
//! [`crate::Instance`] and host calls through these accessors; engines change it
//! directly.

use crate::memory::Memory;
use crate::program::{INVALID, Program};
use pvm_isa::Opcode;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Regular halt (a dynamic jump to the halt address).
    Halt,
    /// Panic: trap, invalid instruction or jump, reserved memory, write to read-only memory.
    Panic,
    /// Page fault at this page address.
    Fault(u32),
    /// Host call with this index (the `ecalli` immediate).
    Host(u64),
    /// Out of gas.
    OutOfGas,
}

impl Status {
    /// The status number the reference implementation uses (0 HALT, 1 PANIC, 2 FAULT,
    /// 3 HOST, 4 OOG).
    pub fn code(self) -> u8 {
        match self {
            Status::Halt => 0,
            Status::Panic => 1,
            Status::Fault(_) => 2,
            Status::Host(_) => 3,
            Status::OutOfGas => 4,
        }
    }

    /// The exit code: the fault address, the host-call index (low 32 bits), else 0 (see
    /// [`crate::Instance::exit_code`] for the exception after a `trap`).
    pub fn exit_code(self) -> u32 {
        match self {
            Status::Fault(a) => a,
            Status::Host(i) => i as u32,
            _ => 0,
        }
    }

    /// The status name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Halt => "HALT",
            Status::Panic => "PANIC",
            Status::Fault(_) => "FAULT",
            Status::Host(_) => "HOST",
            Status::OutOfGas => "OOG",
        }
    }
}

/// Registers, memory, gas and position of a machine.
#[derive(Debug, Clone)]
pub struct State {
    pub(crate) regs: [u64; 13],
    pub(crate) memory: Memory,
    pub(crate) gas: i64,
    /// Op index of the next instruction (or of the one that stopped the machine), or
    /// [`INVALID`] when `start_pc` starts no op.
    pub(crate) op: u32,
    /// Code offset where execution starts when `op` is [`INVALID`].
    pub(crate) start_pc: u32,
    /// Index of the last host call the machine resumed after.
    pub(crate) last_resumed_host_call: Option<u64>,
}

impl State {
    /// A state with the given registers, memory and gas, at code offset `pc` of `program`.
    pub fn new(program: &Program, regs: [u64; 13], memory: Memory, gas: i64, pc: u32) -> Self {
        let mut state = State { regs, memory, gas, op: INVALID, start_pc: pc, last_resumed_host_call: None };
        state.set_pc(program, pc);
        state
    }

    /// The registers.
    pub fn regs(&self) -> &[u64; 13] {
        &self.regs
    }

    /// The registers, to change.
    pub fn regs_mut(&mut self) -> &mut [u64; 13] {
        &mut self.regs
    }

    /// The memory.
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// The memory, to read (reads may materialise pages) or change.
    pub fn memory_mut(&mut self) -> &mut Memory {
        &mut self.memory
    }

    /// Gas left.
    pub fn gas(&self) -> i64 {
        self.gas
    }

    /// Sets the gas left.
    pub fn set_gas(&mut self, gas: i64) {
        self.gas = gas;
    }

    /// Moves execution to code offset `pc`.
    pub(crate) fn set_pc(&mut self, program: &Program, pc: u32) {
        self.op = program.op_at.get(pc as usize).copied().unwrap_or(INVALID);
        self.start_pc = pc;
    }

    /// The code offset of the next instruction (or of the one that stopped the machine).
    pub(crate) fn pc(&self, program: &Program) -> u32 {
        program.pcs.get(self.op as usize).copied().unwrap_or(self.start_pc)
    }

    /// Continues after a host call: at the instruction after the `ecalli`.
    pub(crate) fn resume_after_host_call(&mut self, program: &Program) {
        if let Some(op) = program.ops.get(self.op as usize) {
            if op.kind == Opcode::Ecalli {
                self.last_resumed_host_call = Some(op.imm1);
            }
            self.op += 1;
        }
    }

    /// The exit code of a run that ended with `status` (see [`crate::Instance::exit_code`]).
    pub(crate) fn exit_code(&self, program: &Program, status: Status) -> u32 {
        let at_trap_instruction =
            program.instructions.get(self.op as usize).is_some_and(|i| i.is_some_and(|i| i.opcode == Opcode::Trap));
        match status {
            Status::Panic if at_trap_instruction => self.last_resumed_host_call.unwrap_or(0) as u32,
            other => other.exit_code(),
        }
    }

    /// The result: memory `[r7, r8)` when r7 < r8, at most 1 MiB, all readable; else empty.
    pub(crate) fn result(&mut self) -> Vec<u8> {
        let (start, end) = (self.regs[7] as u32, self.regs[8] as u32);
        if start >= end || end - start > 1 << 20 {
            return Vec::new();
        }
        self.memory.read_bytes(start, end - start).unwrap_or_default()
    }
}

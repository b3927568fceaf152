//! Every `unsafe` operation of the native engine, in one place: calling the generated
//! machine code, and the helper through which that code hands one instruction to the
//! interpreter.
//!
//! Invariants the generated code keeps (established by `super::Translator`, which is the
//! only writer of the buffer):
//!
//! * It is entered only through the trampoline at `enter`, with a pointer to a live
//!   [`Ctx`] and the address of a block start of the same buffer; it returns through the
//!   trampoline's epilogue, restoring every callee-saved register and the stack.
//! * It reads and writes only the [`Ctx`] (registers, gas, position), its own stack frame,
//!   and guest memory through the read and write address tables of the `Ctx`
//!   (`Memory::page_addresses`): an access goes to `table[address >> 12] + (address &
//!   0xfff)` only when that entry is nonzero and the access does not cross the page end;
//!   `Memory` keeps every nonzero entry pointing at 4 KiB it owns for as long as it
//!   lives, and the tables do not move. Every other
//!   access goes through [`helper`], i.e. the interpreter.
//! * Guest registers held in host registers are stored into the `Ctx` before every call of
//!   [`helper`] and at every exit, and reloaded after each call, so that the interpreter
//!   and the host only ever see the `Ctx`.
//! * It jumps only to labels of its own buffer: static targets resolved at translation,
//!   dynamic ones through the native jump table of the `Ctx`, whose entries are block
//!   starts of this buffer or 0 (then the helper handles the jump).
//! * It calls only [`helper`], with the stack 16-byte aligned.

use super::Ctx;
use dynasmrt::{AssemblyOffset, ExecutableBuffer};

/// Translated machine code with its trampoline.
pub(super) struct Code {
    buffer: ExecutableBuffer,
    enter: AssemblyOffset,
}

/// The signature of the trampoline: the context and the block-start address to run.
type Trampoline = extern "sysv64" fn(*mut Ctx, *const u8) -> u32;

impl Code {
    /// Code in `buffer` whose trampoline starts at `enter`.
    pub(super) fn new(buffer: ExecutableBuffer, enter: AssemblyOffset) -> Self {
        Code { buffer, enter }
    }

    /// The address of `offset` in the code (for the native jump table).
    pub(super) fn address(&self, offset: usize) -> usize {
        self.buffer.ptr(AssemblyOffset(offset)) as usize
    }

    /// Runs the block starting at `offset` (a block start the translator recorded) on
    /// `ctx` until the code exits; returns its exit code.
    pub(super) fn run(&self, offset: usize, ctx: &mut Ctx) -> u32 {
        debug_assert!(offset < self.buffer.len());
        // SAFETY: `enter` is the trampoline the translator emitted, with the System V
        // signature of `Trampoline`; the buffer is executable and lives as long as `self`.
        let trampoline: Trampoline = unsafe { std::mem::transmute(self.buffer.ptr(self.enter)) };
        trampoline(ctx, self.buffer.ptr(AssemblyOffset(offset)))
    }
}

/// Called by the generated code to execute op `op` on the interpreter (see
/// `super::execute`). The pointer is the `Ctx` the trampoline was given.
pub(super) extern "sysv64" fn helper(ctx: *mut Ctx, op: u32) -> u32 {
    // SAFETY: the generated code passes the `Ctx` pointer it was entered with, which
    // `Code::run` took from a `&mut Ctx` that outlives the call; while the helper runs the
    // generated code holds no other access to it. `state` and `program` were set by
    // `super::run` from a `&mut State` and a `&Program` that are not otherwise used until
    // the generated code returns.
    let ctx = unsafe { &mut *ctx };
    let (state, program) = unsafe { (&mut *ctx.state, &*ctx.program) };
    super::execute(ctx, state, program, op)
}

//! The one `unsafe` operation of the prototype: entering generated code.
//!
//! Both backends emit the engine's trampoline: it saves the callee-saved registers,
//! takes the `Ctx` in `rdi` and a block address of the same code in `rsi`, loads the
//! guest registers and the gas, jumps to the block, and returns an exit code in `eax`
//! after storing them back. The generated code reads and writes only the `Ctx` and its
//! own stack frame, and jumps only inside its own code.

use crate::pvm::Ctx;

/// The trampoline's signature.
type Trampoline = extern "sysv64" fn(*mut Ctx, *const u8) -> u32;

/// Runs the code from `block` through `trampoline` on `ctx`; returns the exit code.
///
/// # Safety
///
/// `trampoline` and `block` must point into one live executable buffer written by a
/// backend of this crate: the trampoline it emitted and a block start it recorded.
pub unsafe fn enter(trampoline: *const u8, block: *const u8, ctx: &mut Ctx) -> u32 {
    // SAFETY: the caller guarantees `trampoline` is the emitted trampoline, which has the
    // System V signature of `Trampoline` and keeps the invariants above.
    let trampoline: Trampoline = unsafe { std::mem::transmute(trampoline) };
    trampoline(ctx, block)
}

//! The address checks the front end puts before memory accesses
//! (`abi::Pseudo::AddressCheck`, docs/memory.md): which ones the back end drops, and what
//! the others do.
//!
//! `check(outside, a, g)` stands for accesses of up to `g` bytes from WebAssembly address
//! `a` (offset plus size, rounded up to a tier), with `outside = a > MEMORY_LIMIT - g`
//! computed by the front end (LLVM drops the checks where it proves `outside` false). An
//! access that is not outside ends at or below `abi::MEMORY_LIMIT`: in linear memory or in
//! the unmapped pages above it, where a page fault stops it. The hot path is one branch on
//! `outside` (`MInst::AddressCheck`, a compare and branch in the middle of its block), to a
//! rare path after the function's code that lets the access go ahead only when its address
//! lands in the argument zone (PVM addresses from `ARGS_START` up to 2^32, where `main`'s
//! `args_ptr` points), and otherwise traps. The argument pages are read-only and the rest
//! of that zone, and the 64 KiB below it, are unmapped; so an access within 64 KiB of such
//! an address reads the arguments or faults (past 2^32 it lands in the reserved low
//! 64 KiB, which panics), and a store faults. Checks of larger reaches trap at once. The
//! rare path uses no register but the address, so the register allocator sees one use.

use crate::backend::import::canonical;
use crate::backend::lir::{Callee, Function, Inst, InstId, Op, Value};
use pvm_isa::spi::{ARGS_START, ZONE_SIZE};
use std::collections::HashMap;

/// The largest reach that may pass through the argument zone.
pub const ARGS_REACH: u64 = ZONE_SIZE as u64;

/// The WebAssembly addresses of the argument zone for a memory based at `memory_base`, as
/// canonical 32-bit bounds `[low, high)`: from `ARGS_START` to 2^32 in PVM addresses.
pub fn zone(memory_base: u64) -> (u64, u64) {
    let low = u64::from(ARGS_START) - memory_base;
    let high = (1 << 32) - memory_base;
    (canonical(low, 32), canonical(high, 32))
}

/// `(outside, address, reach)` of an address check.
fn check_of(inst: &Inst) -> Option<(Value, Value, Value)> {
    match &inst.op {
        Op::Call { callee: Callee::AddressCheck, args } if args.len() == 3 => Some((args[0], args[1], args[2])),
        _ => None,
    }
}

/// The checks of `f` that only stores use (indexed by instruction): an address in the
/// argument zone is of no use to them, since a store there faults, so their rare path
/// traps at once. A check counts as read from when anything but the address of a store
/// uses it, directly or through an address computation.
pub fn store_only(f: &Function) -> Vec<bool> {
    let mut stored_only: Vec<bool> = f.insts.iter().map(|inst| check_of(inst).is_some()).collect();
    for block in &f.blocks {
        for &i in &block.insts {
            let read: Vec<Value> = match &f.insts[i].op {
                Op::Store { value, .. } => vec![*value],
                // Its terms are followed to its users.
                Op::Address { .. } => Vec::new(),
                op => op.operands(),
            };
            for v in read {
                mark_carried(f, v, &mut stored_only);
            }
        }
    }
    stored_only
}

/// Marks as read from the checks `v` carries: itself, or the terms of an address.
fn mark_carried(f: &Function, v: Value, stored_only: &mut [bool]) {
    if let Value::Inst(i) = v {
        match &f.insts[i].op {
            Op::Address { .. } => {
                for term in f.insts[i].op.operands() {
                    mark_carried(f, term, stored_only);
                }
            }
            _ if check_of(&f.insts[i]).is_some() => stored_only[i] = false,
            _ => {}
        }
    }
}

/// Drops the checks of `f` that cannot fail, for a memory based at `memory_base`: those
/// LLVM proved never outside, and those of a constant address in the argument zone (the
/// arguments `main` reads where LLVM knows their address). Their users use the address.
pub fn resolve(f: &mut Function, memory_base: u64) {
    let in_zone = |address: u64| address.wrapping_add(memory_base) as u32 >= ARGS_START;
    let mut resolved: Vec<(InstId, Value)> = Vec::new();
    for (i, inst) in f.insts.iter().enumerate() {
        match check_of(inst) {
            Some((Value::Const(0), address, _)) => resolved.push((i, address)),
            Some((_, Value::Const(address), Value::Const(reach))) if reach <= ARGS_REACH && in_zone(address) => {
                resolved.push((i, Value::Const(address)))
            }
            _ => {}
        }
    }
    if !resolved.is_empty() {
        let value_of: HashMap<InstId, Value> = resolved.iter().copied().collect();
        for inst in &mut f.insts {
            inst.op.map_operands(|v| match v {
                Value::Inst(i) => value_of.get(&i).copied().unwrap_or(v),
                other => other,
            });
        }
        // Nothing uses them any more.
        for block in &mut f.blocks {
            block.insts.retain(|i| !value_of.contains_key(i));
        }
        for i in value_of.keys() {
            f.insts[*i].op = Op::Copy(Value::Undef);
        }
    }
}

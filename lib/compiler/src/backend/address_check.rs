//! The address checks the front end puts before memory accesses
//! (`abi::Pseudo::AddressCheck`, docs/memory.md): which ones the back end drops, and what
//! the others do.
//!
//! `check(outside, a, g)` stands for accesses of up to `g` bytes from WebAssembly address
//! `a` (offset plus size, rounded up to a tier), with `outside = a > abi::check_limit(g)`
//! computed by the front end (LLVM drops the checks where it proves `outside` false). An
//! access that is not outside ends at or below `abi::ACCESS_LIMIT`: in linear memory or in
//! the unmapped pages above it, where a page fault stops it. The limit is 2^31 - 1 for
//! every usual reach, and the emitter tests the sign of the address instead. The hot path is one branch on
//! `outside` (`MInst::AddressCheck`, a compare and branch in the middle of its block), to a
//! rare path after the function's code that lets the access go ahead only when its address
//! lands in the argument zone (PVM addresses from `ARGS_START` up to 2^32, where `main`'s
//! `args_ptr` points), and otherwise traps. The argument pages are read-only and the rest
//! of that zone, and the 64 KiB below it, are unmapped; so an access within 64 KiB of such
//! an address reads the arguments or faults (past 2^32 it lands in the reserved low
//! 64 KiB, which panics), and a store faults. The rare path uses no register but the
//! address, so the register allocator sees one use.
//!
//! Only a check that may see an argument address and that a load uses needs that rare
//! path ([`zoned`]); every other check, and every check of a larger reach, branches to one
//! `trap` the function's checks share.

use crate::abi;
use crate::backend::import::canonical;
use crate::backend::lir::{Callee, FuncId, Function, Inst, InstId, Module, Op, Value};
use crate::backend::loop_range::LoopRanges;
use crate::backend::mir::Zone;
use pvm_isa::spi::{ARGS_START, ZONE_SIZE};
use std::collections::HashMap;

/// How far above `args_ptr` a constant still counts as an argument address (LLVM folds
/// `args_ptr + k` into one constant): 64 KiB, so that with the smallest memory base
/// (128 KiB) neither the arguments' PVM address nor the SPI stack top 64 KiB below it,
/// constants a program may use for other ends (the nested interpreter does), count.
const ARGS_CONSTANT_SPAN: u32 = ZONE_SIZE;

/// The largest reach that may pass through the argument zone.
pub const ARGS_REACH: u64 = ZONE_SIZE as u64;

/// The WebAssembly addresses of the argument zone for a memory based at `memory_base`, as
/// canonical 32-bit bounds `[low, high)`: from `ARGS_START` to 2^32 in PVM addresses.
pub fn zone(memory_base: u64) -> (u64, u64) {
    let low = u64::from(ARGS_START) - memory_base;
    let high = (1 << 32) - memory_base;
    (canonical(low, 32), canonical(high, 32))
}

/// The rare path of a check whose register holds the address (see [`zone`]).
pub fn address_zone(memory_base: u64) -> Zone {
    let (low, high) = zone(memory_base);
    Zone::Address { low, high }
}

/// An argument read at `x + base`, `base` a constant in the argument zone (a loop over the
/// argument bytes, `args_ptr + i`): checked on `x` itself, so that the access folds `base`
/// into its offset and `x + base` needs no register. `limit` is the check's canonical
/// `abi::check_limit(g)`. Returns the canonical bound above which `x` takes the rare path
/// (the address then lies outside `[base, zone end)`) and that path's zone, or `None`
/// when `base` is not in the argument zone. In 32-bit arithmetic, `x + base` lies in
/// `[base, high)` for `x < high - base`, in `[low, base)` for `x >= low - base`, and at
/// or below `limit` for `x` from `-base` to `limit - base`.
pub fn offset_zone(memory_base: u64, base: u64, limit: u64) -> Option<(u64, Zone)> {
    if !in_zone(memory_base, base) {
        return None;
    }
    let (low, high) = zone(memory_base);
    let (low, high, base, limit) = (low as u32, high as u32, base as u32, limit as u32);
    let bound = |b: u32| canonical(u64::from(b), 32);
    let hot = bound(high - base - 1);
    let below = (base != low).then(|| bound(low.wrapping_sub(base)));
    let memory = (bound(base.wrapping_neg()), bound(base.wrapping_neg().wrapping_add(limit)));
    Some((hot, Zone::Offset { below, memory }))
}

/// Whether WebAssembly address `address` (any 32-bit form) lies in the argument zone.
pub fn in_zone(memory_base: u64, address: u64) -> bool {
    let (low, high) = zone(memory_base);
    (low as u32..high as u32).contains(&(address as u32))
}

/// `(outside, address, reach)` of an address check.
pub(crate) fn check_of(inst: &Inst) -> Option<(Value, Value, Value)> {
    match &inst.op {
        Op::Call { callee: Callee::AddressCheck, args } if args.len() == 3 => Some((args[0], args[1], args[2])),
        _ => None,
    }
}

/// The checks of each function of `module` that need the argument-zone rare path
/// (indexed by function, then instruction): those that may see an argument address and
/// that a load uses. An argument address comes from `main`'s `args_ptr`, a constant
/// the entry passes, so it is one of the values [`may_carry_arguments`] marks; a check of
/// any other address, or one that only stores use (a store in the zone faults anyway),
/// traps at once.
pub fn zoned(module: &Module, memory_base: u64) -> Vec<Vec<bool>> {
    let carries = may_carry_arguments(module, zone(memory_base));
    module
        .functions
        .iter()
        .zip(&carries)
        .map(|(f, carries)| {
            let loaded = loaded_from(f);
            (0..f.insts.len())
                .map(|i| match (check_of(&f.insts[i]), carries) {
                    (Some((_, address, _)), Some(carries)) => loaded[i] && carries.carries(address),
                    (Some(_), None) => loaded[i],
                    (None, _) => false,
                })
                .collect()
        })
        .collect()
}

/// Which values of a function may hold an argument address.
struct Carried {
    insts: Vec<bool>,
    args: Vec<bool>,
    /// The argument zone's WebAssembly addresses ([`zone`]).
    zone: (u64, u64),
}

impl Carried {
    fn carries(&self, v: Value) -> bool {
        match v {
            Value::Inst(i) => self.insts[i],
            Value::Arg(n) => self.args.get(n as usize).copied().unwrap_or(true),
            Value::Const(k) => self.near_args(k),
            Value::Undef => false,
        }
    }

    /// Whether the low 32 bits of `k` are `args_ptr` plus less than [`ARGS_CONSTANT_SPAN`].
    fn near_args(&self, k: u64) -> bool {
        (k as u32).wrapping_sub(self.zone.0 as u32) < ARGS_CONSTANT_SPAN
    }
}

/// For each function, the values that may hold an argument address: an entry's first
/// parameter, the parameters of functions called with such a value, and whatever arithmetic
/// (including `args_ptr` and the constants just above it) makes of them. `None` for every
/// function when such a value leaves this reach — stored to memory, returned, or passed
/// to an indirect or host call — since any load may then read it back.
fn may_carry_arguments(module: &Module, zone: (u64, u64)) -> Vec<Option<Carried>> {
    let mut args: Vec<Vec<bool>> = module
        .functions
        .iter()
        .map(|f| {
            // An entry's first parameter is r7, the arguments' PVM address.
            let entry = abi::entry_slot(&f.name).is_some();
            (0..f.params.len()).map(|n| entry && n == 0).collect()
        })
        .collect();
    loop {
        let mut carried = Vec::with_capacity(module.functions.len());
        let mut called: Vec<(FuncId, usize)> = Vec::new();
        for (f, args) in module.functions.iter().zip(&args) {
            match carried_in(f, Carried { insts: vec![false; f.insts.len()], args: args.clone(), zone }, &mut called) {
                Some(c) => carried.push(c),
                None => return module.functions.iter().map(|_| None).collect(),
            }
        }
        let mut grown = false;
        for (callee, n) in called {
            if let Some(arg) = args.get_mut(callee).and_then(|a| a.get_mut(n))
                && !*arg
            {
                *arg = true;
                grown = true;
            }
        }
        if !grown {
            return carried.into_iter().map(Some).collect();
        }
    }
}

/// The values of `f` that may hold an argument address, given its parameters that may;
/// records in `called` the (callee, parameter) pairs it passes such a value to. `None`
/// when such a value leaves the function other than by a direct call.
fn carried_in(f: &Function, mut c: Carried, called: &mut Vec<(FuncId, usize)>) -> Option<Carried> {
    // Phis make this a fixed point; values only ever become carried.
    let mut changed = true;
    while changed {
        changed = false;
        for block in &f.blocks {
            for &i in &block.insts {
                let op = &f.insts[i].op;
                let carried = match op {
                    Op::Binary(..)
                    | Op::Select(..)
                    | Op::Cast(..)
                    | Op::Copy(_)
                    | Op::Address { .. }
                    | Op::ExtractValue(..)
                    | Op::Phi(_)
                    | Op::Call { callee: Callee::Intrinsic(_) | Callee::AddressCheck, .. } => {
                        op.operands().into_iter().any(|v| c.carries(v))
                    }
                    _ => false,
                };
                if carried && !c.insts[i] {
                    c.insts[i] = true;
                    changed = true;
                }
            }
        }
    }
    for inst in &f.insts {
        match &inst.op {
            Op::Store { value, .. } if c.carries(*value) => return None,
            Op::Ret(Some(v)) if c.carries(*v) => return None,
            Op::Call { callee: Callee::Function(callee), args } => {
                called.extend(args.iter().enumerate().filter(|(_, v)| c.carries(**v)).map(|(n, _)| (*callee, n)));
            }
            Op::Call { callee: Callee::CallIndirect(_) | Callee::Ecalli(_) | Callee::MemoryGrow, args }
                if args.iter().any(|v| c.carries(*v)) =>
            {
                return None;
            }
            _ => {}
        }
    }
    Some(c)
}

/// The checks of `f` that a load may use (indexed by instruction): a check counts as
/// loaded from when anything but the address of a store uses it, directly or through
/// an address computation.
fn loaded_from(f: &Function) -> Vec<bool> {
    let mut loaded = vec![false; f.insts.len()];
    for block in &f.blocks {
        for &i in &block.insts {
            let read: Vec<Value> = match &f.insts[i].op {
                Op::Store { value, .. } => vec![*value],
                // Its terms are followed to its users.
                Op::Address { .. } => Vec::new(),
                op => op.operands(),
            };
            for v in read {
                mark_loaded(f, v, &mut loaded);
            }
        }
    }
    loaded
}

/// Marks as loaded from the checks `v` carries: itself, or the terms of an address.
fn mark_loaded(f: &Function, v: Value, loaded: &mut [bool]) {
    if let Value::Inst(i) = v {
        match &f.insts[i].op {
            Op::Address { .. } => {
                for term in f.insts[i].op.operands() {
                    mark_loaded(f, term, loaded);
                }
            }
            _ if check_of(&f.insts[i]).is_some() => loaded[i] = true,
            _ => {}
        }
    }
}

/// Drops the checks of `f` that cannot fail, for a memory based at `memory_base`: those
/// LLVM proved never outside, those of a constant address in the argument zone (the
/// arguments `main` reads where LLVM knows their address), and, with `loop_ranges`, the
/// loads at `base + i` with `base` in the argument zone and `i` a loop counter that
/// stays below the zone's end ([`crate::backend::loop_range`]: a loop over the argument bytes). Their
/// users use the address.
pub fn resolve(f: &mut Function, memory_base: u64, loop_ranges: bool) {
    let ranges = loop_ranges.then(|| LoopRanges::new(f, abi::entry_slot(&f.name).is_some()));
    let loaded = if loop_ranges { loaded_from(f) } else { Vec::new() };
    let within_arguments = |i: InstId, address: Value, reach: u64| {
        let (Some(ranges), Value::Inst(add)) = (&ranges, address) else { return false };
        let Some((x, base)) = f.insts[add].op.added_constant() else { return false };
        let end = zone(memory_base).1 as u32;
        let last = u64::from(end.wrapping_sub(base as u32).wrapping_sub(1));
        loaded[i]
            && reach <= ARGS_REACH
            && in_zone(memory_base, base)
            && ranges.upper_bound(x).is_some_and(|bound| bound <= last)
    };
    let mut resolved: Vec<(InstId, Value)> = Vec::new();
    for (i, inst) in f.insts.iter().enumerate() {
        match check_of(inst) {
            Some((Value::Const(0), address, _)) => resolved.push((i, address)),
            Some((_, Value::Const(address), Value::Const(reach)))
                if reach <= ARGS_REACH && in_zone(memory_base, address) =>
            {
                resolved.push((i, Value::Const(address)))
            }
            Some((_, address, Value::Const(reach))) if within_arguments(i, address, reach) => {
                resolved.push((i, address))
            }
            _ => {}
        }
    }
    if !resolved.is_empty() {
        let flags: Vec<Value> = resolved.iter().filter_map(|&(i, _)| check_of(&f.insts[i]).map(|c| c.0)).collect();
        let mut value_of: HashMap<InstId, Value> = resolved.iter().copied().collect();
        for inst in &mut f.insts {
            inst.op.map_operands(|v| match v {
                Value::Inst(i) => value_of.get(&i).copied().unwrap_or(v),
                other => other,
            });
        }
        for i in value_of.keys() {
            f.insts[*i].op = Op::Copy(Value::Undef);
        }
        // A compare that only a dropped check read goes with it.
        let uses = f.use_counts();
        for flag in flags {
            if let Value::Inst(c) = flag
                && uses[c] == 0
                && matches!(f.insts[c].op, Op::ICmp(..))
            {
                f.insts[c].op = Op::Copy(Value::Undef);
                value_of.insert(c, Value::Undef);
            }
        }
        // Nothing uses them any more.
        for block in &mut f.blocks {
            block.insts.retain(|i| !value_of.contains_key(i));
        }
    }
}

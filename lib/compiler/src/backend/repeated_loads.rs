//! Repeated loads: a load of what its block has just stored at, or loaded from, the same
//! address takes that value instead of reading memory again.
//!
//! Every load and store is volatile (docs/memory.md: each must fault or trap where the
//! WebAssembly program would), so LLVM keeps `x.f = x.f - c; if (x.f < 0)`'s second read
//! of `x.f`. But a load at the address a store or load has just accessed, with no store,
//! call or host call between them in the block, can neither fault (the first access
//! succeeded, and a writable page is readable) nor read anything else: it is the value
//! stored (when the store wrote the whole value, `bytes` of a value of as many bytes) or
//! loaded (of the same width). Only within a block: a value kept across blocks holds a
//! register longer, and in the nested interpreter's run loop that cost more spills than
//! the loads it saved.

use crate::backend::import::canonical;
use crate::backend::lir::{Callee, Function, InstId, Op, Ty, Value};
use std::collections::HashMap;

/// Replaces each repeated load of `f` by the value it would read; returns how many.
pub fn forward(f: &mut Function) -> usize {
    let mut replaced: HashMap<InstId, Value> = HashMap::new();
    for block in &f.blocks {
        // What the block knows memory holds: (address, bytes) → value of that width.
        let mut known: Vec<(Value, u32, Value)> = Vec::new();
        for &i in &block.insts {
            match f.insts[i].op {
                Op::Load { ptr, bytes } => {
                    let width = f.insts[i].ty.bits();
                    let found = known.iter().find(|&&(p, b, _)| p == ptr && b == bytes).map(|k| k.2);
                    match found {
                        Some(v) if width == 8 * bytes => {
                            let v = match v {
                                Value::Const(k) => Value::Const(canonical(k, width)),
                                v => v,
                            };
                            replaced.insert(i, v);
                        }
                        _ if width == 8 * bytes => known.push((ptr, bytes, Value::Inst(i))),
                        _ => {}
                    }
                }
                Op::Store { ptr, value, bytes } => {
                    known.clear();
                    if width_of(f, value).is_none_or(|w| w == 8 * bytes) {
                        known.push((ptr, bytes, value));
                    }
                }
                Op::Call { callee: Callee::AddressCheck, .. } => {}
                Op::Call { .. } => known.clear(),
                _ => {}
            }
        }
    }
    if replaced.is_empty() {
        return 0;
    }
    // A load may forward a load that is itself replaced.
    let resolve = |mut v: Value| {
        while let Value::Inst(i) = v {
            match replaced.get(&i) {
                Some(&next) => v = next,
                None => break,
            }
        }
        v
    };
    for inst in &mut f.insts {
        inst.op.map_operands(resolve);
    }
    for block in &mut f.blocks {
        block.insts.retain(|i| !replaced.contains_key(i));
    }
    for i in replaced.keys() {
        f.insts[*i].op = Op::Copy(Value::Undef);
    }
    replaced.len()
}

/// The width of `v` in bits, `None` for a constant (any width).
fn width_of(f: &Function, v: Value) -> Option<u32> {
    match v {
        Value::Inst(i) => Some(match &f.insts[i].ty {
            Ty::Int(bits) => *bits,
            _ => 0,
        }),
        Value::Arg(n) => f.params.get(n as usize).copied(),
        Value::Const(_) | Value::Undef => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::lir::{Block, Inst};

    fn function(insts: Vec<Inst>) -> Function {
        let ids = (0..insts.len()).collect();
        Function { name: "f".into(), params: vec![32, 64], result: Ty::Void, blocks: vec![Block { insts: ids }], insts }
    }

    #[test]
    fn a_load_after_a_store_or_a_load_at_its_address() {
        let p = Value::Arg(0);
        let mut f = function(vec![
            Inst::of_width(Op::Store { ptr: p, value: Value::Arg(1), bytes: 8 }, 0),
            Inst::of_width(Op::Load { ptr: p, bytes: 8 }, 64),
            Inst::of_width(Op::Load { ptr: p, bytes: 8 }, 64),
            Inst::of_width(Op::Ret(Some(Value::Inst(2))), 0),
        ]);
        assert_eq!(forward(&mut f), 2);
        assert_eq!(f.insts[3].op, Op::Ret(Some(Value::Arg(1))));
        assert_eq!(f.blocks[0].insts, vec![0, 3]);
    }

    #[test]
    fn a_store_or_call_between_or_another_width_keeps_the_load() {
        let (p, q) = (Value::Arg(0), Value::Inst(9));
        let mut f = function(vec![
            Inst::of_width(Op::Load { ptr: p, bytes: 4 }, 32),
            Inst::of_width(Op::Store { ptr: q, value: Value::Const(1), bytes: 4 }, 0),
            Inst::of_width(Op::Load { ptr: p, bytes: 4 }, 32),
            Inst::of_width(Op::Call { callee: Callee::Ecalli(1), args: vec![] }, 0),
            Inst::of_width(Op::Load { ptr: p, bytes: 4 }, 32),
            Inst::of_width(Op::Load { ptr: p, bytes: 2 }, 16),
            // The low byte of a 4-byte store is not its value.
            Inst::of_width(Op::Store { ptr: p, value: Value::Inst(4), bytes: 1 }, 0),
            Inst::of_width(Op::Load { ptr: p, bytes: 1 }, 8),
        ]);
        assert_eq!(forward(&mut f), 0);
    }

    #[test]
    fn a_stored_constant_is_read_back_at_the_load_width() {
        let p = Value::Arg(0);
        let mut f = function(vec![
            Inst::of_width(Op::Store { ptr: p, value: Value::Const(0xff), bytes: 1 }, 0),
            Inst::of_width(Op::Load { ptr: p, bytes: 1 }, 8),
            Inst::of_width(Op::Ret(Some(Value::Inst(1))), 0),
        ]);
        assert_eq!(forward(&mut f), 1);
        assert_eq!(f.insts[2].op, Op::Ret(Some(Value::Const(u64::MAX))));
    }
}

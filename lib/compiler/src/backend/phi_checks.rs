//! Address checks that a phi makes redundant: a check of `op(p)` — `p` itself, or one
//! binary operation of `p` and a constant — with `p` a phi, where along every edge into
//! `p`'s block the address is already known to pass: the incoming value is a constant
//! whose address passes the check, or the predecessor has just checked `op(v)` of the
//! incoming `v`. The check's users then read a new phi of those addresses, and the check
//! and whatever computed only its operands go.
//!
//! An insertion sort's `a[j] = key` after its shift loop is such a check: `j` comes from
//! the loop, whose last round checked `a[j - 1]`'s address `4·j`, or is the constant 0
//! when the loop ran out. Without this, the store's address is shifted and checked once
//! more on every outer round.
//!
//! A predecessor's check vouches for the address only where it passes on its hot path,
//! `address <= abi::check_limit(reach)`: one that may let an argument address through on
//! its rare path (`address_check::zoned`) is not used, since a store that a check of its
//! own would trap could then reach the read-only argument pages. The predecessor's reach
//! must be at least the check's, so that its limit is no higher.

use crate::abi;
use crate::backend::address_check::check_of;
use crate::backend::import::canonical;
use crate::backend::lir::{BinOp, BlockId, Function, Inst, InstId, Op, Ty, Value};

/// Replaces the checks of `f` that phis make redundant ([the module](self)); `zoned`
/// says, per instruction, which checks take the argument-zone rare path, and grows with
/// the phis added. Returns how many checks went.
pub fn drop_redundant(f: &mut Function, zoned: &mut Vec<bool>) -> usize {
    let mut dropped = 0;
    for check in 0..f.insts.len() {
        let Some(incoming) = translated(f, check, zoned) else { continue };
        let Some(block) = f.blocks.iter().position(|b| b.insts.contains(&check)) else { continue };
        let Some((flag, Value::Inst(address), _)) = check_of(&f.insts[check]) else { continue };
        let Some(phi) = phi_of(f, address) else { continue };
        let Some(phi_block) = f.blocks.iter().position(|b| b.insts.contains(&phi)) else { continue };
        let merged = f.insts.len();
        f.insts.push(Inst::of_width(Op::Phi(incoming), 32));
        zoned.push(false);
        f.blocks[phi_block].insts.insert(0, merged);
        for inst in &mut f.insts {
            inst.op.map_operands(|v| if v == Value::Inst(check) { Value::Inst(merged) } else { v });
        }
        remove(f, block, check);
        // What only the check read: its flag, its address, the phi the address came from.
        for candidate in [flag, Value::Inst(address), Value::Inst(phi)] {
            if let Value::Inst(i) = candidate
                && f.use_counts()[i] == 0
                && let Some(b) = f.blocks.iter().position(|b| b.insts.contains(&i))
            {
                remove(f, b, i);
            }
        }
        dropped += 1;
    }
    dropped
}

/// Removes instruction `i` from block `b`.
fn remove(f: &mut Function, b: BlockId, i: InstId) {
    f.blocks[b].insts.retain(|&x| x != i);
    f.insts[i].op = Op::Copy(Value::Undef);
}

/// The phi a check's address comes from: the address itself, or the variable operand of
/// a binary operation with a constant.
fn phi_of(f: &Function, address: InstId) -> Option<InstId> {
    let is_phi = |i: InstId| matches!(f.insts[i].op, Op::Phi(_)).then_some(i);
    match f.insts[address].op {
        Op::Phi(_) => Some(address),
        Op::Binary(_, Value::Inst(p), Value::Const(_)) | Op::Binary(_, Value::Const(_), Value::Inst(p)) => is_phi(p),
        _ => None,
    }
}

/// For a check ([the module](self)) that every edge into its phi's block vouches for, the
/// incoming values of the phi that replaces it: per edge, the constant address or the
/// predecessor's check.
fn translated(f: &Function, check: InstId, zoned: &[bool]) -> Option<Vec<(Value, BlockId)>> {
    let (_, Value::Inst(address), Value::Const(reach)) = check_of(&f.insts[check])? else { return None };
    if f.insts[address].ty != Ty::Int(32) {
        return None;
    }
    let phi = phi_of(f, address)?;
    let Op::Phi(incoming) = &f.insts[phi].op else { return None };
    let limit = abi::check_limit(reach);
    // The address when the phi is `v`: a constant, or the operation on `v`.
    let address_of = |v: Value| -> Option<Translated> {
        if address == phi {
            return Some(match v {
                Value::Const(k) => Translated::Constant(k),
                v => Translated::Checked(v),
            });
        }
        let op = f.insts[address].op.clone();
        let Op::Binary(bin, a, b) = op else { return None };
        let (a, b) = (if a == Value::Inst(phi) { v } else { a }, if b == Value::Inst(phi) { v } else { b });
        match (a, b) {
            (Value::Const(a), Value::Const(b)) => evaluate(bin, a, b).map(Translated::Constant),
            (Value::Undef, _) | (_, Value::Undef) => None,
            (a, b) => Some(Translated::Operation(Op::Binary(bin, a, b))),
        }
    };
    incoming
        .iter()
        .map(|&(v, pred)| {
            let vouched = match address_of(v)? {
                Translated::Constant(k) => (u64::from(k as u32) <= limit).then_some(Value::Const(canonical(k, 32))),
                Translated::Checked(v) => checked_in(f, pred, check, reach, zoned, |a| a == v),
                Translated::Operation(op) => checked_in(
                    f,
                    pred,
                    check,
                    reach,
                    zoned,
                    |a| matches!(a, Value::Inst(i) if f.insts[i].op == op && f.insts[i].ty == Ty::Int(32)),
                ),
            }?;
            Some((vouched, pred))
        })
        .collect()
}

/// An address along one edge into the phi's block.
enum Translated {
    /// Known at compile time.
    Constant(u64),
    /// This value itself.
    Checked(Value),
    /// Computed by this operation.
    Operation(Op),
}

/// A check in block `pred`, other than `check`, of an address that `is_address` accepts,
/// with a reach of at least `reach`, that passes only on its hot path.
fn checked_in(
    f: &Function,
    pred: BlockId,
    check: InstId,
    reach: u64,
    zoned: &[bool],
    is_address: impl Fn(Value) -> bool,
) -> Option<Value> {
    f.blocks[pred].insts.iter().find_map(|&i| {
        let (_, address, Value::Const(their_reach)) = check_of(&f.insts[i])? else { return None };
        (i != check && !zoned[i] && their_reach >= reach && is_address(address)).then_some(Value::Inst(i))
    })
}

/// `a op b` in 32-bit arithmetic, for the operations that cannot trap or be poison
/// (a shift by 32 or more is not evaluated).
fn evaluate(op: BinOp, a: u64, b: u64) -> Option<u64> {
    let (a, b) = (a as u32, b as u32);
    let value = match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::And => a & b,
        BinOp::Or => a | b,
        BinOp::Xor => a ^ b,
        BinOp::Shl if b < 32 => a << b,
        BinOp::LShr if b < 32 => a >> b,
        BinOp::AShr if b < 32 => ((a as i32) >> b) as u32,
        _ => return None,
    };
    Some(u64::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::lir::{Block, Callee, Pred};

    fn check(address: InstId, flag: InstId, reach: u64) -> Inst {
        let args = vec![Value::Inst(flag), Value::Inst(address), Value::Const(reach)];
        Inst::of_width(Op::Call { callee: Callee::AddressCheck, args }, 32)
    }

    /// An insertion sort's shift loop and the store after it, with `j` its parameter:
    /// the loop (block 1) checks `4·j` and leaves to block 3 when `a[j - 1] <= key`, or
    /// steps `j` down (block 2) and leaves with `j = 0`; block 3 checks `4·j'` again.
    /// `start` is `j`'s value on entry to block 3 from block 2; the reaches are the
    /// loop's and the store's.
    fn shift_loop(exit: Value, reaches: (u64, u64)) -> Function {
        let v = Value::Inst;
        let insts = vec![
            Inst::of_width(Op::Br(1), 0),                                                // 0
            Inst::of_width(Op::Phi(vec![(Value::Arg(0), 0), (v(11), 2)]), 32),           // 1: j
            Inst::of_width(Op::Binary(BinOp::Shl, v(1), Value::Const(2)), 32),           // 2
            Inst::of_width(Op::ICmp(Pred::Slt, v(2), Value::Const(0)), 1),               // 3
            check(2, 3, reaches.0),                                                      // 4
            Inst::of_width(Op::Load { ptr: v(4), bytes: 4 }, 32),                        // 5
            Inst::of_width(Op::ICmp(Pred::Ule, v(5), Value::Arg(1)), 1),                 // 6
            Inst::of_width(Op::CondBr(v(6), 3, 2), 0),                                   // 7
            Inst::of_width(Op::Phi(vec![(v(1), 1), (exit, 2)]), 32),                     // 8: j'
            Inst::of_width(Op::Binary(BinOp::Shl, v(8), Value::Const(2)), 32),           // 9
            Inst::of_width(Op::ICmp(Pred::Slt, v(9), Value::Const(0)), 1),               // 10
            Inst::of_width(Op::Binary(BinOp::Add, v(1), Value::Const(u64::MAX)), 32),    // 11
            Inst::of_width(Op::ICmp(Pred::Eq, v(11), Value::Const(0)), 1),               // 12
            Inst::of_width(Op::CondBr(v(12), 3, 1), 0),                                  // 13
            check(9, 10, reaches.1),                                                     // 14
            Inst::of_width(Op::Store { ptr: v(14), value: Value::Arg(1), bytes: 4 }, 0), // 15
            Inst::of_width(Op::Ret(None), 0),                                            // 16
        ];
        let blocks = [vec![0], vec![1, 2, 3, 4, 5, 6, 7], vec![11, 12, 13], vec![8, 9, 10, 14, 15, 16]];
        Function {
            name: "f".into(),
            params: vec![32, 32],
            result: Ty::Void,
            blocks: blocks.into_iter().map(|insts| Block { insts }).collect(),
            insts,
        }
    }

    /// Runs [`drop_redundant`] with the checks `zoned` taking the rare path; checks
    /// that the zone flags grow with the phis added.
    fn run(f: &mut Function, zoned: &[InstId]) -> usize {
        let mut flags: Vec<bool> = (0..f.insts.len()).map(|i| zoned.contains(&i)).collect();
        let dropped = drop_redundant(f, &mut flags);
        assert_eq!(flags.len(), f.insts.len());
        dropped
    }

    #[test]
    fn a_check_done_along_every_edge_goes() {
        let mut f = shift_loop(Value::Const(0), (4, 4));
        assert_eq!(run(&mut f, &[]), 1);
        // The store's address: the loop's check from block 1, the constant 0 from block 2.
        assert_eq!(f.insts[17].op, Op::Phi(vec![(Value::Inst(4), 1), (Value::Const(0), 2)]));
        assert_eq!(f.insts[15].op, Op::Store { ptr: Value::Inst(17), value: Value::Arg(1), bytes: 4 });
        assert_eq!(f.blocks[3].insts, vec![17, 15, 16]);
        // A constant shifted: 4·100 passes too.
        let mut f = shift_loop(Value::Const(100), (4, 4));
        assert_eq!(run(&mut f, &[]), 1);
        assert_eq!(f.insts[17].op, Op::Phi(vec![(Value::Inst(4), 1), (Value::Const(400), 2)]));
    }

    #[test]
    fn a_check_that_an_edge_does_not_vouch_for_stays() {
        let unchanged = |exit: Value, reaches: (u64, u64), zoned: &[InstId]| {
            let mut f = shift_loop(exit, reaches);
            assert_eq!(run(&mut f, zoned), 0);
            assert_eq!(f, shift_loop(exit, reaches));
        };
        // 4·2^29 is outside.
        unchanged(Value::Const(1 << 29), (4, 4), &[]);
        // A value no check of block 2 has seen.
        unchanged(Value::Arg(1), (4, 4), &[]);
        // The loop's check reaches less far than the store's.
        unchanged(Value::Const(0), (4, 8), &[]);
        // The loop's check may let an argument address through.
        unchanged(Value::Const(0), (4, 4), &[4]);
    }

    #[test]
    fn constants_are_evaluated_in_32_bits() {
        assert_eq!(evaluate(BinOp::Shl, 0x4000_0001, 2), Some(4));
        assert_eq!(evaluate(BinOp::Add, u64::MAX, 1), Some(0));
        assert_eq!(evaluate(BinOp::AShr, 0x8000_0000, 31), Some(0xffff_ffff));
        assert_eq!(evaluate(BinOp::Shl, 1, 32), None);
        assert_eq!(evaluate(BinOp::UDiv, 1, 1), None);
    }
}

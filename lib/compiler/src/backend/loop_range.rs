//! Loop ranges: the largest value a loop's counter can hold, where the loop's own exit
//! test and the program's arguments bound it.
//!
//! A counter is a phi of a loop header that starts at 0 and steps by 1 on every back
//! edge, and every back edge is taken only while the stepped value is below a limit:
//! `i + 1 < len` (the branch back is `ult`'s true side or `uge`'s false side), or
//! `i + 1 != len` when every entry into the loop is taken only with `len != 0` (then `i`
//! starts below `len` and, stepping by 1, stops at `len - 1`). Either way `i < len`
//! whenever the header runs, so `i` is at most the limit's own bound less one. A limit is
//! a constant or the length of the program's arguments, an entry's second parameter
//! (r8, at most `pvm_isa::spi::MAX_ARGS` under the standard program initialisation), both
//! the same on every iteration. A loop that tests `i` itself in its header (`i < len` or
//! `i != len` into the loop, the other side out of it: the loop is not rotated) keeps
//! `i` at most `len`.
//!
//! `address_check::resolve` drops the check of an argument read at `args_ptr + i` when
//! `i` stays within the argument zone: a loop over the argument bytes then loads them
//! with no check at all (`hash`).

use crate::backend::lir::{BinOp, BlockId, Cast, Function, Op, Pred, Value};
use pvm_isa::spi::MAX_ARGS;

/// How many unconditional branches up from a loop's entry edge the test `len != 0` may be.
const MAX_GUARD_DISTANCE: usize = 4;

/// The bounds of one function's loop counters.
pub struct LoopRanges<'f> {
    f: &'f Function,
    preds: Vec<Vec<BlockId>>,
    /// The block of every instruction.
    block_of: Vec<BlockId>,
    /// Whether the function is a program entry, whose second parameter is the length of
    /// the arguments.
    is_entry: bool,
}

impl<'f> LoopRanges<'f> {
    /// The ranges of `f`'s counters; `is_entry` when the PVM enters `f` at program start.
    pub fn new(f: &'f Function, is_entry: bool) -> Self {
        let mut block_of = vec![0; f.insts.len()];
        for (b, block) in f.blocks.iter().enumerate() {
            for &i in &block.insts {
                block_of[i] = b;
            }
        }
        LoopRanges { f, preds: f.predecessors(), block_of, is_entry }
    }

    /// The largest unsigned value `v` can hold, if a loop or the arguments bound it: a
    /// loop counter ([`Self::counter_bound`]), or a truncation of one.
    pub fn upper_bound(&self, v: Value) -> Option<u64> {
        let Value::Inst(i) = v else { return None };
        match self.f.insts[i].op {
            Op::Phi(_) => self.counter_bound(i),
            Op::Cast(Cast::Trunc, x, _) => {
                let width = self.f.insts[i].ty.bits();
                self.upper_bound(x).filter(|&b| width >= 64 || b >> width == 0)
            }
            _ => None,
        }
    }

    /// The bound of phi `phi` as a counter (see the module's documentation).
    fn counter_bound(&self, phi: usize) -> Option<u64> {
        self.latch_tested_bound(phi).or_else(|| self.header_tested_bound(phi))
    }

    /// The bound of a counter whose loop tests `i` itself in its header, `i < limit` or
    /// `i != limit` on the way into the loop, the other way out of it (a loop not
    /// rotated, as `-Oz` leaves them): `i` starts at 0, at most `limit`, and steps only
    /// after the test let it in, so it stays at most `limit`.
    fn header_tested_bound(&self, phi: usize) -> Option<u64> {
        let Op::Phi(incoming) = &self.f.insts[phi].op else { return None };
        let header = self.block_of[phi];
        let stepped = |v: Value| matches!(v, Value::Inst(next) if step_of(&self.f.insts[next].op) == Some(phi));
        if !incoming.iter().all(|&(v, _)| v == Value::Const(0) || stepped(v)) {
            return None;
        }
        let latches: Vec<BlockId> = incoming.iter().filter(|&&(v, _)| stepped(v)).map(|&(_, b)| b).collect();
        let body = self.natural_loop(header, &latches);
        let &last = self.f.blocks[header].insts.last()?;
        let Op::CondBr(Value::Inst(c), on_true, on_false) = self.f.insts[last].op else { return None };
        let (pred, limit) = match self.f.insts[c].op {
            Op::ICmp(pred, Value::Inst(a), limit) if a == phi => (pred, limit),
            Op::ICmp(pred, limit, Value::Inst(b)) if b == phi => (pred.swapped(), limit),
            _ => return None,
        };
        let in_loop = |b: BlockId| body.contains(&b);
        // The side that stays in the loop, and the predicate that holds there.
        let inside = match (in_loop(on_true), in_loop(on_false)) {
            (true, false) => pred,
            (false, true) => pred.inverse(),
            _ => return None,
        };
        if !matches!(inside, Pred::Ult | Pred::Ne) {
            return None;
        }
        self.limit_bound(limit, self.f.insts[phi].ty.bits())
    }

    /// The blocks of the loop that `latches` close back to `header`: those that reach a
    /// latch without passing through the header (the header itself included). Every path
    /// from the header to a latch stays among them.
    fn natural_loop(&self, header: BlockId, latches: &[BlockId]) -> Vec<BlockId> {
        let mut body = vec![header];
        let mut work: Vec<BlockId> = latches.to_vec();
        while let Some(b) = work.pop() {
            if !body.contains(&b) {
                body.push(b);
                work.extend(&self.preds[b]);
            }
        }
        body
    }

    /// The bound of a counter whose loop tests `i + 1` where it branches back.
    fn latch_tested_bound(&self, phi: usize) -> Option<u64> {
        let Op::Phi(incoming) = &self.f.insts[phi].op else { return None };
        let header = self.block_of[phi];
        let mut entries = Vec::new();
        let mut limit = None;
        let mut strict = true;
        for &(value, pred) in incoming {
            match value {
                Value::Const(0) => entries.push(pred),
                Value::Inst(next) if step_of(&self.f.insts[next].op) == Some(phi) => {
                    let (this, below) = self.back_edge_limit(pred, header, next)?;
                    // Every back edge tests the same limit.
                    if limit.is_some_and(|l| l != this) {
                        return None;
                    }
                    limit = Some(this);
                    strict &= below;
                }
                _ => return None,
            }
        }
        let limit = limit?;
        let width = self.f.insts[phi].ty.bits();
        let bound = self.limit_bound(limit, width)?.checked_sub(1)?;
        let nonzero = |&e: &BlockId| self.entered_nonzero(e, header, limit, MAX_GUARD_DISTANCE);
        let entered_below = strict || matches!(limit, Value::Const(k) if k != 0) || entries.iter().all(nonzero);
        (!entries.is_empty() && entered_below).then_some(bound)
    }

    /// For the back edge `latch → header` carrying `next`: the limit its branch compares
    /// `next` with, and whether the compare is `next < limit` (else `next != limit`).
    fn back_edge_limit(&self, latch: BlockId, header: BlockId, next: usize) -> Option<(Value, bool)> {
        let &last = self.f.blocks[latch].insts.last()?;
        let Op::CondBr(Value::Inst(c), on_true, on_false) = self.f.insts[last].op else { return None };
        if on_true == on_false {
            return None;
        }
        let Op::ICmp(pred, a, b) = self.f.insts[c].op else { return None };
        let (pred, limit) = match (a, b) {
            (Value::Inst(a), limit) if a == next => (pred, limit),
            (limit, Value::Inst(b)) if b == next => (pred.swapped(), limit),
            _ => return None,
        };
        // The predicate that holds on the way back.
        let back = if on_true == header { pred } else { pred.inverse() };
        match back {
            Pred::Ult => Some((limit, true)),
            Pred::Ne => Some((limit, false)),
            _ => None,
        }
    }

    /// The bound of a loop's limit of `width` bits, a value the same on every iteration:
    /// a constant, or the length of the arguments (an entry's second parameter, or its
    /// truncation).
    fn limit_bound(&self, limit: Value, width: u32) -> Option<u64> {
        let is_args_len = |v: Value| self.is_entry && v == Value::Arg(1);
        let mask = u64::MAX >> (64 - width.clamp(1, 64));
        match limit {
            Value::Const(k) => Some(k & mask),
            v if is_args_len(v) => Some(u64::from(MAX_ARGS).min(mask)),
            Value::Inst(i) => match self.f.insts[i].op {
                Op::Cast(Cast::Trunc, v, _) if is_args_len(v) => Some(u64::from(MAX_ARGS).min(mask)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the edge `from → to` is taken only when `limit != 0`: `from` branches on
    /// `limit == 0` or `limit != 0` with `to` on the side where it is not zero, or `from`
    /// only jumps to `to` and the edge into it (its only predecessor's) is so taken.
    fn entered_nonzero(&self, from: BlockId, to: BlockId, limit: Value, distance: usize) -> bool {
        let Some(&last) = self.f.blocks[from].insts.last() else { return false };
        match self.f.insts[last].op {
            Op::CondBr(Value::Inst(c), on_true, on_false) if on_true != on_false => {
                let pred = match self.f.insts[c].op {
                    Op::ICmp(pred, a, Value::Const(0)) if a == limit => pred,
                    Op::ICmp(pred, Value::Const(0), b) if b == limit => pred.swapped(),
                    _ => return false,
                };
                let taken = if on_true == to { pred } else { pred.inverse() };
                matches!(taken, Pred::Ne | Pred::Ugt)
            }
            Op::Br(_) if distance > 0 => match self.preds[from].as_slice() {
                &[up] => self.entered_nonzero(up, from, limit, distance - 1),
                _ => false,
            },
            _ => false,
        }
    }
}

/// The phi that `op` steps by one (`phi + 1`).
fn step_of(op: &Op) -> Option<usize> {
    match *op {
        Op::Binary(BinOp::Add, Value::Inst(phi), Value::Const(1))
        | Op::Binary(BinOp::Add, Value::Const(1), Value::Inst(phi)) => Some(phi),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::lir::{Block, Inst, Ty};

    /// An entry whose loop counts `i` from 0 while `i + 1` compares with `limit` by
    /// `pred` (the branch back on its true side), entered from a block that branches on
    /// `args_len == 0` (to the exit on its true side) when `guarded`, else straight.
    ///
    /// Blocks: 0 entry, 1 loop, 2 exit. Instructions: 0 `args_len`, 1 guard, 2 entry's
    /// branch, 3 `i`, 4 `i + 1`, 5 the exit test, 6 the loop's branch, 7 `ret`.
    fn counting(limit: Value, pred: Pred, guarded: bool) -> Function {
        let insts = vec![
            Inst::of_width(Op::Cast(Cast::Trunc, Value::Arg(1), 64), 32),
            Inst::of_width(Op::ICmp(Pred::Eq, Value::Inst(0), Value::Const(0)), 1),
            if guarded { Inst::of_width(Op::CondBr(Value::Inst(1), 2, 1), 0) } else { Inst::of_width(Op::Br(1), 0) },
            Inst::of_width(Op::Phi(vec![(Value::Const(0), 0), (Value::Inst(4), 1)]), 32),
            Inst::of_width(Op::Binary(BinOp::Add, Value::Inst(3), Value::Const(1)), 32),
            Inst::of_width(Op::ICmp(pred, Value::Inst(4), limit), 1),
            Inst::of_width(Op::CondBr(Value::Inst(5), 1, 2), 0),
            Inst::of_width(Op::Ret(None), 0),
        ];
        let blocks = vec![Block { insts: vec![0, 1, 2] }, Block { insts: vec![3, 4, 5, 6] }, Block { insts: vec![7] }];
        Function { name: "__pvm_entry".into(), params: vec![64, 64], result: Ty::Void, blocks, insts }
    }

    fn bound(f: &Function, is_entry: bool) -> Option<u64> {
        LoopRanges::new(f, is_entry).upper_bound(Value::Inst(3))
    }

    #[test]
    fn a_counter_below_the_argument_length() {
        let args = u64::from(MAX_ARGS);
        assert_eq!(bound(&counting(Value::Inst(0), Pred::Ult, false), true), Some(args - 1));
        assert_eq!(bound(&counting(Value::Inst(0), Pred::Ne, true), true), Some(args - 1));
        // Without the test of the length, `i + 1 != 0` runs `i` through every value.
        assert_eq!(bound(&counting(Value::Inst(0), Pred::Ne, false), true), None);
        // In a function the PVM does not enter, the second parameter is any value.
        assert_eq!(bound(&counting(Value::Inst(0), Pred::Ult, false), false), None);
        // `i + 1 <= len` lets `i` reach `len`, and `i + 1 > len` is no loop bound.
        assert_eq!(bound(&counting(Value::Inst(0), Pred::Ule, false), true), None);
        assert_eq!(bound(&counting(Value::Inst(0), Pred::Ugt, false), true), None);
    }

    /// An entry whose loop tests `i` against the arguments' length by `pred` in its
    /// header (into the loop on the true side) and steps it in its body.
    ///
    /// Blocks: 0 entry, 1 header, 2 body, 3 exit. Instructions: 0 `args_len`, 1 entry's
    /// branch, 2 `i`, 3 the test, 4 the header's branch, 5 `i + 1`, 6 the body's branch,
    /// 7 `ret`.
    fn header_tested(pred: Pred) -> Function {
        let insts = vec![
            Inst::of_width(Op::Cast(Cast::Trunc, Value::Arg(1), 64), 32),
            Inst::of_width(Op::Br(1), 0),
            Inst::of_width(Op::Phi(vec![(Value::Const(0), 0), (Value::Inst(5), 2)]), 32),
            Inst::of_width(Op::ICmp(pred, Value::Inst(2), Value::Inst(0)), 1),
            Inst::of_width(Op::CondBr(Value::Inst(3), 2, 3), 0),
            Inst::of_width(Op::Binary(BinOp::Add, Value::Inst(2), Value::Const(1)), 32),
            Inst::of_width(Op::Br(1), 0),
            Inst::of_width(Op::Ret(None), 0),
        ];
        let blocks = vec![
            Block { insts: vec![0, 1] },
            Block { insts: vec![2, 3, 4] },
            Block { insts: vec![5, 6] },
            Block { insts: vec![7] },
        ];
        Function { name: "__pvm_entry".into(), params: vec![64, 64], result: Ty::Void, blocks, insts }
    }

    #[test]
    fn a_counter_tested_in_its_header() {
        let bound = |f: &Function| LoopRanges::new(f, true).upper_bound(Value::Inst(2));
        // At most the length: the header sees `i == len` on the way out.
        assert_eq!(bound(&header_tested(Pred::Ult)), Some(u64::from(MAX_ARGS)));
        assert_eq!(bound(&header_tested(Pred::Ne)), Some(u64::from(MAX_ARGS)));
        // `i <= len` into the loop lets `i` pass the length, `i == len` is no loop test.
        assert_eq!(bound(&header_tested(Pred::Ule)), None);
        assert_eq!(bound(&header_tested(Pred::Eq)), None);
        // A test whose both sides stay in the loop bounds nothing.
        let mut f = header_tested(Pred::Ult);
        f.insts[4].op = Op::CondBr(Value::Inst(3), 2, 2);
        assert_eq!(bound(&f), None);
    }

    #[test]
    fn a_counter_below_a_constant() {
        assert_eq!(bound(&counting(Value::Const(100), Pred::Ult, false), false), Some(99));
        // From 0, `i + 1 != 100` stops `i` at 99 with no test of the limit.
        assert_eq!(bound(&counting(Value::Const(100), Pred::Ne, false), false), Some(99));
        // An i32 limit of -1 is 2^32 - 1 unsigned.
        assert_eq!(bound(&counting(Value::Const(u64::MAX), Pred::Ult, false), false), Some(0xffff_fffe));
        assert_eq!(bound(&counting(Value::Const(0), Pred::Ult, false), false), None);
    }

    #[test]
    fn a_counter_that_does_not_start_at_zero_or_step_by_one_is_not_bounded() {
        let mut f = counting(Value::Inst(0), Pred::Ult, false);
        f.insts[3].op = Op::Phi(vec![(Value::Const(1), 0), (Value::Inst(4), 1)]);
        assert_eq!(bound(&f, true), None);
        let mut f = counting(Value::Inst(0), Pred::Ult, false);
        f.insts[4].op = Op::Binary(BinOp::Add, Value::Inst(3), Value::Const(2));
        assert_eq!(bound(&f, true), None);
    }
}

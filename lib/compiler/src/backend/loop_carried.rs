//! Loop-carried values: copies before a loop's closing branch, so that no move runs on
//! the back edge. A loop here is a chain of blocks, each the only predecessor of the
//! next, from its header (whose parameters are the carried values) to the latch that
//! branches back to it or out.
//!
//! `regalloc2` gives a block parameter and the argument passed to it one register when
//! their live ranges do not overlap. In a loop that rotates its values (fib: the next `a`
//! is the old `b`, the next `b` is `a + b`) they always overlap, so the allocator puts a
//! parallel move (a swap through a third register) on the back edge, and the back edge
//! then needs a block of its own and a jump. Here such a loop's values are copied into
//! new registers just before its branch — the copy of an argument that is itself a
//! parameter first — and the branch and the exit use the copies: every argument then
//! shares its parameter's register, the copies are the only moves, and the branch closes
//! the loop. The pass changes a loop only when that reasoning shows every parameter can
//! share its argument's register.

use crate::backend::mir::{BlockDraft, MInst, Rhs};
use regalloc2::{OperandKind, VReg};
use std::collections::{HashMap, HashSet};

/// Adds the copies to every loop where they take the moves off its back edge;
/// `next_vreg` counts the virtual registers.
pub fn coalesce(blocks: &mut [BlockDraft], next_vreg: &mut usize) {
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); blocks.len()];
    for (b, block) in blocks.iter().enumerate() {
        for &(s, _) in &block.succs {
            if !preds[s].contains(&b) {
                preds[s].push(b);
            }
        }
    }
    for b in 0..blocks.len() {
        if let Some(plan) = plan(blocks, &preds, b) {
            apply(blocks, b, &plan, next_vreg);
        }
    }
}

/// Blocks a loop may have (its header, the latch and the blocks between them).
const MAX_LOOP_BLOCKS: usize = 8;

/// What [`apply`] does to one loop.
struct Plan {
    /// The edge block that closes the loop.
    back_edge: usize,
    /// The block the loop exits to, when the latch is its only predecessor (the copies
    /// stand in for their sources there too).
    exit_block: Option<usize>,
    /// Parameter indices to copy, in the order the copies run.
    copies: Vec<usize>,
}

/// The registers an instruction reads and writes.
fn uses_and_defs(inst: &MInst) -> (Vec<VReg>, Vec<VReg>) {
    let mut operands = Vec::new();
    inst.operands(&mut operands);
    let (mut uses, mut defs) = (Vec::new(), Vec::new());
    for o in operands {
        match o.kind() {
            OperandKind::Use => uses.push(o.vreg()),
            OperandKind::Def => defs.push(o.vreg()),
        }
    }
    (uses, defs)
}

/// Where block `e` jumps, when it does nothing else and only `b` branches to it.
fn edge_of(blocks: &[BlockDraft], preds: &[Vec<usize>], b: usize, e: usize) -> Option<usize> {
    let block = &blocks[e];
    (e != b && preds[e] == [b] && block.insts.len() == 1 && block.succs.len() == 1).then(|| block.succs[0].0)
}

/// The loop `latch` closes, header first: a chain of blocks each the only predecessor of
/// the next, from the header to the latch.
fn loop_blocks(preds: &[Vec<usize>], header: usize, latch: usize) -> Option<Vec<usize>> {
    let mut chain = vec![latch];
    while chain[0] != header {
        if chain.len() == MAX_LOOP_BLOCKS || preds[chain[0]].len() != 1 {
            return None;
        }
        chain.insert(0, preds[chain[0]][0]);
    }
    Some(chain)
}

fn plan(blocks: &[BlockDraft], preds: &[Vec<usize>], latch: usize) -> Option<Plan> {
    let block = &blocks[latch];
    let &MInst::Branch { a, b: rhs, .. } = block.insts.last()? else { return None };
    if block.succs.len() != 2 {
        return None;
    }
    let side = |s: usize| block.succs[s].0;
    let (back, chain) = (0..2).find_map(|s| {
        let header = edge_of(blocks, preds, latch, side(s))?;
        Some((s, loop_blocks(preds, header, latch)?))
    })?;
    let header = &blocks[chain[0]];
    if header.params.is_empty() || chain[1..].iter().any(|&c| !blocks[c].params.is_empty()) {
        return None;
    }
    let (back_edge, exit) = (side(back), side(1 - back));
    let exit_block = (preds[exit] == [latch]).then_some(exit);
    let params = &header.params;
    let args = &blocks[back_edge].succs[0].1;

    // Positions in the loop: its instructions in order up to the latch's branch, the
    // branches between its blocks with what they pass to other blocks.
    let mut defined_at: HashMap<VReg, usize> = HashMap::new();
    let mut last_use: HashMap<VReg, usize> = HashMap::new();
    let mut k = 0;
    for (n, &c) in chain.iter().enumerate() {
        let insts = &blocks[c].insts;
        let body = if n + 1 == chain.len() { &insts[..insts.len() - 1] } else { &insts[..] };
        for inst in body {
            let (uses, defs) = uses_and_defs(inst);
            for u in uses {
                last_use.insert(u, k);
            }
            for d in defs {
                defined_at.insert(d, k);
            }
            k += 1;
        }
        if n + 1 < chain.len() {
            for (_, succ_args) in &blocks[c].succs {
                for &u in succ_args {
                    last_use.insert(u, k - 1);
                }
            }
        }
    }
    // What the branch and the exit read, which the copies can stand in for.
    let mut at_branch: Vec<VReg> = vec![a];
    if let Rhs::Reg(r) = rhs {
        at_branch.push(r);
    }
    at_branch.extend(block.succs[1 - back].1.iter().copied());
    if let Some(x) = exit_block {
        at_branch.extend(reads(&blocks[x]));
    }
    // Registers read anywhere else: those stay live past the loop's end.
    let local: Vec<usize> = chain.iter().copied().chain([back_edge]).chain(exit_block).collect();
    let elsewhere: HashSet<VReg> =
        blocks.iter().enumerate().filter(|(x, _)| !local.contains(x)).flat_map(|(_, other)| reads(other)).collect();

    let param_index = |v: VReg| params.iter().position(|&p| p == v);
    let carried = |i: usize| args[i] != params[i];
    // A parameter passed to another one always overlaps it; an argument computed before
    // its parameter's last use overlaps it.
    let mut copied: Vec<bool> = (0..params.len())
        .map(|i| {
            carried(i)
                && (param_index(args[i]).is_some()
                    || matches!((defined_at.get(&args[i]), last_use.get(&params[i])), (Some(d), Some(u)) if d < u))
        })
        .collect();
    if !copied.contains(&true) {
        return None;
    }
    // A copy reads its parameter at the end of the block: that parameter's own argument,
    // computed earlier, must be copied after it.
    loop {
        let mut changed = false;
        for i in 0..params.len() {
            if let Some(j) = copied[i].then(|| param_index(args[i])).flatten()
                && carried(j)
                && !copied[j]
            {
                copied[j] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let sources: HashSet<VReg> = (0..params.len()).filter(|&i| copied[i]).map(|i| args[i]).collect();
    // Every parameter must be free to share its argument's register: read nowhere after
    // the loop, not by the branch unless a copy stands in, and (not copied) dead before
    // its argument is computed.
    for i in (0..params.len()).filter(|&i| carried(i)) {
        let p = params[i];
        if elsewhere.contains(&p) || (at_branch.contains(&p) && !sources.contains(&p)) {
            return None;
        }
        if !copied[i] {
            let computed = defined_at.get(&args[i]).copied();
            let dead = last_use.get(&p).copied();
            if sources.contains(&p) || computed.is_none() || matches!((computed, dead), (Some(d), Some(u)) if d < u) {
                return None;
            }
        }
    }
    // Copy i reads parameter j before copy j overwrites its register: a topological order.
    let mut order = Vec::new();
    let mut placed = vec![false; params.len()];
    while order.len() < copied.iter().filter(|&&c| c).count() {
        let ready = (0..params.len()).find(|&j| {
            copied[j]
                && !placed[j]
                && (0..params.len()).all(|i| !copied[i] || placed[i] || i == j || args[i] != params[j])
        })?;
        placed[ready] = true;
        order.push(ready);
    }
    Some(Plan { back_edge, exit_block, copies: order })
}

fn apply(blocks: &mut [BlockDraft], latch: usize, plan: &Plan, next_vreg: &mut usize) {
    let mut copy_of: HashMap<VReg, VReg> = HashMap::new();
    let mut moves = Vec::new();
    let mut back_args = blocks[plan.back_edge].succs[0].1.clone();
    for &i in &plan.copies {
        let source = back_args[i];
        let copy = VReg::new(*next_vreg, source.class());
        *next_vreg += 1;
        moves.push(MInst::Move { dst: copy, src: source });
        copy_of.entry(source).or_insert(copy);
        back_args[i] = copy;
    }
    let edge = &mut blocks[plan.back_edge];
    edge.succs[0].1 = back_args.clone();
    if let Some(MInst::Jump { args, .. }) = edge.insts.last_mut() {
        *args = back_args;
    }
    let stand_in = |v: &mut VReg| {
        if let Some(&c) = copy_of.get(v) {
            *v = c;
        }
    };
    let block = &mut blocks[latch];
    let branch = block.insts.len() - 1;
    if let MInst::Branch { a, b: rhs, .. } = &mut block.insts[branch] {
        stand_in(a);
        if let Rhs::Reg(r) = rhs {
            stand_in(r);
        }
    }
    block.insts.splice(branch..branch, moves);
    let exit = block.succs.iter().position(|s| s.0 != plan.back_edge).expect("a loop has an exit");
    block.succs[exit].1.iter_mut().for_each(stand_in);
    if let Some(x) = plan.exit_block {
        let exit = &mut blocks[x];
        for inst in &mut exit.insts {
            inst.uses_mut().into_iter().for_each(stand_in);
        }
        for (_, args) in &mut exit.succs {
            args.iter_mut().for_each(stand_in);
        }
    }
}

/// Every register a block reads, its arguments to its successors included.
fn reads(block: &BlockDraft) -> impl Iterator<Item = VReg> + '_ {
    let insts = block.insts.iter().flat_map(|inst| uses_and_defs(inst).0);
    insts.chain(block.succs.iter().flat_map(|(_, args)| args.iter().copied()))
}

//! Hot calls: which functions the inliner must inline because they run in a loop.
//!
//! LLVM's inliner weighs each call by the callee's size against a fixed threshold
//! (`optimize::INLINE_THRESHOLD`); without a profile it does not know that a call runs
//! on every iteration of a loop, where the call, the callee's prologue and epilogue
//! (the saves and restores of the callee-saved registers it uses) and the moves of its
//! arguments cost as much as a small callee's body. Here a function is marked
//! `alwaysinline` when every call of it is hot and inlining it costs at most one more
//! copy of its body: it is internal (so LLVM deletes it once inlined) and not kept out
//! of line on purpose (`noinline`), called directly from at most [`MAX_CALL_SITES`]
//! functions, once from each, and used in no other way, not recursive, and at most
//! [`MAX_INSTRUCTIONS`] LLVM instructions long before optimisation.
//!
//! A call is hot when its block lies on a cycle of its function's control flow (a
//! WebAssembly `loop` that branches back), or when its function has one call site, and
//! that call is hot: LLVM inlines such a function into its caller anyway, loop and all
//! (the nested interpreter's run loop calls the step function, which calls the argument
//! decoder).

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::basic_block::BasicBlock;
use inkwell::module::{Linkage, Module};
use inkwell::values::{BasicValue, FunctionValue, InstructionOpcode, InstructionValue, Operand};
use std::collections::{HashMap, HashSet};

/// The most call sites (each in another function) a function marked may have.
pub const MAX_CALL_SITES: usize = 2;

/// The largest function marked, in LLVM instructions before optimisation.
const MAX_INSTRUCTIONS: usize = 200;

/// How many single callers up a call may be from the loop that makes it hot.
pub const MAX_DEPTH: usize = 4;

/// Marks `alwaysinline` the functions of `module` whose every call is hot (see the module's
/// documentation); returns their names.
pub fn mark(module: &Module<'_>) -> Vec<String> {
    let functions: Vec<FunctionValue<'_>> = module.get_functions().filter(|f| f.count_basic_blocks() > 0).collect();
    let names: HashMap<String, usize> =
        functions.iter().enumerate().map(|(i, f)| (f.get_name().to_string_lossy().into_owned(), i)).collect();
    // Per function: its call sites, as (caller, the cycle of the caller's control flow
    // the call's block lies on, if any).
    let mut sites: Vec<Vec<(usize, Option<usize>)>> = vec![Vec::new(); functions.len()];
    for (caller, f) in functions.iter().enumerate() {
        let cycles = cycles_of(*f);
        for block in f.get_basic_blocks() {
            for inst in instructions(block) {
                if let Some(callee) = direct_callee(inst).and_then(|name| names.get(&name)) {
                    sites[*callee].push((caller, cycles.get(&block).copied()));
                }
            }
        }
    }
    // Whether a call site runs in a loop: its own function's, or through its function's
    // only call site.
    let hot = |(mut caller, mut cycle): (usize, Option<usize>)| -> bool {
        for _ in 0..MAX_DEPTH {
            if cycle.is_some() {
                return true;
            }
            match sites[caller].as_slice() {
                &[(up, up_cycle)] if up != caller => (caller, cycle) = (up, up_cycle),
                _ => return false,
            }
        }
        false
    };
    let mut marked = Vec::new();
    for (i, f) in functions.iter().enumerate() {
        let calls = &sites[i];
        let only_called = count_uses(*f) == calls.len();
        let recursive = calls.iter().any(|&(caller, _)| caller == i);
        let size: usize = f.get_basic_blocks().into_iter().map(|b| instructions(b).count()).sum();
        // Functions kept out of line on purpose (the software floats' general routines).
        let noinline = f.get_enum_attribute(AttributeLoc::Function, Attribute::get_named_enum_kind_id("noinline"));
        let every_call_hot = calls.iter().all(|&site| hot(site));
        let callers: HashSet<usize> = calls.iter().map(|&(caller, _)| caller).collect();
        if f.get_linkage() == Linkage::Internal
            && noinline.is_none()
            && (1..=MAX_CALL_SITES).contains(&calls.len())
            && only_called
            && !recursive
            && size <= MAX_INSTRUCTIONS
            && every_call_hot
            && callers.len() == calls.len()
        {
            let context = module.get_context();
            let kind = Attribute::get_named_enum_kind_id("alwaysinline");
            f.add_attribute(AttributeLoc::Function, context.create_enum_attribute(kind, 0));
            marked.push(f.get_name().to_string_lossy().into_owned());
        }
    }
    marked
}

/// The instructions of `block`, in order.
fn instructions(block: BasicBlock<'_>) -> impl Iterator<Item = InstructionValue<'_>> {
    std::iter::successors(block.get_first_instruction(), |i| i.get_next_instruction())
}

/// The name of the function `inst` calls directly, if it is a call.
fn direct_callee(inst: InstructionValue<'_>) -> Option<String> {
    if inst.get_opcode() != InstructionOpcode::Call {
        return None;
    }
    match inst.get_operand(inst.get_num_operands().checked_sub(1)?)? {
        Operand::Value(v) if v.is_pointer_value() => {
            Some(v.into_pointer_value().get_name().to_string_lossy().into_owned()).filter(|n| !n.is_empty())
        }
        _ => None,
    }
}

/// How many times `f` is used (called or otherwise referred to).
fn count_uses(f: FunctionValue<'_>) -> usize {
    std::iter::successors(f.as_global_value().as_pointer_value().get_first_use(), |u| u.get_next_use()).count()
}

/// The blocks of `f` that lie on a cycle of its control flow (those in a strongly
/// connected component with more than one block, or that branch to themselves), each
/// with its component's number.
fn cycles_of(f: FunctionValue<'_>) -> HashMap<BasicBlock<'_>, usize> {
    let blocks = f.get_basic_blocks();
    let index: HashMap<BasicBlock<'_>, usize> = blocks.iter().enumerate().map(|(i, b)| (*b, i)).collect();
    let successors: Vec<Vec<usize>> = blocks
        .iter()
        .map(|b| {
            let Some(last) = b.get_terminator() else { return Vec::new() };
            (0..last.get_num_operands())
                .filter_map(|k| match last.get_operand(k) {
                    Some(Operand::Block(s)) => index.get(&s).copied(),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let component = strongly_connected(&successors);
    let mut size = vec![0usize; blocks.len()];
    for &c in &component {
        size[c] += 1;
    }
    blocks
        .iter()
        .enumerate()
        .filter(|&(i, _)| size[component[i]] > 1 || successors[i].contains(&i))
        .map(|(i, b)| (*b, component[i]))
        .collect()
}

/// Tarjan's strongly connected components of the graph `successors`: each node's
/// component number.
fn strongly_connected(successors: &[Vec<usize>]) -> Vec<usize> {
    const NONE: usize = usize::MAX;
    let n = successors.len();
    let (mut index, mut low, mut component) = (vec![NONE; n], vec![0; n], vec![NONE; n]);
    let (mut stack, mut on_stack, mut next, mut components) = (Vec::new(), vec![false; n], 0, 0);
    for root in 0..n {
        if index[root] != NONE {
            continue;
        }
        // (node, position in its successors), an explicit recursion.
        let mut work = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if let Some(&w) = successors[v].get(*k) {
                *k += 1;
                if index[w] == NONE {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = components;
                    if w == v {
                        break;
                    }
                }
                components += 1;
            }
        }
    }
    component
}

#[cfg(test)]
mod tests {
    use super::strongly_connected;

    #[test]
    fn components_of_a_loop_and_a_chain() {
        // 0 → 1 → 2 → 1, 2 → 3.
        let c = strongly_connected(&[vec![1], vec![2], vec![1, 3], vec![]]);
        assert_eq!(c[1], c[2]);
        assert!(c[0] != c[1] && c[3] != c[1] && c[0] != c[3]);
    }
}

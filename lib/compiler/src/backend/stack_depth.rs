//! The stack a program needs: the deepest chain of stack frames its calls can build.
//!
//! WebAssembly code has no dynamic stack allocation (a C shadow stack lives in linear
//! memory), so every function's frame has a size known once it is emitted. A call by
//! label reaches that function, or a runtime routine (which takes no frame); a call
//! through the table reaches any function in it. When no chain of calls can come back to
//! a function already on it, the deepest chain from an entry bounds the stack exactly,
//! and the program declares that instead of the requested stack size: every PVM engine
//! then maps and clears fewer pages. A program whose calls can recurse keeps the
//! requested size (its depth depends on its input).

use crate::backend::mir::CallTarget;
use std::collections::HashMap;

/// What one emitted function contributes to the stack.
pub struct FrameInfo {
    /// Bytes the function moves the stack pointer down by (outgoing arguments, spills,
    /// saved registers).
    pub frame: u32,
    /// What its calls reach.
    pub calls: Vec<CallTarget>,
}

/// The largest sum of frames along any call chain that starts at one of `entries`, or
/// `None` when some chain reachable from an entry can recur. `functions` holds every
/// function by label; a label not in it is a runtime routine, which takes no stack.
/// `table` lists the functions a call through the table may reach.
pub fn deepest_chain(functions: &HashMap<String, FrameInfo>, entries: &[&str], table: &[&str]) -> Option<u64> {
    let mut depth: HashMap<&str, Visit> = HashMap::new();
    let mut deepest = 0;
    for entry in entries {
        deepest = deepest.max(visit(entry, functions, table, &mut depth)?);
    }
    Some(deepest)
}

#[derive(Clone, Copy)]
enum Visit {
    /// On the chain being walked: reaching it again means recursion.
    Open,
    /// Its deepest chain, itself included.
    Done(u64),
}

/// Walks the call graph depth first with an explicit stack (a long chain of calls must
/// not overflow the compiler's own stack).
fn visit<'a>(
    root: &'a str,
    functions: &'a HashMap<String, FrameInfo>,
    table: &[&'a str],
    depth: &mut HashMap<&'a str, Visit>,
) -> Option<u64> {
    let callees = |name: &'a str| -> Vec<&'a str> {
        let Some(info) = functions.get(name) else { return Vec::new() };
        let mut out: Vec<&'a str> = info
            .calls
            .iter()
            .filter_map(|call| match call {
                CallTarget::Label(label) => functions.get_key_value(label).map(|(k, _)| k.as_str()),
                CallTarget::Table { .. } => None,
            })
            .collect();
        if info.calls.iter().any(|c| matches!(c, CallTarget::Table { .. })) {
            out.extend_from_slice(table);
        }
        out.sort_unstable();
        out.dedup();
        out
    };
    // (function, its callees, how many of them are done)
    let mut walk: Vec<(&'a str, Vec<&'a str>, usize)> = Vec::new();
    match depth.get(root) {
        Some(Visit::Done(d)) => return Some(*d),
        Some(Visit::Open) => return None,
        None => {}
    }
    depth.insert(root, Visit::Open);
    walk.push((root, callees(root), 0));
    while let Some((name, calls, next)) = walk.last_mut() {
        if let Some(&callee) = calls.get(*next) {
            *next += 1;
            match depth.get(callee) {
                Some(Visit::Open) => return None,
                Some(Visit::Done(_)) => {}
                None => {
                    depth.insert(callee, Visit::Open);
                    let calls = callees(callee);
                    walk.push((callee, calls, 0));
                }
            }
            continue;
        }
        let name = *name;
        let below = calls
            .iter()
            .map(|c| match depth.get(c) {
                Some(Visit::Done(d)) => *d,
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        let own = functions.get(name).map_or(0, |f| u64::from(f.frame));
        depth.insert(name, Visit::Done(own + below));
        walk.pop();
    }
    match depth.get(root) {
        Some(Visit::Done(d)) => Some(*d),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regalloc2::VReg;

    fn function(frame: u32, calls: &[&str]) -> FrameInfo {
        FrameInfo { frame, calls: calls.iter().map(|c| CallTarget::Label(c.to_string())).collect() }
    }

    fn table_call() -> CallTarget {
        CallTarget::Table { doubled_index: VReg::new(0, regalloc2::RegClass::Int), base: 2 }
    }

    fn graph(items: Vec<(&str, FrameInfo)>) -> HashMap<String, FrameInfo> {
        items.into_iter().map(|(n, f)| (n.to_string(), f)).collect()
    }

    #[test]
    fn the_deepest_chain_sums_its_frames() {
        let functions = graph(vec![
            ("main", function(16, &["a", "b", "__pvm.memset"])),
            ("a", function(32, &["c"])),
            ("b", function(8, &["c", "c"])),
            ("c", function(24, &[])),
        ]);
        assert_eq!(deepest_chain(&functions, &["main"], &[]), Some(16 + 32 + 24));
        assert_eq!(deepest_chain(&functions, &["b"], &[]), Some(8 + 24));
        assert_eq!(deepest_chain(&functions, &["c", "a"], &[]), Some(32 + 24));
    }

    #[test]
    fn a_table_call_reaches_every_function_in_the_table() {
        let mut functions =
            graph(vec![("main", function(8, &[])), ("small", function(8, &[])), ("big", function(64, &[]))]);
        functions.get_mut("main").unwrap().calls.push(table_call());
        assert_eq!(deepest_chain(&functions, &["main"], &["small", "big"]), Some(72));
        assert_eq!(deepest_chain(&functions, &["main"], &["small"]), Some(16));
        assert_eq!(deepest_chain(&functions, &["main"], &[]), Some(8));
    }

    #[test]
    fn recursion_has_no_bound() {
        let functions =
            graph(vec![("main", function(8, &["a"])), ("a", function(8, &["b"])), ("b", function(8, &["a"]))]);
        assert_eq!(deepest_chain(&functions, &["main"], &[]), None);
        let functions = graph(vec![("main", function(8, &["main"]))]);
        assert_eq!(deepest_chain(&functions, &["main"], &[]), None);
        let mut functions = graph(vec![("main", function(8, &[])), ("f", function(8, &[]))]);
        functions.get_mut("f").unwrap().calls.push(table_call());
        functions.get_mut("main").unwrap().calls.push(table_call());
        assert_eq!(deepest_chain(&functions, &["main"], &["f"]), None);
        // Recursion out of reach of every entry does not matter.
        let functions = graph(vec![("main", function(8, &[])), ("r", function(8, &["r"]))]);
        assert_eq!(deepest_chain(&functions, &["main"], &[]), Some(8));
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_walk() {
        let names: Vec<String> = (0..200_000).map(|k| format!("f{k}")).collect();
        let functions: HashMap<String, FrameInfo> = names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let calls = names.get(k + 1).map(|c| vec![CallTarget::Label(c.clone())]).unwrap_or_default();
                (n.clone(), FrameInfo { frame: 8, calls })
            })
            .collect();
        assert_eq!(deepest_chain(&functions, &["f0"], &[]), Some(8 * 200_000));
    }
}

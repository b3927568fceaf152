//! The split of a module's functions into parts that LLVM optimises at the same time,
//! each in an LLVM module (and context) of its own, on a thread of its own.
//!
//! LLVM's pipeline is most of the compile time of a large module and runs on one core; a
//! split lets it run on several. What a split must not lose is inlining, so the parts
//! are cut along the call graph:
//!
//! - a function called from one call site only stays with its caller (LLVM inlines such
//!   a function whatever its size), and so does one whose every call is hot, which
//!   [`crate::hot_calls`] may have inlined; the start function and the entry exports
//!   stay with the program's entries, in part 0 (but not the exports a test harness
//!   calls);
//! - the groups this makes go to the part with the least work so far, largest first
//!   (the size of their bodies, a function to be inlined weighing more);
//! - a small function (at most [`SMALL_BODY`] bytes of body) and an import (all in part
//!   0) are also copied into every other part that calls them, where LLVM may inline them
//!   (`available_externally`: a body to inline, but no code of its own).
//!
//! A function another part calls (other than through a copy), and every function in the
//! table, has external linkage in its part; the others stay internal, for LLVM to
//! specialise or delete. The globals are shared: every part declares all of them with
//! external linkage, and the back end lays each name out once.

use crate::error::Result;
use crate::options::Options;
use crate::wasm::module::Module;

/// Bodies of at most this many bytes are copied into the parts that call them.
pub const SMALL_BODY: usize = 48;

/// What one part of a split holds of each WebAssembly function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    /// Its code: the function belongs to this part. `shared` when another part calls it
    /// or it is in the table (external linkage), internal otherwise.
    Defined { shared: bool },
    /// A copy of its body for inlining (`available_externally`).
    Copy,
    /// A declaration only.
    Declared,
}

/// A module's functions split into parts.
#[derive(Debug, Clone)]
pub struct Partition {
    /// The part each function belongs to, by function index.
    owner: Vec<usize>,
    /// Per part, the functions copied into it.
    copies: Vec<Vec<bool>>,
    /// Whether a part other than its owner calls the function (or it is in the table).
    shared: Vec<bool>,
}

impl Partition {
    /// Splits `wasm`'s functions into at most `parts` parts (fewer when there are fewer
    /// groups of functions to share out).
    pub fn split(wasm: &Module<'_>, options: &Options, parts: usize) -> Result<Self> {
        let roots = wasm.entered_functions(options);
        let table = wasm.table_functions();
        let count = wasm.functions.len();
        let calls = call_sites(wasm)?;
        let size: Vec<usize> = wasm
            .functions
            .iter()
            .map(|f| f.body.as_ref().map_or(0, |b| (b.range().end - b.range().start) as usize))
            .collect();
        let small = |f: usize| size[f] <= SMALL_BODY;
        let mut sites = vec![0usize; count];
        let mut callers: Vec<Vec<(usize, bool)>> = vec![Vec::new(); count];
        for (caller, callees) in calls.iter().enumerate() {
            for &(callee, in_loop) in callees {
                sites[callee as usize] += 1;
                callers[callee as usize].push((caller, in_loop));
            }
        }
        let mut pinned = vec![false; count];
        for &f in roots.iter().chain(&table) {
            sites[f as usize] += 1;
            pinned[f as usize] = true;
        }
        // Groups: a function with one call site joins its caller's group. Node `count`
        // stands for the entries.
        let mut group = UnionFind::new(count + 1);
        // A test harness's entry calls every export, each from a case of its loop: those
        // go wherever the balance puts them.
        if options.entry != crate::options::EntryKind::Harness {
            for &root in &roots {
                group.union(root as usize, count);
            }
        }
        // A function LLVM inlines is simplified twice, on its own and in its caller: it
        // weighs more (7/4 balanced the two parts of `compiler.wasm` best).
        let mut weight = size.clone();
        for callee in (0..count).filter(|&f| !pinned[f]) {
            if sites[callee] == 1 || hot_calls_only(&callers, callee) {
                weight[callee] = weight[callee] * 7 / 4;
                for &(caller, _) in &callers[callee] {
                    group.union(callee, caller);
                }
            }
        }
        let defined = |f: usize| f >= wasm.imported_functions && wasm.is_live(f as u32);
        let mut groups: std::collections::BTreeMap<usize, (usize, Vec<usize>)> = Default::default();
        for f in (0..count).filter(|&f| defined(f)) {
            let entry = groups.entry(group.find(f)).or_default();
            entry.0 += weight[f];
            entry.1.push(f);
        }
        let parts = parts.clamp(1, groups.len().max(1));
        // Imports belong to part 0, functions the program cannot run to none.
        let mut owner: Vec<usize> =
            (0..count).map(|f| if f < wasm.imported_functions { 0 } else { usize::MAX }).collect();
        let mut load = vec![0usize; parts];
        let entries = group.find(count);
        let mut ordered: Vec<(usize, Vec<usize>)> = Vec::new();
        for (root, (weight, members)) in groups {
            if root == entries {
                load[0] += weight;
                for &f in &members {
                    owner[f] = 0;
                }
            } else {
                ordered.push((weight, members));
            }
        }
        ordered.sort_by(|a, b| b.0.cmp(&a.0).then(a.1[0].cmp(&b.1[0])));
        for (weight, members) in ordered {
            let part = (0..parts).min_by_key(|&p| (load[p], p)).expect("at least one part");
            load[part] += weight;
            for f in members {
                owner[f] = part;
            }
        }
        // A small function is copied into every other part that calls it, with the small
        // functions it calls in turn.
        let mut copies = vec![vec![false; count]; parts];
        let mut shared = vec![false; count];
        for &f in &table {
            shared[f as usize] = true;
        }
        for (part, copied) in copies.iter_mut().enumerate() {
            let mut seen = vec![false; count];
            let mut reach = |callee: usize, stack: &mut Vec<usize>| {
                if owner[callee] != part && !seen[callee] {
                    seen[callee] = true;
                    shared[callee] = true;
                    if small(callee) {
                        copied[callee] = true;
                        stack.push(callee);
                    }
                }
            };
            let mut stack: Vec<usize> = (0..count).filter(|&f| owner[f] == part).collect();
            if part == 0 {
                for &root in &roots {
                    reach(root as usize, &mut stack);
                }
            }
            while let Some(caller) = stack.pop() {
                for &(callee, _) in &calls[caller] {
                    reach(callee as usize, &mut stack);
                }
            }
        }
        Ok(Partition { owner, copies, shared })
    }

    /// The number of parts.
    pub fn parts(&self) -> usize {
        self.copies.len()
    }

    /// What part `part` holds of function `index`.
    pub fn holding(&self, part: usize, index: u32) -> Holding {
        let f = index as usize;
        if self.owner[f] == part {
            Holding::Defined { shared: self.shared[f] }
        } else if self.copies[part][f] {
            Holding::Copy
        } else {
            Holding::Declared
        }
    }
}

/// Whether `callee` is one that [`crate::hot_calls`] may mark for inlining: called from
/// at most as many functions as it allows, once from each, and every call hot (in a
/// loop, or in a function whose one call site is hot). Such a function stays with its
/// callers, where it can be internal and inlined.
fn hot_calls_only(callers: &[Vec<(usize, bool)>], callee: usize) -> bool {
    let sites = &callers[callee];
    let distinct = sites.iter().map(|&(caller, _)| caller).collect::<std::collections::BTreeSet<_>>().len();
    let hot = |&(mut caller, mut in_loop): &(usize, bool)| {
        for _ in 0..crate::hot_calls::MAX_DEPTH {
            if in_loop {
                return true;
            }
            match callers[caller].as_slice() {
                &[(up, up_in_loop)] if up != caller => (caller, in_loop) = (up, up_in_loop),
                _ => return false,
            }
        }
        false
    };
    !sites.is_empty()
        && sites.len() <= crate::hot_calls::MAX_CALL_SITES
        && distinct == sites.len()
        && !sites.iter().any(|&(caller, _)| caller == callee)
        && sites.iter().all(hot)
}

/// The functions each function calls directly, once per call site, each with whether
/// the call lies inside a loop.
fn call_sites(wasm: &Module<'_>) -> Result<Vec<Vec<(u32, bool)>>> {
    wasm.functions
        .iter()
        .enumerate()
        .map(|(index, function)| {
            let mut callees = Vec::new();
            if let Some(body) = function.body.as_ref().filter(|_| wasm.is_live(index as u32)) {
                // Per open block, whether it is a loop.
                let mut blocks: Vec<bool> = Vec::new();
                let mut reader = body.get_operators_reader()?;
                while !reader.eof() {
                    match reader.read()? {
                        wasmparser::Operator::Call { function_index }
                        | wasmparser::Operator::ReturnCall { function_index } => {
                            callees.push((function_index, blocks.contains(&true)))
                        }
                        wasmparser::Operator::Block { .. } | wasmparser::Operator::If { .. } => blocks.push(false),
                        wasmparser::Operator::Loop { .. } => blocks.push(true),
                        wasmparser::Operator::End => {
                            blocks.pop();
                        }
                        _ => {}
                    }
                }
            }
            Ok(callees)
        })
        .collect()
}

/// Disjoint sets of function indices.
struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(count: usize) -> Self {
        UnionFind { parent: (0..count).collect() }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a.max(b)] = a.min(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body of about `bytes` bytes.
    fn filler(bytes: usize) -> String {
        "(drop (i32.add (local.get 0) (i32.const 100000)))".repeat(bytes / 10)
    }

    fn split(text: &str, options: &Options) -> (Module<'static>, Partition) {
        let wasm: &'static [u8] = Box::leak(wat::parse_str(text).unwrap().into_boxed_slice());
        let mut module = Module::parse(wasm, options).unwrap();
        module.find_live(options).unwrap();
        let partition = Partition::split(&module, options, 2).unwrap();
        (module, partition)
    }

    /// `main` calls `once` (its only call site) and the small `helper`; two table
    /// functions call `helper` and `other`; `dead` runs never.
    fn program() -> String {
        format!(
            r#"(module
                (import "env" "abort" (func $abort))
                (table 2 funcref)
                (elem (i32.const 0) $h1 $h2)
                (func $main (export "main") (param i32 i32) (result i64)
                    (call $once (i32.const 1)) (call $helper (i32.const 2)) (i64.const 0))
                (func $once (param i32) {big})
                (func $helper (param i32) (drop (local.get 0)))
                (func $h1 (param i32) (call $helper (local.get 0)) (call $other (local.get 0)) {medium})
                (func $h2 (param i32) (call $helper (local.get 0)) (call $other (local.get 0)) {medium})
                (func $other (param i32) (call $abort) {medium})
                (func $dead (param i32) {medium}))"#,
            big = filler(800),
            medium = filler(100),
        )
    }

    #[test]
    fn groups_keep_single_calls_together_and_copy_small_functions() {
        let (_, partition) = split(&program(), &Options::default());
        assert_eq!(partition.parts(), 2);
        let [abort, main, once, helper, h1, h2, other, dead] = [0, 1, 2, 3, 4, 5, 6, 7];
        let held = |f: u32| [partition.holding(0, f), partition.holding(1, f)];
        let internal = Holding::Defined { shared: false };
        let shared = Holding::Defined { shared: true };
        // The entry's group is the heaviest: every other group goes to part 1.
        assert_eq!(held(main), [internal, Holding::Declared]);
        assert_eq!(held(once), [internal, Holding::Declared]);
        assert_eq!(held(h1), [Holding::Declared, shared]);
        assert_eq!(held(h2), [Holding::Declared, shared]);
        assert_eq!(held(other), [Holding::Declared, internal]);
        // Small, called from both parts: defined in one, copied into the other.
        assert_eq!(held(helper), [Holding::Copy, shared]);
        // The import belongs to part 0, and part 1 has a copy to inline.
        assert_eq!(held(abort), [shared, Holding::Copy]);
        assert_eq!(held(dead), [Holding::Declared, Holding::Declared]);
    }

    #[test]
    fn a_module_of_one_group_stays_whole() {
        let text =
            format!("(module (func (export \"main\") (param i32 i32) (result i64) {} (i64.const 0)))", filler(100));
        let (_, partition) = split(&text, &Options::default());
        assert_eq!(partition.parts(), 1);
        assert_eq!(partition.holding(0, 0), Holding::Defined { shared: false });
    }
}

//! Which `memory.copy` instructions may read the arguments `main` is given: those whose
//! source may be an argument address (docs/memory.md, "Out-of-bounds accesses").
//!
//! Loads read the arguments through the rare path of their address check, which the back
//! end gives the loads whose address may be an argument address
//! (`backend::address_check::zoned`). `memory.copy` reads what a load may read, but its
//! range check is built here, before LLVM, so the front end applies the same rule to the
//! WebAssembly code: a value may be an argument address when it is computed from an entry
//! function's first parameter (`args_ptr`) through arithmetic, locals, `select`, block
//! values and direct calls (their parameters and results). Control flow is followed, so a
//! local that held `args_ptr` once and something else later carries it only where it
//! still may. If such a value is stored to memory or a global, filled into memory, or
//! passed to an import or an indirect call, the compiler cannot follow it any more, and
//! every `memory.copy` may read the arguments. The loaded contents of the arguments are
//! data, not addresses.

use crate::error::Result;
use crate::wasm::module::Module;
use std::collections::{BTreeSet, HashMap};
use wasmparser::{BlockType, Operator};

/// The `memory.copy` instructions of a module whose source may be an argument address.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArgumentCopies {
    /// Every `memory.copy` may read the arguments: an argument address went where the
    /// analysis cannot follow it.
    every: bool,
    /// By function index: the byte offsets of the `memory.copy` operators whose source
    /// may be an argument address.
    at: Vec<BTreeSet<usize>>,
}

impl ArgumentCopies {
    /// The analysis of `module`, whose functions `entries` are entered with `args_ptr`
    /// as their first parameter.
    pub fn analyse(module: &Module<'_>, entries: &[u32]) -> Result<Self> {
        let functions = module.functions.len();
        let mut flow = Flow {
            module,
            params: (0..functions as u32).map(|f| vec![false; module.signature(f).params.len()]).collect(),
            results: (0..functions as u32).map(|f| vec![false; module.signature(f).results.len()]).collect(),
            escaped: false,
            copies: vec![BTreeSet::new(); functions],
        };
        for &entry in entries {
            if let Some(first) = flow.params[entry as usize].first_mut() {
                *first = true;
            }
        }
        // Parameters and results only ever become carried.
        loop {
            let before = (flow.params.clone(), flow.results.clone());
            for index in module.imported_functions..functions {
                flow.function(index as u32)?;
                if flow.escaped {
                    return Ok(ArgumentCopies { every: true, at: Vec::new() });
                }
            }
            if before == (flow.params.clone(), flow.results.clone()) {
                return Ok(ArgumentCopies { every: false, at: flow.copies });
            }
        }
    }

    /// Whether the `memory.copy` at byte `offset` of function `function` may read the
    /// arguments.
    pub fn reads_arguments(&self, function: u32, offset: usize) -> bool {
        self.every || self.at.get(function as usize).is_some_and(|copies| copies.contains(&offset))
    }
}

/// The analysis in progress: for each value, whether it may be an argument address.
struct Flow<'m, 'w> {
    module: &'m Module<'w>,
    /// By function: its parameters that may be.
    params: Vec<Vec<bool>>,
    /// By function: its results that may be.
    results: Vec<Vec<bool>>,
    /// Whether one went where the analysis cannot follow it.
    escaped: bool,
    /// By function: the `memory.copy` operators (byte offsets) whose source may be one.
    copies: Vec<BTreeSet<usize>>,
}

/// The locals, then the operand stack, at a point of a function; `None` where no path
/// reaches.
#[derive(Clone)]
struct State {
    locals: Vec<bool>,
    stack: Vec<bool>,
}

/// An open control construct.
struct Frame {
    /// The loop's position among the operators, for a loop.
    header: Option<usize>,
    /// The operand stack below the construct.
    below: Vec<bool>,
    /// Its result count.
    results: usize,
    /// The locals then the results where it ends, joined over every edge there.
    exit: Option<Vec<bool>>,
    /// For an `if` until its `else`: the locals then the parameters the false edge
    /// starts with.
    else_entry: Option<Vec<bool>>,
}

/// Joins `from` into `into` (or), telling whether `into` grew.
fn join(into: &mut Option<Vec<bool>>, from: Vec<bool>) -> bool {
    match into {
        None => {
            *into = Some(from);
            true
        }
        Some(into) => {
            let mut grew = false;
            for (a, b) in into.iter_mut().zip(from) {
                grew |= b && !*a;
                *a |= b;
            }
            grew
        }
    }
}

impl Flow<'_, '_> {
    /// Follows the values of defined function `index` until they are stable.
    fn function(&mut self, index: u32) -> Result<()> {
        let body = self.module.functions[index as usize].body.as_ref().expect("defined functions have bodies");
        let mut locals = self.params[index as usize].clone();
        for local in body.get_locals_reader()? {
            let (count, _) = local?;
            locals.extend(std::iter::repeat_n(false, count as usize));
        }
        let mut reader = body.get_operators_reader()?;
        let mut operators = Vec::new();
        while !reader.eof() {
            operators.push((reader.original_position() as usize, reader.read()?));
        }
        // The locals and parameters at each loop header, joined over its back edges.
        let mut headers = HashMap::new();
        while self.pass(index, &operators, &locals, &mut headers) {}
        Ok(())
    }

    /// One pass over a function's operators; `true` if a loop header's state grew, so
    /// that another pass is needed.
    fn pass(
        &mut self,
        index: u32,
        operators: &[(usize, Operator<'_>)],
        locals: &[bool],
        headers: &mut HashMap<usize, Option<Vec<bool>>>,
    ) -> bool {
        let results = self.results[index as usize].len();
        let mut state = Some(State { locals: locals.to_vec(), stack: Vec::new() });
        let mut frames = vec![Frame { header: None, below: Vec::new(), results, exit: None, else_entry: None }];
        let mut again = false;
        for (position, (offset, op)) in operators.iter().enumerate() {
            let Some(s) = &mut state else {
                // Unreachable code: only the structure matters.
                match op {
                    Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                        frames.push(Frame { header: None, below: Vec::new(), results: 0, exit: None, else_entry: None })
                    }
                    Operator::Else => state = else_state(frames.last_mut().expect("validated"), locals.len()),
                    Operator::End => state = self.close(index, &mut frames, None, locals.len()),
                    _ => {}
                }
                continue;
            };
            match *op {
                Operator::Block { blockty } => {
                    let (params, results) = self.block_arity(blockty);
                    let below = s.stack[..s.stack.len() - params].to_vec();
                    frames.push(Frame { header: None, below, results, exit: None, else_entry: None });
                }
                Operator::Loop { blockty } => {
                    let (params, results) = self.block_arity(blockty);
                    let below = s.stack[..s.stack.len() - params].to_vec();
                    let header = headers.entry(position).or_default();
                    join(header, [s.locals.clone(), s.stack[below.len()..].to_vec()].concat());
                    let joined = header.clone().expect("just joined");
                    s.locals = joined[..locals.len()].to_vec();
                    s.stack = [below.clone(), joined[locals.len()..].to_vec()].concat();
                    frames.push(Frame { header: Some(position), below, results, exit: None, else_entry: None });
                }
                Operator::If { blockty } => {
                    s.stack.pop();
                    let (params, results) = self.block_arity(blockty);
                    let below = s.stack[..s.stack.len() - params].to_vec();
                    let else_entry = Some([s.locals.clone(), s.stack[below.len()..].to_vec()].concat());
                    frames.push(Frame { header: None, below, results, exit: None, else_entry });
                }
                Operator::Else => {
                    let frame = frames.last_mut().expect("validated");
                    join(&mut frame.exit, [s.locals.clone(), s.stack[frame.below.len()..].to_vec()].concat());
                    state = else_state(frame, locals.len());
                }
                Operator::End => {
                    let results = frames.last().expect("validated").results;
                    let values = s.stack[s.stack.len() - results..].to_vec();
                    let fall_through = [s.locals.clone(), values].concat();
                    state = self.close(index, &mut frames, Some(fall_through), locals.len());
                }
                Operator::Br { relative_depth } => {
                    again |= branch(&mut frames, relative_depth, s, headers);
                    state = None;
                }
                Operator::BrIf { relative_depth } => {
                    s.stack.pop();
                    again |= branch(&mut frames, relative_depth, s, headers);
                }
                Operator::BrTable { ref targets } => {
                    s.stack.pop();
                    for depth in targets.targets().flatten().chain([targets.default()]) {
                        again |= branch(&mut frames, depth, s, headers);
                    }
                    state = None;
                }
                Operator::Return => {
                    self.returns(index, &s.stack);
                    state = None;
                }
                Operator::Unreachable => state = None,
                Operator::Call { function_index } => {
                    let signature = self.module.signature(function_index);
                    let args = s.stack.split_off(s.stack.len() - signature.params.len());
                    if (function_index as usize) < self.module.imported_functions {
                        self.escaped |= args.contains(&true);
                    } else {
                        for (param, arg) in self.params[function_index as usize].iter_mut().zip(args) {
                            *param |= arg;
                        }
                    }
                    s.stack.extend(&self.results[function_index as usize]);
                }
                Operator::CallIndirect { type_index, .. } => {
                    let signature = &self.module.types[type_index as usize];
                    s.stack.pop();
                    let args = s.stack.split_off(s.stack.len() - signature.params.len());
                    self.escaped |= args.contains(&true);
                    s.stack.extend(std::iter::repeat_n(false, signature.results.len()));
                }
                Operator::LocalGet { local_index } => s.stack.push(s.locals[local_index as usize]),
                Operator::LocalSet { local_index } => {
                    s.locals[local_index as usize] = s.stack.pop().expect("validated");
                }
                Operator::LocalTee { local_index } => {
                    s.locals[local_index as usize] = *s.stack.last().expect("validated");
                }
                Operator::GlobalSet { .. } => self.escaped |= s.stack.pop().expect("validated"),
                Operator::MemoryCopy { .. } => {
                    let source = s.stack[s.stack.len() - 2];
                    s.stack.truncate(s.stack.len() - 3);
                    if source {
                        self.copies[index as usize].insert(*offset);
                    }
                }
                Operator::MemoryFill { .. } => {
                    self.escaped |= s.stack[s.stack.len() - 2];
                    s.stack.truncate(s.stack.len() - 3);
                }
                _ if is_store(op) => {
                    self.escaped |= s.stack.pop().expect("validated");
                    s.stack.pop();
                }
                _ => match op.operator_arity(&NoModule) {
                    // A load gives the contents of memory: data, not an address (only a
                    // store puts one there, and that is an escape).
                    Some((1, 1)) if is_load(op) => *s.stack.last_mut().expect("validated") = false,
                    // Constants, `select`, arithmetic, `memory.size`, `drop`, ...: the
                    // result may be an argument address when an operand may.
                    Some((params, results)) => {
                        let operands = s.stack.split_off(s.stack.len() - params as usize);
                        let carried = operands.contains(&true) && !matches!(op, Operator::MemoryGrow { .. });
                        s.stack.extend(std::iter::repeat_n(carried, results as usize));
                    }
                    // Nothing the compiler translates; follow nothing further.
                    None => self.escaped = true,
                },
            }
        }
        again
    }

    /// Closes the innermost construct of function `index` at its `end`, reached by
    /// `fall_through` (the locals then the results) unless that is `None`: the state
    /// after it. The end of the body returns.
    fn close(
        &mut self,
        index: u32,
        frames: &mut Vec<Frame>,
        fall_through: Option<Vec<bool>>,
        locals: usize,
    ) -> Option<State> {
        let mut frame = frames.pop().expect("validated");
        if let Some(values) = fall_through {
            join(&mut frame.exit, values);
        }
        let state = end_state(frame, locals);
        if frames.is_empty()
            && let Some(s) = &state
        {
            self.returns(index, &s.stack);
        }
        state
    }

    /// Records that function `index` returns the values on top of `stack`.
    fn returns(&mut self, index: u32, stack: &[bool]) {
        let results = &mut self.results[index as usize];
        let values = &stack[stack.len() - results.len()..];
        for (result, &value) in results.iter_mut().zip(values) {
            *result |= value;
        }
    }

    fn block_arity(&self, ty: BlockType) -> (usize, usize) {
        match ty {
            BlockType::Empty => (0, 0),
            BlockType::Type(_) => (0, 1),
            BlockType::FuncType(i) => {
                let signature = &self.module.types[i as usize];
                (signature.params.len(), signature.results.len())
            }
        }
    }
}

/// Passes the values on top of the stack of `s` to the frame `depth` levels out: to its
/// exit, or to its loop header; `true` if a loop header's state grew.
fn branch(frames: &mut [Frame], depth: u32, s: &State, headers: &mut HashMap<usize, Option<Vec<bool>>>) -> bool {
    let frame = &mut frames[frames.len() - 1 - depth as usize];
    match frame.header {
        Some(position) => {
            let header = headers.get_mut(&position).expect("entered before any branch to it");
            let params = header.as_ref().map_or(0, |h| h.len() - s.locals.len());
            join(header, [s.locals.clone(), s.stack[s.stack.len() - params..].to_vec()].concat())
        }
        None => {
            join(&mut frame.exit, [s.locals.clone(), s.stack[s.stack.len() - frame.results..].to_vec()].concat());
            false
        }
    }
}

/// The state at an `else`: the locals and parameters the `if` started with.
fn else_state(frame: &mut Frame, locals: usize) -> Option<State> {
    let entry = frame.else_entry.take()?;
    Some(State { locals: entry[..locals].to_vec(), stack: [frame.below.clone(), entry[locals..].to_vec()].concat() })
}

/// The state after a construct's `end`, given the frame (its fall-through edge already
/// joined): every edge to its exit, and an `if`'s missing `else`, which passes the
/// parameters through.
fn end_state(mut frame: Frame, locals: usize) -> Option<State> {
    if let Some(entry) = frame.else_entry.take() {
        join(&mut frame.exit, entry);
    }
    let exit = frame.exit?;
    Some(State { locals: exit[..locals].to_vec(), stack: [frame.below, exit[locals..].to_vec()].concat() })
}

fn is_load(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::I32Load { .. }
            | Operator::I64Load { .. }
            | Operator::F32Load { .. }
            | Operator::F64Load { .. }
            | Operator::I32Load8S { .. }
            | Operator::I32Load8U { .. }
            | Operator::I32Load16S { .. }
            | Operator::I32Load16U { .. }
            | Operator::I64Load8S { .. }
            | Operator::I64Load8U { .. }
            | Operator::I64Load16S { .. }
            | Operator::I64Load16U { .. }
            | Operator::I64Load32S { .. }
            | Operator::I64Load32U { .. }
    )
}

fn is_store(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::I32Store { .. }
            | Operator::I64Store { .. }
            | Operator::F32Store { .. }
            | Operator::F64Store { .. }
            | Operator::I32Store8 { .. }
            | Operator::I32Store16 { .. }
            | Operator::I64Store8 { .. }
            | Operator::I64Store16 { .. }
            | Operator::I64Store32 { .. }
    )
}

/// What `Operator::operator_arity` needs to know of the module for operators of a fixed
/// arity: nothing (the others are handled above).
struct NoModule;

impl wasmparser::ModuleArity for NoModule {
    fn sub_type_at(&self, _: u32) -> Option<&wasmparser::SubType> {
        None
    }
    fn tag_type_arity(&self, _: u32) -> Option<(u32, u32)> {
        None
    }
    fn type_index_of_function(&self, _: u32) -> Option<u32> {
        None
    }
    fn func_type_of_cont_type(&self, _: &wasmparser::ContType) -> Option<&wasmparser::FuncType> {
        None
    }
    fn sub_type_of_ref_type(&self, _: &wasmparser::RefType) -> Option<&wasmparser::SubType> {
        None
    }
    fn control_stack_height(&self) -> u32 {
        0
    }
    fn label_block(&self, _: u32) -> Option<(BlockType, wasmparser::FrameKind)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::ArgumentCopies;
    use crate::options::Options;
    use crate::wasm::module::Module;
    use wasmparser::Operator;

    /// For each `memory.copy` of `text` in order: whether it may read the arguments when
    /// the export `main` is entered with them.
    fn copies(text: &str) -> Vec<bool> {
        let wasm = wat::parse_str(text).unwrap();
        let module = Module::parse(&wasm, &Options::default()).unwrap();
        let main = module.exported_function("main").unwrap();
        let analysis = ArgumentCopies::analyse(&module, &[main]).unwrap();
        let mut out = Vec::new();
        for (index, function) in module.functions.iter().enumerate() {
            let Some(body) = &function.body else { continue };
            let mut reader = body.get_operators_reader().unwrap();
            while !reader.eof() {
                let offset = reader.original_position() as usize;
                if let Operator::MemoryCopy { .. } = reader.read().unwrap() {
                    out.push(analysis.reads_arguments(index as u32, offset));
                }
            }
        }
        out
    }

    /// A module whose `main` has `body`, besides the functions `functions`.
    fn module(functions: &str, body: &str) -> String {
        format!(
            r#"(module (memory 1) (global $g (mut i32) (i32.const 0))
                 (type $t (func (param i32))) (table 1 funcref)
                 {functions}
                 (func (export "main") (param $ptr i32) (param $len i32) (local $x i32)
                   {body}))"#
        )
    }

    const COPY_PTR: &str = "(memory.copy (i32.const 0) (local.get $ptr) (local.get $len))";
    const COPY_X: &str = "(memory.copy (i32.const 0) (local.get $x) (local.get $len))";
    const COPY_CONST: &str = "(memory.copy (i32.const 0) (i32.const 64) (i32.const 8))";

    #[test]
    fn copies_from_args_ptr_and_what_is_computed_from_it() {
        assert_eq!(copies(&module("", &format!("{COPY_PTR} {COPY_CONST}"))), [true, false]);
        let computed = "(local.set $x (i32.add (i32.const 3) (local.get $ptr)))";
        assert_eq!(copies(&module("", &format!("{computed} {COPY_X}"))), [true]);
        // The contents of the arguments are not argument addresses.
        let loaded = "(local.set $x (i32.load (local.get $ptr)))";
        assert_eq!(copies(&module("", &format!("{loaded} {COPY_X}"))), [false]);
        // Nothing reaches the copy with args_ptr but a parameter.
        assert_eq!(copies(&module("", "(memory.copy (local.get $ptr) (i32.const 0) (i32.const 1))")), [false]);
    }

    #[test]
    fn locals_are_followed_along_control_flow() {
        // A local that held args_ptr, and later something else.
        let reused = format!("(local.set $x (local.get $ptr)) {COPY_X} (local.set $x (i32.const 64)) {COPY_X}");
        assert_eq!(copies(&module("", &reused)), [true, false]);
        // Set after the copy, but the loop's back edge brings it there.
        let looped = format!(
            "(loop $l {COPY_X} (local.set $x (local.get $ptr)) (br_if $l (local.get $len))) {COPY_X}
             (local.set $x (i32.const 0)) {COPY_X}"
        );
        assert_eq!(copies(&module("", &looped)), [true, true, false]);
        // Block results, branch values and the arms of an if.
        let block = format!("(local.set $x (block (result i32) (br 0 (local.get $ptr)))) {COPY_X}");
        assert_eq!(copies(&module("", &block)), [true]);
        let arms = format!(
            "(local.set $x (if (result i32) (local.get $len) (then (i32.const 0)) (else (local.get $ptr)))) {COPY_X}"
        );
        assert_eq!(copies(&module("", &arms)), [true]);
        let one_arm = format!("(if (local.get $len) (then (local.set $x (local.get $ptr)))) {COPY_X}");
        assert_eq!(copies(&module("", &one_arm)), [true]);
        let table = format!(
            "(local.set $x (block (result i32) (block (result i32) (local.get $ptr) (local.get $len) (br_table 0 1))
               (drop) (i32.const 0))) {COPY_X}"
        );
        assert_eq!(copies(&module("", &table)), [true]);
        // After a branch, nothing of the dead code flows on.
        let dead = format!("(block (local.set $x (i32.const 0)) (br 0) (local.set $x (local.get $ptr))) {COPY_X}");
        assert_eq!(copies(&module("", &dead)), [false]);
    }

    #[test]
    fn direct_calls_pass_argument_addresses_both_ways() {
        let functions = "(func $copy (param $p i32) (memory.copy (i32.const 0) (local.get $p) (i32.const 4)))
                         (func $other (param $p i32) (memory.copy (i32.const 0) (local.get $p) (i32.const 4)))
                         (func $id (param $p i32) (result i32) (local.get $p))";
        let body = format!(
            "(call $copy (local.get $ptr)) (call $other (i32.const 8))
             (local.set $x (call $id (local.get $ptr))) {COPY_X}
             (local.set $x (call $id (i32.const 8))) {COPY_CONST}"
        );
        // $id returns an argument address for one caller, so for every caller.
        assert_eq!(copies(&module(functions, &body)), [true, false, true, false]);
        // Returned by a branch out of the body, and by `return`.
        for give in ["(br 0 (local.get $p))", "(return (local.get $p))"] {
            let functions = format!("(func $id (param $p i32) (result i32) {give})");
            let body = format!("(local.set $x (call $id (local.get $ptr))) {COPY_X}");
            assert_eq!(copies(&module(&functions, &body)), [true], "{give}");
        }
    }

    #[test]
    fn an_argument_address_out_of_reach_makes_every_copy_read_them() {
        for escape in [
            "(i32.store (i32.const 0) (local.get $ptr))",
            "(i64.store (i32.const 0) (i64.extend_i32_u (local.get $ptr)))",
            "(global.set $g (local.get $ptr))",
            "(memory.fill (i32.const 0) (local.get $ptr) (i32.const 4))",
            "(call_indirect (type $t) (local.get $ptr) (i32.const 0))",
        ] {
            assert_eq!(copies(&module("", &format!("{escape} {COPY_CONST}"))), [true], "{escape}");
        }
        // An address argument of a store is no escape.
        let store = format!("(i32.store (local.get $ptr) (i32.const 0)) {COPY_CONST}");
        assert_eq!(copies(&module("", &store)), [false]);
    }

    #[test]
    fn without_entries_no_copy_reads_the_arguments() {
        let wasm = wat::parse_str(module("", COPY_PTR)).unwrap();
        let module = Module::parse(&wasm, &Options::default()).unwrap();
        let analysis = ArgumentCopies::analyse(&module, &[]).unwrap();
        assert_eq!(analysis, ArgumentCopies { every: false, at: vec![Default::default()] });
    }
}

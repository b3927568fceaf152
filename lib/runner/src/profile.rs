//! The gas profiler: where a run's gas goes, by function and by call stack.
//!
//! A profiled run goes through the traced interpreter ([`Instance::run_traced`]), so the fast
//! path pays nothing for it. Every instruction's gas (and a host call's, charged before
//! the next instruction) goes to the function whose code holds the instruction, in the
//! call stack it runs in; so the self gas of all functions sums to the run's gas.
//!
//! Functions are named by a symbol map (`pvm_isa::symbols`, which `jam-pack` writes
//! beside the `.jam`); without one, every static call target starts a function named
//! `@PC`. Calls are `load_imm_jump ra, …` and `load_imm_jump_ind ra, …` (the callee is
//! the function of the next instruction); a dynamic jump to the return address a call
//! left in `ra` returns to the caller (also from deeper frames, for code that unwinds).
//! A jump into another function without a call (a shared trap, a tail jump) counts in
//! a frame of that function under the one it left.

use crate::host::{Host, HostAction};
use crate::instance::Instance;
use crate::interpreter::Step;
use crate::program::Program;
use crate::state::Status;
use pvm_isa::{Args, Opcode, Reg, SymbolMap};
use std::collections::HashMap;
use std::fmt::Write as _;

/// A node of the call tree: one function in one call stack.
#[derive(Debug, Clone)]
struct Node {
    function: u32,
    parent: u32,
    /// Gas of instructions run in this node itself.
    gas: u64,
    /// Calls that entered this node.
    calls: u64,
}

/// An active call: where it returns to and what was running before.
#[derive(Debug, Clone)]
struct Frame {
    return_address: u32,
    caller: u32,
    caller_base: u32,
}

/// No node / no function.
const NONE: u32 = u32::MAX;

/// Collects a profile from the steps of a traced run.
#[derive(Debug, Clone)]
pub struct Profiler {
    names: Vec<String>,
    /// Function index of every code offset (one past the end included).
    function_at: Vec<u32>,
    nodes: Vec<Node>,
    children: HashMap<(u32, u32), u32>,
    frames: Vec<Frame>,
    /// The node the next instruction's gas goes to.
    current: u32,
    /// The node the current call entered (jumps to other functions hang below it).
    base: u32,
    /// The previous instruction was a call: the next one enters the callee.
    calling: bool,
    /// Gas left after the last accounted step.
    gas: i64,
}

/// One function's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionProfile {
    /// The name.
    pub name: String,
    /// Gas of its own instructions.
    pub self_gas: u64,
    /// Gas of its own instructions and of everything it called (recursion counted once).
    pub total_gas: u64,
    /// Times it was called.
    pub calls: u64,
}

/// A finished profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Every function that ran, by self gas (highest first), then name.
    pub functions: Vec<FunctionProfile>,
    /// Folded stacks: `caller;callee` paths with the gas spent in the last function of
    /// each, in first-run order (the input of flame-graph tools).
    pub folded: Vec<(String, u64)>,
    /// Gas the run used.
    pub gas: u64,
}

impl Profiler {
    /// A profiler for `program`, which starts at code offset `pc` with `gas`, naming
    /// functions by `symbols` (or by static call targets when there are none).
    pub fn new(program: &Program, symbols: Option<&SymbolMap>, pc: u32, gas: i64) -> Profiler {
        let code_len = program.op_at.len().saturating_sub(1) as u32;
        let starts: Vec<(u32, String)> = match symbols {
            Some(map) if !map.is_empty() => map.symbols().iter().map(|s| (s.offset, s.name.clone())).collect(),
            _ => {
                let mut targets: Vec<u32> = program
                    .instructions
                    .iter()
                    .flatten()
                    .filter_map(|i| match (i.opcode, i.args) {
                        (Opcode::LoadImmJump, Args::RegImmOffset(r, _, target)) if r == Reg::RA => Some(target),
                        _ => None,
                    })
                    .chain([0, pc])
                    .filter(|&t| t <= code_len)
                    .collect();
                targets.sort_unstable();
                targets.dedup();
                targets.into_iter().map(|t| (t, format!("@{t}"))).collect()
            }
        };
        let mut names: Vec<String> = Vec::with_capacity(starts.len() + 1);
        let mut function_at = vec![NONE; code_len as usize + 1];
        for (k, (offset, name)) in starts.iter().enumerate() {
            let end = starts.get(k + 1).map_or(code_len + 1, |(next, _)| *next).min(code_len + 1);
            if *offset < end {
                function_at[*offset as usize..end as usize].fill(names.len() as u32);
            }
            names.push(name.clone());
        }
        // Code before the first named function (and offsets outside the code).
        let unnamed = names.len() as u32;
        names.push("(no function)".to_string());
        for f in &mut function_at {
            if *f == NONE {
                *f = unnamed;
            }
        }
        let root = Node { function: NONE, parent: NONE, gas: 0, calls: 0 };
        let mut profiler = Profiler {
            names,
            function_at,
            nodes: vec![root],
            children: HashMap::new(),
            frames: Vec::new(),
            current: 0,
            base: 0,
            calling: false,
            gas,
        };
        let first = profiler.child(0, profiler.function_of(pc));
        profiler.nodes[first as usize].calls = 1;
        profiler.current = first;
        profiler.base = first;
        profiler
    }

    fn function_of(&self, pc: u32) -> u32 {
        self.function_at.get(pc as usize).copied().unwrap_or(*self.function_at.last().expect("never empty"))
    }

    fn child(&mut self, parent: u32, function: u32) -> u32 {
        if let Some(&node) = self.children.get(&(parent, function)) {
            return node;
        }
        let node = self.nodes.len() as u32;
        self.nodes.push(Node { function, parent, gas: 0, calls: 0 });
        self.children.insert((parent, function), node);
        node
    }

    /// Accounts one executed instruction.
    pub fn step(&mut self, step: &Step) {
        let function = self.function_of(step.pc);
        if self.calling {
            self.calling = false;
            self.base = self.child(self.current, function);
            self.current = self.base;
            self.nodes[self.current as usize].calls += 1;
        } else if self.nodes[self.current as usize].function != function {
            // Entered another function without a call: under the frame's own node.
            let base_function = self.nodes[self.base as usize].function;
            self.current = if base_function == function { self.base } else { self.child(self.base, function) };
        }
        self.nodes[self.current as usize].gas += (self.gas - step.gas).max(0) as u64;
        self.gas = step.gas;
        let Some(instruction) = step.instruction else { return };
        let jump_address = match (instruction.opcode, instruction.args) {
            (Opcode::LoadImmJump, Args::RegImmOffset(r, _, _)) if r == Reg::RA => {
                self.call(step);
                return;
            }
            (Opcode::LoadImmJumpInd, Args::RegRegImmImm(a, b, _, y)) => {
                let address = step.before[usize::from(b.index())].wrapping_add(y) as u32;
                if a == Reg::RA {
                    self.call(step);
                    return;
                }
                address
            }
            (Opcode::JumpInd, Args::RegImm(r, x)) => step.before[usize::from(r.index())].wrapping_add(x) as u32,
            _ => return,
        };
        if let Some(depth) = self.frames.iter().rposition(|f| f.return_address == jump_address) {
            let frame = self.frames[depth].clone();
            self.frames.truncate(depth);
            self.current = frame.caller;
            self.base = frame.caller_base;
        }
    }

    fn call(&mut self, step: &Step) {
        self.frames.push(Frame {
            return_address: step.after[usize::from(Reg::RA.index())] as u32,
            caller: self.current,
            caller_base: self.base,
        });
        self.calling = true;
    }

    /// Ends the run with `gas` left (gas charged after the last step, by a host call or
    /// an out-of-gas stop, goes to the function that was running).
    pub fn finish(mut self, gas: i64) -> Profile {
        self.nodes[self.current as usize].gas += (self.gas - gas).max(0) as u64;
        let n = self.nodes.len();
        // Children come after their parents: one backward pass sums subtrees.
        let mut subtree: Vec<u64> = self.nodes.iter().map(|node| node.gas).collect();
        for k in (1..n).rev() {
            let parent = self.nodes[k].parent as usize;
            subtree[parent] += subtree[k];
        }
        let mut functions: Vec<FunctionProfile> = self
            .names
            .iter()
            .map(|name| FunctionProfile { name: name.clone(), self_gas: 0, total_gas: 0, calls: 0 })
            .collect();
        let mut ran = vec![false; self.names.len()];
        let mut paths: Vec<String> = vec![String::new(); n];
        let mut folded = Vec::new();
        for k in 1..n {
            let node = &self.nodes[k];
            let f = node.function as usize;
            let parent = node.parent as usize;
            let name = self.names[f].replace(';', ":").replace(['\n', '\r'], " ");
            paths[k] = if parent == 0 { name } else { format!("{};{name}", paths[parent]) };
            ran[f] |= node.gas > 0 || node.calls > 0;
            functions[f].self_gas += node.gas;
            functions[f].calls += node.calls;
            // Recursion: only the outermost node of a function on a path counts in total.
            let mut ancestor = node.parent;
            let mut outermost = true;
            while ancestor != 0 {
                if self.nodes[ancestor as usize].function == node.function {
                    outermost = false;
                    break;
                }
                ancestor = self.nodes[ancestor as usize].parent;
            }
            if outermost {
                functions[f].total_gas += subtree[k];
            }
            if node.gas > 0 {
                folded.push((paths[k].clone(), node.gas));
            }
        }
        let mut functions: Vec<FunctionProfile> =
            functions.into_iter().zip(ran).filter_map(|(f, ran)| ran.then_some(f)).collect();
        functions.sort_by(|a, b| b.self_gas.cmp(&a.self_gas).then_with(|| a.name.cmp(&b.name)));
        Profile { functions, folded, gas: subtree[0] }
    }
}

/// Runs until the machine stops for good, as [`Instance::run_with_host`] does, profiling.
pub fn run_profiled(vm: &mut Instance, host: &mut dyn Host, symbols: Option<&SymbolMap>) -> (Status, Profile) {
    let mut profiler = Profiler::new(vm.program(), symbols, vm.pc(), vm.state().gas());
    loop {
        let status = vm.run_traced(&mut |step| profiler.step(&step));
        match status {
            Status::Host(index) if host.call(index, vm.state_mut()) == HostAction::Resume => {
                vm.resume_after_host_call()
            }
            _ => return (status, profiler.finish(vm.state().gas())),
        }
    }
}

impl Profile {
    /// The table `pvm-run --profile` prints: every function by self gas, with its share
    /// of the run, its total gas and its calls.
    pub fn table(&self) -> String {
        let share = |gas: u64| if self.gas == 0 { 0.0 } else { 100.0 * gas as f64 / self.gas as f64 };
        let mut out = format!(
            "{:>14} {:>6} {:>14} {:>6} {:>10}  function\n",
            "self gas", "self%", "total gas", "total%", "calls"
        );
        for f in &self.functions {
            let _ = writeln!(
                out,
                "{:>14} {:>5.1}% {:>14} {:>5.1}% {:>10}  {}",
                f.self_gas,
                share(f.self_gas),
                f.total_gas,
                share(f.total_gas),
                f.calls,
                f.name
            );
        }
        let _ = writeln!(out, "{:>14} {:>5.1}%  gas used by the run", self.gas, share(self.gas));
        out
    }

    /// The folded stacks, one `path gas` line each.
    pub fn folded_text(&self) -> String {
        self.folded.iter().map(|(path, gas)| format!("{path} {gas}\n")).collect()
    }

    /// An SVG flame graph of the folded stacks, titled `title`.
    pub fn flame_graph(&self, title: &str) -> std::io::Result<Vec<u8>> {
        let mut options = inferno::flamegraph::Options::default();
        options.title = title.to_string();
        options.count_name = "gas".to_string();
        let text = self.folded_text();
        let mut svg = Vec::new();
        inferno::flamegraph::from_lines(&mut options, text.lines(), &mut svg)?;
        Ok(svg)
    }
}

//! Compilation options and the import map (`--imports FILE`).

use crate::error::{CompileError, Result};
use std::collections::HashMap;

/// The largest stack `--stack-size` may ask for: the SPI stack field holds at most
/// [`pvm_isa::spi::MAX_E3`] bytes, and the stack plus the globals is rounded up to whole
/// pages, so the stack alone is at most that rounded down to a page (the globals must fit
/// beside it, which the layout checks).
pub const MAX_STACK_SIZE: u32 = pvm_isa::spi::MAX_E3 / pvm_isa::spi::PAGE_SIZE * pvm_isa::spi::PAGE_SIZE;

/// What an imported function becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportAction {
    /// A trap.
    Trap,
    /// A call that does nothing and returns zero.
    Nop,
    /// A host call `ecalli N`: arguments in r7..r12, result in r7.
    Ecalli(u32),
    /// The JAM host call `jam.NAME` with index N (`pvm_isa::host_call`): as `Ecalli`, and
    /// the arguments that are memory addresses become PVM addresses.
    JamHostCall(u32),
    /// Returns r8 as the most recent host call left it.
    HostR8,
}

/// LLVM optimisation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No LLVM optimisation beyond what instruction selection needs (SSA promotion).
    O0,
    /// `default<O1>`.
    O1,
    /// `default<O2>` (the default).
    #[default]
    O2,
    /// `default<O3>`.
    O3,
    /// `default<Os>`.
    Os,
    /// `default<Oz>`.
    Oz,
}

/// An optimisation that can be switched off (`wasm2pvm --no-opt NAME`), for debugging
/// and to check that the code is right without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimization {
    /// LLVM's optimisation pipeline (off: as `-O0`, only SSA promotion).
    Llvm,
    /// LLVM inlining (off: no function is inlined).
    Inline,
    /// The memory base and constant offsets folded into the immediate of each load and
    /// store (off: every address is computed into a register first).
    FoldAddress,
    /// Constant operands as immediates (off: every constant is loaded into a register).
    Immediates,
    /// Compares fused into their branch or select (off: the compare makes a 0/1 value
    /// that the branch or select tests).
    FuseCompare,
    /// Selects as conditional moves (off: selects computed with masks).
    Cmov,
    /// Zero extensions left out where the value is known non-negative or was loaded
    /// zero-extended (off: every zero extension is computed).
    KnownBits,
    /// Copies and fills of up to 32 constant bytes as loads and stores (off: every copy and
    /// fill calls the runtime routine).
    InlineMemory,
    /// Block layout: fall-through instead of jumps to the next block, branches to blocks
    /// that only jump retargeted, and a loop's back edge as the conditional branch (off:
    /// every block ends in an explicit jump).
    Fallthrough,
    /// 64-bit constants that a small loop needs in a register are loaded once, in the
    /// loop's preheader (off: in every block that uses them).
    LoopConstants,
    /// The values a loop carries to its next iteration are copied before its closing
    /// branch, so each shares its phi's register and no move runs on the back edge (off:
    /// the register allocator's moves on the back edge).
    LoopCarried,
    /// Instructions whose result nothing reads are removed after instruction selection
    /// (off: they stay, and run).
    DeadCode,
    /// A reload of a spilled value that a register already holds is left out, or a move
    /// from the register holding it (off: every reload the register allocator places
    /// loads from the stack).
    Reloads,
    /// An argument read at `args_ptr + i`, with `i` a loop counter that its loop's exit
    /// test keeps below the arguments' length, is not checked (off: every such read is
    /// checked on `i`).
    LoopRange,
    /// The start function runs at compile time where its outcome is sure to be every
    /// run's, and its result becomes the module's initial memory and globals (off: it runs
    /// at the start of every run).
    StartEval,
    /// At `-O2`, a function whose every call runs in a loop, and that inlining copies at
    /// most once more, is always inlined (off: LLVM's inliner decides by size alone).
    HotCalls,
    /// A load of what its block has just stored at or loaded from the same address takes
    /// that value (off: it reads memory again).
    RepeatedLoads,
    /// At `-Oz`, a constant that another register holds give or take a delta shorter
    /// than the constant is added to that register's value instead of loaded: the same
    /// gas in fewer bytes (off: every constant is loaded whole).
    ConstantDeltas,
    /// An address check of a phi (or of one operation on it) that every edge into the
    /// phi's block has done already, on a constant or in the predecessor, is left out
    /// (off: the address is computed and checked again).
    PhiChecks,
}

impl Optimization {
    /// Every optimisation, in the order of `--help`.
    pub const ALL: [Optimization; 19] = [
        Optimization::Llvm,
        Optimization::Inline,
        Optimization::FoldAddress,
        Optimization::Immediates,
        Optimization::FuseCompare,
        Optimization::Cmov,
        Optimization::KnownBits,
        Optimization::InlineMemory,
        Optimization::Fallthrough,
        Optimization::LoopConstants,
        Optimization::LoopCarried,
        Optimization::DeadCode,
        Optimization::Reloads,
        Optimization::LoopRange,
        Optimization::StartEval,
        Optimization::HotCalls,
        Optimization::RepeatedLoads,
        Optimization::ConstantDeltas,
        Optimization::PhiChecks,
    ];

    /// The name `--no-opt` takes.
    pub fn name(self) -> &'static str {
        match self {
            Optimization::Llvm => "llvm",
            Optimization::Inline => "inline",
            Optimization::FoldAddress => "fold-address",
            Optimization::Immediates => "immediates",
            Optimization::FuseCompare => "fuse-compare",
            Optimization::Cmov => "cmov",
            Optimization::KnownBits => "known-bits",
            Optimization::InlineMemory => "inline-memory",
            Optimization::Fallthrough => "fallthrough",
            Optimization::LoopConstants => "loop-constants",
            Optimization::LoopCarried => "loop-carried",
            Optimization::DeadCode => "dead-code",
            Optimization::Reloads => "reloads",
            Optimization::LoopRange => "loop-range",
            Optimization::StartEval => "start-eval",
            Optimization::HotCalls => "hot-calls",
            Optimization::RepeatedLoads => "repeated-loads",
            Optimization::ConstantDeltas => "constant-deltas",
            Optimization::PhiChecks => "phi-checks",
        }
    }

    /// The optimisation a name stands for.
    pub fn from_name(name: &str) -> Option<Optimization> {
        Optimization::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// The set of optimisations switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Optimizations(u32);

impl Optimizations {
    /// Every optimisation on.
    pub fn all() -> Self {
        Optimizations(Optimization::ALL.iter().fold(0, |bits, &o| bits | Self::bit(o)))
    }

    /// Every optimisation off.
    pub fn none() -> Self {
        Optimizations(0)
    }

    fn bit(o: Optimization) -> u32 {
        1 << o as u32
    }

    /// Whether `o` is on.
    pub fn enabled(self, o: Optimization) -> bool {
        self.0 & Self::bit(o) != 0
    }

    /// Switches `o` off.
    pub fn disable(&mut self, o: Optimization) {
        self.0 &= !Self::bit(o);
    }
}

impl Default for Optimizations {
    fn default() -> Self {
        Optimizations::all()
    }
}

/// Options of one compilation.
#[derive(Debug, Clone)]
pub struct Options {
    /// LLVM optimisation level.
    pub opt_level: OptLevel,
    /// The optimisations switched on.
    pub optimizations: Optimizations,
    /// Compile floating-point arithmetic to traps instead of software routines.
    pub trap_floats: bool,
    /// Reject imports that neither the import map nor the built-in conventions know.
    pub strict_imports: bool,
    /// The import map: `(module, field)` → action.
    pub imports: HashMap<(String, String), ImportAction>,
    /// Values of imported globals, keyed `module.field`.
    pub imported_globals: HashMap<String, u64>,
    /// Size of an imported memory, (initial, maximum) pages; the module's declared
    /// limits when `None`.
    pub imported_memory: Option<(u64, Option<u64>)>,
    /// Size of an imported table; the declared minimum when `None`.
    pub imported_table_size: Option<u64>,
    /// Stack size in bytes; a program whose calls cannot recur declares only what its
    /// deepest call chain needs when that is less (`backend::stack_depth`).
    pub stack_size: u32,
    /// Check every memory access so that an address outside linear memory traps wherever
    /// it lands (docs/memory.md). Off (`--no-wild-address-traps`), only accesses with an
    /// offset are checked (against wrapping past 4 GiB), and an address far out of bounds
    /// may reach the stack, the globals, the arguments or the read-only data.
    pub wild_address_traps: bool,
    /// Validate the SSA form of every function and verify its register allocation with
    /// regalloc2's checker (`--verify-allocation`; slow, for tests: tests/checked.rs).
    pub verify_allocation: bool,
    /// What the program does when it starts.
    pub entry: EntryKind,
    /// The exported functions entered at pc 0, 5, 10, … (`--entry`); empty for the
    /// conventions of [`crate::wasm::entries`].
    pub entries: Vec<String>,
    /// Return the result as the Gray Paper reads it, `r8` = its length, instead of as the
    /// reference implementation does, `r8` = its end address (`--gp`).
    pub gray_paper_result: bool,
    /// The number of parts LLVM optimises a module in, each on a thread of its own
    /// (`--jobs`, [`crate::wasm::partition`]); `None` for [`AUTO_JOBS`] on a module of
    /// [`AUTO_JOBS_FUNCTIONS`] functions or more, else one.
    pub jobs: Option<usize>,
}

/// The parts a large module is split into when [`Options::jobs`] is not given.
pub const AUTO_JOBS: usize = 2;
/// The fewest functions a module must define to be split when [`Options::jobs`] is not
/// given: a smaller one compiles in a few milliseconds on one thread.
pub const AUTO_JOBS_FUNCTIONS: usize = 64;

/// What a compiled program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntryKind {
    /// The start function, then the exported entry function of the slot the program
    /// starts at: `main`, a service's `refine` and `accumulate`, or those of `entries`
    /// (see `docs/abi.md`).
    #[default]
    Main,
    /// A test harness: the start function, then a loop that asks the host (with
    /// [`crate::abi::HARNESS_ECALLI`]) which exported function to call, calls it with the
    /// arguments in the mailbox and leaves the results there. See [`crate::abi`].
    Harness,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            opt_level: OptLevel::O2,
            optimizations: Optimizations::all(),
            trap_floats: false,
            strict_imports: false,
            imports: HashMap::new(),
            imported_globals: HashMap::new(),
            imported_memory: None,
            imported_table_size: None,
            stack_size: 64 * 1024,
            wild_address_traps: true,
            verify_allocation: false,
            entry: EntryKind::Main,
            entries: Vec::new(),
            gray_paper_result: false,
            jobs: None,
        }
    }
}

impl Options {
    /// The number of parts to split a module that defines `functions` functions into
    /// ([`Options::jobs`]).
    pub fn parts(&self, functions: usize) -> usize {
        match self.jobs {
            Some(jobs) => jobs.max(1),
            None if functions >= AUTO_JOBS_FUNCTIONS => AUTO_JOBS,
            None => 1,
        }
    }

    /// Whether optimisation `o` is on.
    pub fn enabled(&self, o: Optimization) -> bool {
        self.optimizations.enabled(o)
    }

    /// The optimisations the back end applies: those switched on, less the ones that
    /// trade nothing but bytes where the level is not `-Oz` (`constant-deltas`).
    pub fn back_end_optimizations(&self) -> Optimizations {
        let mut optimizations = self.optimizations;
        if self.opt_level != OptLevel::Oz {
            optimizations.disable(Optimization::ConstantDeltas);
        }
        optimizations
    }

    /// The action for an import: the import map first, then the built-in conventions
    /// (`env.abort` traps; `pvm.ecalli_N` is host call N; `pvm.host_r8` reads r8;
    /// `jam.NAME` is the JAM host call of that name).
    pub fn import_action(&self, module: &str, field: &str) -> Option<ImportAction> {
        if let Some(&action) = self.imports.get(&(module.to_string(), field.to_string())) {
            return Some(action);
        }
        match (module, field) {
            ("env", "abort") => Some(ImportAction::Trap),
            ("pvm", "host_r8") => Some(ImportAction::HostR8),
            ("pvm", f) => f.strip_prefix("ecalli_").and_then(|n| n.parse().ok()).map(ImportAction::Ecalli),
            ("jam", f) => pvm_isa::host_call::by_name(f).map(|call| ImportAction::JamHostCall(call.index)),
            _ => None,
        }
    }

    /// Adds the entries of an import map text: one `module.field = trap | nop | ecalli N`
    /// per line; `#` starts a comment. `source` names the text in errors.
    pub fn add_import_map(&mut self, text: &str, source: &str) -> Result<()> {
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |why: &str| CompileError::new(format!("{source}:{}: {why}: {line}", number + 1));
            let (name, action) = line.split_once('=').ok_or_else(|| err("expected `module.field = action`"))?;
            let (module, field) =
                name.trim().split_once('.').ok_or_else(|| err("expected `module.field` before `=`"))?;
            let words: Vec<&str> = action.split_whitespace().collect();
            let action = match words.as_slice() {
                ["trap"] => ImportAction::Trap,
                ["nop"] => ImportAction::Nop,
                ["ecalli", n] => {
                    ImportAction::Ecalli(n.parse().map_err(|_| err("the host-call index must be a number"))?)
                }
                _ => return Err(err("the action must be `trap`, `nop` or `ecalli N`")),
            };
            self.imports.insert((module.trim().to_string(), field.trim().to_string()), action);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_map_entries_and_defaults() {
        let mut options = Options::default();
        options
            .add_import_map(
                "# host calls\nenv.console.log = nop\nenv.abort=ecalli 7\n\nhost.now = trap # clock\n",
                "map",
            )
            .unwrap();
        assert_eq!(options.import_action("env", "console.log"), Some(ImportAction::Nop));
        assert_eq!(options.import_action("env", "abort"), Some(ImportAction::Ecalli(7)));
        assert_eq!(options.import_action("host", "now"), Some(ImportAction::Trap));
        assert_eq!(options.import_action("pvm", "ecalli_100"), Some(ImportAction::Ecalli(100)));
        assert_eq!(options.import_action("pvm", "host_r8"), Some(ImportAction::HostR8));
        assert_eq!(options.import_action("jam", "write"), Some(ImportAction::JamHostCall(4)));
        assert_eq!(options.import_action("jam", "log"), Some(ImportAction::JamHostCall(100)));
        assert_eq!(options.import_action("jam", "nope"), None);
        assert_eq!(options.import_action("env", "seed"), None);
        assert_eq!(Options::default().import_action("env", "abort"), Some(ImportAction::Trap));
    }

    #[test]
    fn optimizations_switch_off_one_by_one() {
        let mut set = Optimizations::all();
        assert!(Optimization::ALL.iter().all(|&o| set.enabled(o)));
        set.disable(Optimization::Cmov);
        assert!(!set.enabled(Optimization::Cmov));
        assert!(set.enabled(Optimization::Fallthrough) && set.enabled(Optimization::Llvm));
        assert!(Optimization::ALL.iter().all(|&o| !Optimizations::none().enabled(o)));
        for o in Optimization::ALL {
            assert_eq!(Optimization::from_name(o.name()), Some(o));
        }
        assert_eq!(Optimization::from_name("all"), None);
    }

    #[test]
    fn import_map_errors_name_the_line() {
        let mut options = Options::default();
        let e = options.add_import_map("env.a = nop\nenv.b = jump\n", "imports.txt").unwrap_err();
        assert_eq!(e.to_string(), "imports.txt:2: the action must be `trap`, `nop` or `ecalli N`: env.b = jump");
        let e = options.add_import_map("abort = trap", "m").unwrap_err();
        assert_eq!(e.to_string(), "m:1: expected `module.field` before `=`: abort = trap");
    }
}

//! [`Instance`]: a loaded program and its machine state — the runner's API. It runs on
//! the [`Engine`] it was given (the interpreter, or the native engine where supported);
//! resuming after host calls, the exit code and the result are defined here once for
//! every engine, as is how a run's outcome is reported under the [`Semantics`] it was
//! loaded with (gas after out-of-gas, pc after a halt or panic, the host-call index, the
//! result).

use crate::host::{Host, HostAction};
use crate::interpreter::{self, Step};
use crate::load::{self, LoadError};
use crate::memory::Memory;
use crate::program::Program;
use crate::semantics::Semantics;
use crate::state::{State, Status};
use pvm_isa::container::InputForm;
use std::sync::Arc;

/// Which engine runs an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The interpreter.
    Interpreter,
    /// The native engine (x86-64 Linux only).
    Native,
    /// The interpreter first; where the native engine is supported, a run that goes on
    /// long enough to pay for the translation continues on it.
    Auto,
}

/// Why an engine cannot run an instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The native engine does not exist on this platform.
    #[error("the native engine runs only on x86-64 Linux")]
    Unsupported,
    /// The native code could not be made.
    #[error("cannot translate to native code: {0}")]
    Translation(String),
}

/// Whether this build has the native engine.
pub const NATIVE_SUPPORTED: bool = cfg!(all(target_arch = "x86_64", target_os = "linux"));

/// `Auto` interprets this much gas per op of the program (plus [`AUTO_BASE_GAS`]) before it
/// translates: a run that short is over before the translation would pay for itself.
const AUTO_GAS_PER_OP: i64 = 128;
/// Gas `Auto` interprets in any program before it translates.
const AUTO_BASE_GAS: i64 = 100_000;

/// The engine an instance runs on.
#[derive(Debug, Clone)]
enum Backend {
    Interpreter,
    /// The interpreter for this much more gas, then the native engine.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    Tiered(i64),
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    Native(Arc<crate::native::Native>),
}

/// A program with its machine state.
#[derive(Debug, Clone)]
pub struct Instance {
    program: Arc<Program>,
    state: State,
    backend: Backend,
    /// Why the Gray Paper's decoding rejects the program, whose run then panics at once.
    rejected: Option<String>,
    /// How the last run stopped, until execution moves on.
    stopped: Option<Status>,
}

impl Instance {
    /// An instance of `program` in `state` (built for this program), on the interpreter;
    /// the state's memory carries the semantics.
    pub fn new(program: Program, state: State) -> Self {
        Instance { program: Arc::new(program), state, backend: Backend::Interpreter, rejected: None, stopped: None }
    }

    /// What [`load`](Self::load) gives under the Gray Paper for a program its decoding
    /// rejects: an instance whose run panics before any instruction, with no gas used.
    fn rejected(reason: String, gas: i64) -> Self {
        let program = Program::empty();
        let mut memory = Memory::new();
        memory.semantics = Semantics::GrayPaper;
        let state = State::new(&program, [0; 13], memory, gas, 0);
        Instance { rejected: Some(reason), ..Self::new(program, state) }
    }

    fn from_loaded(loaded: load::Loaded, gas: i64) -> Self {
        match loaded {
            Ok((program, state)) => Self::new(program, state),
            Err(reason) => Self::rejected(reason, gas),
        }
    }

    /// The semantics the instance was loaded with.
    pub fn semantics(&self) -> Semantics {
        self.state.memory.semantics
    }

    /// Why the Gray Paper's decoding rejects the program (a file that does not decode, a
    /// blob that does not decompose exactly), if it does: its run panics at once, with no
    /// gas used, at pc 0.
    pub fn rejection(&self) -> Option<&str> {
        self.rejected.as_deref()
    }

    /// Chooses the engine.
    pub fn set_engine(&mut self, engine: Engine) -> Result<(), EngineError> {
        self.backend = match engine {
            Engine::Interpreter => Backend::Interpreter,
            Engine::Native => self.native_backend()?,
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            Engine::Auto => {
                Backend::Tiered(AUTO_BASE_GAS.saturating_add(AUTO_GAS_PER_OP * self.program.ops.len() as i64))
            }
            #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
            Engine::Auto => Backend::Interpreter,
        };
        Ok(())
    }

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn native_backend(&self) -> Result<Backend, EngineError> {
        let native =
            crate::native::Native::translate(&self.program).map_err(|e| EngineError::Translation(e.to_string()))?;
        Ok(Backend::Native(Arc::new(native)))
    }

    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    fn native_backend(&self) -> Result<Backend, EngineError> {
        Err(EngineError::Unsupported)
    }

    /// The engine this instance runs on now (`Auto` while it has not switched yet).
    pub fn engine(&self) -> Engine {
        match self.backend {
            Backend::Interpreter => Engine::Interpreter,
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            Backend::Tiered(_) => Engine::Auto,
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            Backend::Native(_) => Engine::Native,
        }
    }

    /// Loads a file in container form `form` with arguments and gas, at pc 0: the
    /// standard program initialisation for a `.jam` or SPI container; for a bare blob no
    /// memory and all registers zero (then `args` must be empty).
    /// Reference semantics.
    pub fn load(bytes: &[u8], form: InputForm, args: &[u8], gas: i64) -> Result<Self, LoadError> {
        Self::load_under(bytes, form, args, gas, Semantics::Reference)
    }

    /// [`load`](Self::load) under `semantics`. Under the Gray Paper a file that does not
    /// decode, or whose blob the paper's deblob rejects, loads as a program that panics
    /// at once ([`rejection`](Self::rejection) says why); only arguments that do not fit
    /// are an error.
    pub fn load_under(
        bytes: &[u8],
        form: InputForm,
        args: &[u8],
        gas: i64,
        semantics: Semantics,
    ) -> Result<Self, LoadError> {
        Ok(Self::from_loaded(load::load(bytes, form, args, gas, semantics)?, gas))
    }

    /// The test-vector model: a bare blob with given registers, pages
    /// `(address, length, writable)`, initial memory chunks, gas and pc, under `semantics`
    /// (a blob rejected as by [`load_under`](Self::load_under)).
    pub fn with_pages(
        blob: &[u8],
        regs: [u64; 13],
        pages: &[(u32, u32, bool)],
        chunks: &[(u32, Vec<u8>)],
        gas: i64,
        pc: u32,
        semantics: Semantics,
    ) -> Result<Self, LoadError> {
        Ok(Self::from_loaded(load::with_pages(blob, regs, pages, chunks, gas, pc, semantics)?, gas))
    }

    /// The decoded program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The machine state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The machine state, to change (registers, memory, gas).
    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// The code offset of the next instruction, or of the one that stopped the machine
    /// — except under the Gray Paper after a HALT or PANIC, which report pc 0 (GP eq. A.1).
    pub fn pc(&self) -> u32 {
        match (self.semantics(), self.stopped) {
            (Semantics::GrayPaper, Some(Status::Halt | Status::Panic)) => 0,
            _ => self.state.pc(&self.program),
        }
    }

    /// Moves execution to code offset `pc`.
    pub fn set_pc(&mut self, pc: u32) {
        self.stopped = None;
        self.state.set_pc(&self.program, pc);
    }

    /// Runs until the machine stops.
    pub fn run(&mut self) -> Status {
        let status = if self.rejected.is_some() { Status::Panic } else { self.run_engine() };
        self.stopped(status)
    }

    /// Records how a run stopped; under the Gray Paper an out-of-gas run also pays for
    /// the instruction it could not (the gas goes negative, GP eq. A.1; the reference
    /// leaves it at what was left).
    fn stopped(&mut self, status: Status) -> Status {
        if status == Status::OutOfGas && self.semantics() == Semantics::GrayPaper {
            self.state.gas -= 1;
        }
        self.stopped = Some(status);
        status
    }

    fn run_engine(&mut self) -> Status {
        match &self.backend {
            Backend::Interpreter => interpreter::run(&self.program, &mut self.state),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            &Backend::Tiered(budget) => {
                let gas = self.state.gas;
                if gas <= budget {
                    self.backend = Backend::Tiered(budget - gas);
                    return interpreter::run(&self.program, &mut self.state);
                }
                // Interpret with the gas capped at the budget: out of that gas the machine
                // stops before an instruction, exactly where it would go on with more.
                self.state.gas = budget;
                let status = interpreter::run(&self.program, &mut self.state);
                let used = budget - self.state.gas.max(0);
                self.state.gas = gas - used;
                if status != Status::OutOfGas {
                    self.backend = Backend::Tiered(budget - used);
                    return status;
                }
                match self.native_backend() {
                    Ok(native) => self.backend = native,
                    Err(_) => self.backend = Backend::Interpreter,
                }
                self.run_engine()
            }
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            Backend::Native(native) => crate::native::run(native, &self.program, &mut self.state),
        }
    }

    /// Runs on the interpreter, charging and reporting every instruction separately.
    pub fn run_traced(&mut self, trace: &mut dyn FnMut(Step)) -> Status {
        let status = if self.rejected.is_some() {
            Status::Panic
        } else {
            interpreter::run_traced(&self.program, &mut self.state, trace)
        };
        self.stopped(status)
    }

    /// Runs until the machine stops for good: host calls go to `host` until it says stop.
    pub fn run_with_host(&mut self, host: &mut dyn Host) -> Status {
        loop {
            let status = self.run();
            match status {
                Status::Host(index) if host.call(index, &mut self.state) == HostAction::Resume => {
                    self.resume_after_host_call()
                }
                _ => return status,
            }
        }
    }

    /// Continues after a host call: at the instruction after the `ecalli`.
    pub fn resume_after_host_call(&mut self) {
        self.stopped = None;
        self.state.resume_after_host_call(&self.program);
    }

    /// The exit code of a run that ended with `status`. As the reference reports it: the
    /// fault address or host-call index (low 32 bits), and after a `trap` instruction the
    /// index of the last host call resumed from (the reference leaves that value in
    /// place); else 0. Under the Gray Paper: the fault address, the host-call index as
    /// the 64-bit sign-extended immediate, else 0.
    pub fn exit_code(&self, status: Status) -> u64 {
        match (self.semantics(), status) {
            (Semantics::Reference, _) => u64::from(self.state.exit_code(&self.program, status)),
            (Semantics::GrayPaper, Status::Host(index)) => index,
            (Semantics::GrayPaper, other) => u64::from(other.exit_code()),
        }
    }

    /// The result of a HALT. As the reference reads it: memory `[r7, r8)` (low 32 bits of
    /// each) when r7 < r8, at most 1 MiB, all readable; else empty. Under the Gray Paper
    /// (eq. A.44): the `r8` bytes at `r7` when they are all readable; else empty.
    pub fn result(&mut self) -> Vec<u8> {
        match self.semantics() {
            Semantics::Reference => self.state.result(),
            Semantics::GrayPaper => {
                let (start, len) = (self.state.regs[7], self.state.regs[8]);
                match (u32::try_from(start), u32::try_from(len)) {
                    (Ok(start), Ok(len)) if u64::from(start) + u64::from(len) <= 1 << 32 => {
                        self.state.memory.read_bytes(start, len).unwrap_or_default()
                    }
                    _ => Vec::new(),
                }
            }
        }
    }
}

//! An exact, fast PVM (Gray Paper v0.7.2) runner.
//!
//! [`Instance`] is the API: a program loaded ([`load`]: SPI, bare blob, test-vector
//! model) with its machine [`State`] (registers, [`memory`], gas, position). Engines
//! share one analysis of the program ([`program`]: instruction starts, basic blocks and
//! their gas, the jump table) and change the state: the [`interpreter`], and on x86-64
//! Linux the native engine (`native`: the program translated to machine code). Host calls
//! go to an embedder's [`Host`], which sees the state; [`script`] is a host for tests that
//! answers from a script and records every call.
//! [`profile`] runs a program with a gas profile by function and call stack.
//!
//! Where the Gray Paper and the reference implementation (anan-as) differ on
//! observable behaviour, the runner follows the reference by default and the paper
//! under [`Semantics::GrayPaper`] ([`semantics`]); `docs/runner.md` lists each case.
//!
//! The only `unsafe` code is the native engine's `native::code` (its invariants are
//! written there).

#![deny(unsafe_code)]

pub mod host;
pub mod instance;
pub mod interpreter;
pub mod load;
pub mod memory;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod native;
pub mod nested;
pub mod profile;
pub mod program;
pub mod script;
pub mod semantics;
pub mod state;

pub use host::{Host, HostAction, LogHost};
pub use instance::{Engine, EngineError, Instance, NATIVE_SUPPORTED};
pub use interpreter::Step;
pub use load::LoadError;
pub use memory::{AccessError, Memory};
pub use profile::{Profile, run_profiled};
pub use program::Program;
pub use pvm_isa::container::InputForm;
pub use script::ScriptedHost;
pub use semantics::Semantics;
pub use state::{State, Status};
